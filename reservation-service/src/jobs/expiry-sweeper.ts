import type pg from 'pg';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { inSpan, ROOT_CONTEXT, startSpan, tracingEnabled } from '@ticketing/shared/telemetry/tracing';

// Holds run out by the clock, but seats change owner only through their partition. Every
// reservation process sweeps for reserved bookings whose hold has passed and asks their
// partition to expire them; the consumer decides the expiry in order with any payment or
// cancellation in flight. Any live process does it, so expiry keeps working when one dies.
//
// A booking is asked about at most once per `requestAgainMs` (claimed with SKIP LOCKED), so
// several sweepers do not flood the topic; a lost request is simply made again.

const sweepBatchMax = 1000;
const requestAgainMs = 5000;

export interface ExpirySweeper {
  start(): void;
  stop(): Promise<void>;
}

export function createExpirySweeper(options: {
  pool: pg.Pool;
  publisher: CommandPublisher;
  intervalMs: number;
  logger: Logger;
  onRequested?: (count: number) => void;
}): ExpirySweeper {
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let running = false;

  const sweep = async () => {
    for (;;) {
      const startedAtMs = Date.now();
      const due = await options.pool.query<{ id: string; event_id: string; subsection_id: number; section: string; number: number; at_ms: number }>({
        name: 'expiry.claim',
        text: `with due as (
                 select id from bookings
                 where status = 'RESERVED' and hold_expires_at <= now()
                   and (expiry_requested_at is null or expiry_requested_at < now() - make_interval(secs => $2::float8 / 1000))
                 order by hold_expires_at limit $1 for update skip locked
               )
               update bookings b set expiry_requested_at = now()
               from due, subsections s
               where b.id = due.id and s.id = b.subsection_id
               returning b.id, b.event_id, b.subsection_id, s.section, s.number, (extract(epoch from now()) * 1000)::float8 as at_ms`,
        values: [sweepBatchMax, requestAgainMs],
      });
      if (due.rows.length === 0) return;
      const publish = () => Promise.all(due.rows.map((row) => options.publisher.publish({
        v: 1, type: 'expire', bookingId: row.id, eventId: row.event_id, subsectionId: row.subsection_id, section: row.section, subsection: row.number, atMs: Math.round(row.at_ms),
      })));
      // A trace per sweep that found holds (an empty sweep, twice a second, is not worth one):
      // each expire command carries it, so the expiries' decisions and SSE pushes join it.
      if (tracingEnabled()) {
        await inSpan(startSpan('expire holds', { startTime: startedAtMs, attributes: { 'ticketing.holds.count': due.rows.length } }, ROOT_CONTEXT), ROOT_CONTEXT, publish);
      } else {
        await publish();
      }
      options.onRequested?.(due.rows.length);
      if (due.rows.length < sweepBatchMax || !running) return;
    }
  };

  return {
    start() {
      running = true;
      timer = setInterval(() => {
        if (sweeping) return;
        sweeping = sweep()
          .catch((error: unknown) => options.logger.warn({ err: error }, 'expiry sweep failed; retrying next interval'))
          .finally(() => {
            sweeping = undefined;
          });
      }, options.intervalMs);
      timer.unref();
    },
    async stop() {
      running = false;
      if (timer) clearInterval(timer);
      await sweeping;
    },
  };
}
