import type pg from 'pg';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import { ProducerQueueFullError } from '@ticketing/shared/messaging/kafka';
import type { Command } from '@ticketing/shared/messaging/messages';
import type { Logger } from '@ticketing/shared/telemetry/logger';

// A 202 means the command is durable: acknowledged by Kafka (acks = all), or, while Kafka
// cannot take it, committed to the Postgres outbox (the transactional-outbox pattern). A relay
// publishes outbox rows in id order once the brokers answer again and deletes each row only
// after Kafka acknowledged it. Duplicates are possible (a publish that timed out may still land)
// and harmless: the reservation service dedupes by booking id and re-checks every command
// against the booking's state.
//
// Order: once this process has written to the outbox, every later command it accepts goes
// there too until the relay has emptied it, so this process's commands reach Kafka in the
// order it accepted them.
//
//   direct ──publish fails or takes longer than fallbackAfterMs──▶ outbox
//   outbox ──relay emptied the table, nothing being written──▶ direct

export class OutboxFullError extends Error {
  readonly code = 'OUTBOX_FULL';
  readonly retriable = true;
}

export interface DurablePublisher extends CommandPublisher {
  readonly mode: 'direct' | 'outbox';
  // Rows waiting in the outbox (all processes), as of the last relay pass.
  readonly depth: number;
  start(): void;
  stop(): Promise<void>;
}

// Any constant: one relay at a time across every ticketing process keeps the publish order.
const relayLockKey = 0x6f757462; // "outb"

export function createDurablePublisher(options: {
  publisher: CommandPublisher;
  pool: pg.Pool;
  logger: Logger;
  fallbackAfterMs: number;
  relayIntervalMs: number;
  relayBatchMax: number;
  rowsMax: number;
}): DurablePublisher {
  const { pool, logger } = options;
  let mode: 'direct' | 'outbox' = 'direct';
  let writing = 0;
  let depth = 0;
  let timer: NodeJS.Timeout | undefined;
  let relaying: Promise<void> | undefined;

  const toOutbox = async (command: Command) => {
    writing += 1;
    try {
      const inserted = await pool.query({
        name: 'outbox.insert',
        text: 'insert into outbox (command) select $1::jsonb where (select count(*) from (select 1 from outbox limit $2) capped) < $2 returning id',
        values: [JSON.stringify(command), options.rowsMax],
      });
      if (inserted.rowCount !== 1) throw new OutboxFullError(`the outbox holds ${options.rowsMax} commands`);
      depth += 1;
    } finally {
      writing -= 1;
    }
  };

  const enterOutboxMode = (error: unknown) => {
    if (mode === 'outbox') return;
    mode = 'outbox';
    logger.error({ err: error }, 'Kafka is not taking commands; accepting into the Postgres outbox');
  };

  const directly = (command: Command) =>
    new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error(`Kafka did not acknowledge within ${options.fallbackAfterMs} ms`)), options.fallbackAfterMs);
      options.publisher.publish(command).then(resolve, reject).finally(() => clearTimeout(timeout));
    });

  const relayPass = async () => {
    const client = await pool.connect();
    // The pass holds this client while it waits on Kafka. A connection cut in that wait is
    // emitted as 'error' on the checked-out client, where nothing else listens: the next query
    // fails with it instead, and a failed pass discards the client rather than pooling it.
    const ignore = () => {};
    client.on('error', ignore);
    let failure: Error | undefined;
    try {
      const locked = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [relayLockKey]);
      if (!locked.rows[0]?.locked) return;
      try {
        for (;;) {
          const rows = await client.query<{ id: string; command: Command }>({
            name: 'outbox.next',
            text: 'select id, command from outbox order by id limit $1',
            values: [options.relayBatchMax],
          });
          depth = rows.rows.length === options.relayBatchMax ? Math.max(depth, rows.rows.length) : rows.rows.length;
          if (rows.rows.length === 0) break;
          // Queued in id order into one produce request (the batch fits one), so Kafka appends
          // them in order; rows are deleted only once every one of them was acknowledged.
          await Promise.all(rows.rows.map((row) => options.publisher.publish(row.command)));
          await client.query({ name: 'outbox.delete', text: 'delete from outbox where id <= $1', values: [rows.rows.at(-1)!.id] });
          logger.info({ relayed: rows.rows.length }, 'outbox relayed to Kafka');
        }
        depth = 0;
        if (mode === 'outbox' && writing === 0) {
          mode = 'direct';
          logger.info('Kafka is taking commands again; outbox empty');
        }
      } finally {
        await client.query('select pg_advisory_unlock($1)', [relayLockKey]);
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.off('error', ignore);
      client.release(failure);
    }
  };

  const relay = () => {
    relaying ??= relayPass()
      .catch((error: unknown) => logger.warn({ err: error }, 'outbox relay pass failed; retrying'))
      .finally(() => {
        relaying = undefined;
      });
    return relaying;
  };

  return {
    get mode() {
      return mode;
    },
    get depth() {
      return depth;
    },
    async publish(command) {
      if (mode === 'outbox') return toOutbox(command);
      try {
        await directly(command);
      } catch (error) {
        // A full producer queue is this process overloaded, not Kafka down: shed the request
        // (503) rather than move the load onto Postgres.
        if (error instanceof ProducerQueueFullError) throw error;
        enterOutboxMode(error);
        await toOutbox(command);
      }
    },
    start() {
      timer = setInterval(() => void relay(), options.relayIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await relaying;
    },
  };
}
