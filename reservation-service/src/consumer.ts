import { AssertionError } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeCommand } from '@ticketing/shared/messaging/codec';
import type { CommandConsumer, IncomingRecord, KafkaClient, PartitionBatchContext } from '@ticketing/shared/messaging/kafka';
import type { Command } from '@ticketing/shared/messaging/messages';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { trace } from '@ticketing/shared/telemetry/tracing';
import { traceSlice, type DecodedRecord } from './ops/slice-tracing.ts';
import type { DecideBatch, DecideBatchResult } from './reservations/decide-batch.ts';

// Drives the decision use case from the command topic. Per partition, in offset order: slice
// the fetched batch, decide each slice, and commit its last offset only once the slice's
// effects are in Postgres and Redis. Infrastructure failures are retried here, with backoff,
// for as long as this process still owns the partition, so a Postgres or Redis outage pauses
// the partition instead of losing or skipping commands. Broken invariants (AssertionError) are
// fatal: the process exits rather than deciding on a corrupt state.

export interface ReservationConsumerOptions {
  readonly kafka: KafkaClient;
  readonly topic: string;
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly partitionsConcurrency: number;
  readonly sliceMax: number;
  readonly decideBatch: DecideBatch;
  readonly logger: Logger;
  readonly onFatal: (error: unknown) => void;
  readonly onSlice?: (slice: { partition: number; result: DecideBatchResult; durationMs: number; commands: readonly Command[] }) => void;
  // Records of the partition not yet committed, as of the last fetch's high watermark.
  readonly onLag?: (partition: number, messages: number) => void;
  readonly onPoison?: () => void;
  readonly onRebalance?: (assigned: readonly number[]) => void;
  readonly onCrash?: (error: unknown) => void;
}

const retryDelayMsMin = 100;
const retryDelayMsMax = 5000;

export function createReservationConsumer(options: ReservationConsumerOptions): CommandConsumer {
  const { logger } = options;

  const decode = (records: readonly IncomingRecord[], partition: number): DecodedRecord[] => {
    const decoded: DecodedRecord[] = [];
    for (const record of records) {
      const result = decodeCommand(record.value);
      if (result.ok) decoded.push({ record, command: result.command });
      else {
        options.onPoison?.();
        logger.error({ partition, offset: record.offset, problem: result.problem }, 'poison command skipped');
      }
    }
    return decoded;
  };

  const decideWithRetry = async (commands: readonly Command[], context: PartitionBatchContext, traces: ReadonlyMap<string, string> | undefined): Promise<DecideBatchResult | undefined> => {
    for (let attempt = 1; ; attempt++) {
      if (!context.stillOwned()) return undefined;
      try {
        return await options.decideBatch.run(commands, traces ? { traces } : {});
      } catch (error) {
        if (error instanceof AssertionError) throw error;
        trace.getActiveSpan()?.recordException(error instanceof Error ? error : String(error));
        const delayMs = Math.min(retryDelayMsMax, retryDelayMsMin * 2 ** Math.min(attempt - 1, 10));
        logger.error({ err: error, partition: context.partition, attempt, delayMs }, 'deciding a slice failed; retrying');
        await sleep(delayMs);
        await context.heartbeat().catch(() => {});
      }
    }
  };

  // Decides and commits one slice; false when the partition was lost meanwhile.
  const handleSlice = async (slice: readonly IncomingRecord[], context: PartitionBatchContext, commands: readonly Command[], traces: ReadonlyMap<string, string> | undefined) => {
    const startedAt = performance.now();
    const result = commands.length > 0 ? await decideWithRetry(commands, context, traces) : undefined;
    if (commands.length > 0 && !result) return { owned: false, result };
    if (!context.stillOwned()) return { owned: false, result };
    const last = slice[slice.length - 1]!.offset;
    await context.commit(last);
    options.onLag?.(context.partition, lagAfter(context.highWatermark, last));
    if (result) options.onSlice?.({ partition: context.partition, result, durationMs: performance.now() - startedAt, commands });
    return { owned: true, result };
  };

  const handleBatch = async (records: readonly IncomingRecord[], context: PartitionBatchContext) => {
    try {
      if (records.length > 0) options.onLag?.(context.partition, lagAfter(context.highWatermark, String(BigInt(records[0]!.offset) - 1n)));
      for (let start = 0; start < records.length; start += options.sliceMax) {
        const slice = records.slice(start, start + options.sliceMax);
        const decoded = decode(slice, context.partition);
        const commands = decoded.map((entry) => entry.command);
        const traced = traceSlice({ topic: options.topic, groupId: options.groupId, partition: context.partition, decoded });
        let outcome: Awaited<ReturnType<typeof handleSlice>>;
        try {
          outcome = traced ? await traced.run(() => handleSlice(slice, context, commands, traced.traces)) : await handleSlice(slice, context, commands, undefined);
        } catch (error) {
          traced?.finish(undefined, error);
          throw error;
        }
        traced?.finish(outcome.result);
        if (!outcome.owned) return;
        await context.heartbeat();
      }
    } catch (error) {
      if (error instanceof AssertionError) options.onFatal(error);
      throw error;
    }
  };

  return options.kafka.createConsumer({
    groupId: options.groupId,
    topic: options.topic,
    sessionTimeoutMs: options.sessionTimeoutMs,
    maxWaitMs: options.maxWaitMs,
    partitionsConcurrency: options.partitionsConcurrency,
    handleBatch,
    onRebalance: (assigned) => {
      options.decideBatch.forgetGrids();
      options.onRebalance?.(assigned);
    },
    onCrash: (error) => {
      options.decideBatch.forgetGrids();
      options.onCrash?.(error);
    },
  });
}

function lagAfter(highWatermark: string, offset: string): number {
  const lag = BigInt(highWatermark) - BigInt(offset) - 1n;
  return lag > 0n ? Number(lag) : 0;
}
