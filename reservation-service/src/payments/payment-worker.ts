import type pg from 'pg';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { BOOKING_ID, EVENT_ID, inSpan, ROOT_CONTEXT, startSpan, tracingEnabled } from '@ticketing/shared/telemetry/tracing';
import type { PaymentProvider } from './payment-provider.ts';

// Talks to the payment provider off the partitions' hot path, so a slow provider delays only
// the payments waiting on it, never the bookings deciding behind them.
//
// The consumer records a payment as REQUESTED (or REFUND_REQUIRED) in the same statement
// that decides it; this worker leases such rows (FOR UPDATE SKIP LOCKED, so every process can
// run one), calls the provider with the payment's id as idempotency key, and reports a charge's
// outcome back through the booking's partition, where it is decided in order with the hold's
// expiry. A worker that dies mid-call leaves a lease that runs out; the next one asks the
// provider again with the same key and gets the same answer, so nothing is charged twice.

export interface PaymentWorker {
  // Look for work now (the consumer just recorded some).
  kick(): void;
  start(): void;
  stop(): Promise<void>;
}

interface LeasedPayment {
  id: string;
  booking_id: string;
  status: 'REQUESTED' | 'REFUND_REQUIRED';
  amount_cents: number;
  token: string | null;
  provider_ref: string | null;
  event_id: string;
  subsection_id: number;
  section: string;
  number: number;
}

const leaseBatchMax = 32;
// Provider calls in flight per process; a slow provider queues payments instead of sockets.
const inFlightMax = 256;
const sweepIntervalMs = 1000;

export function createPaymentWorker(options: {
  pool: pg.Pool;
  provider: PaymentProvider;
  publisher: CommandPublisher;
  leaseMs: number;
  logger: Logger;
  clock: () => number;
  onSettled?: (kind: 'captured' | 'declined' | 'refunded' | 'failed') => void;
}): PaymentWorker {
  const { pool, logger } = options;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let again = false;
  const inFlight = new Set<Promise<void>>();

  const lease = async (limit: number): Promise<LeasedPayment[]> => {
    const result = await pool.query<LeasedPayment>({
      name: 'payments.lease',
      text: `with due as (
               select id from payments
               where status in ('REQUESTED', 'REFUND_REQUIRED') and (leased_until is null or leased_until < now())
               order by created_at limit $2 for update skip locked
             )
             update payments p set leased_until = now() + make_interval(secs => $1::float8 / 1000), attempts = p.attempts + 1
             from due, bookings b, subsections s
             where p.id = due.id and b.id = p.booking_id and s.id = b.subsection_id
             returning p.id, p.booking_id, p.status, p.amount_cents, p.token, p.provider_ref, b.event_id, b.subsection_id, s.section, s.number`,
      values: [options.leaseMs, limit],
    });
    return result.rows;
  };

  const settle = async (payment: LeasedPayment) => {
    const base = { v: 1 as const, eventId: payment.event_id, subsectionId: payment.subsection_id, section: payment.section, subsection: payment.number, bookingId: payment.booking_id, paymentId: payment.id };
    if (payment.status === 'REQUESTED') {
      if (payment.token === null) throw new Error(`payment ${payment.id} has no token to charge`);
      const result = await options.provider.charge({ idempotencyKey: payment.id, amountCents: payment.amount_cents, token: payment.token });
      await options.publisher.publish(result.outcome === 'captured'
        ? { ...base, type: 'payment-result', outcome: 'captured', providerRef: result.providerRef, atMs: options.clock() }
        : { ...base, type: 'payment-result', outcome: 'declined', declineReason: result.reason, atMs: options.clock() });
      options.onSettled?.(result.outcome);
      return;
    }
    const refund = await options.provider.refund({ idempotencyKey: `refund:${payment.id}`, providerRef: payment.provider_ref ?? '', amountCents: payment.amount_cents });
    await pool.query({
      name: 'payments.refunded',
      text: `update payments set status = 'REFUNDED', refund_ref = $2, refunded_at = now(), leased_until = null, updated_at = now()
             where id = $1 and status = 'REFUND_REQUIRED'`,
      values: [payment.id, refund.refundRef],
    });
    options.onSettled?.('refunded');
  };

  // A trace per provider call: the call, the payment-result command it publishes, and (through
  // that command) the decision and the SSE message that tell the buyer.
  const traced = (payment: LeasedPayment) => {
    if (!tracingEnabled()) return settle(payment);
    const span = startSpan(payment.status === 'REQUESTED' ? 'charge payment' : 'refund payment', {
      attributes: { [BOOKING_ID]: payment.booking_id, [EVENT_ID]: payment.event_id, 'ticketing.payment.id': payment.id },
    }, ROOT_CONTEXT);
    return inSpan(span, ROOT_CONTEXT, () => settle(payment));
  };

  const runPass = async () => {
    do {
      again = false;
      const room = Math.min(leaseBatchMax, inFlightMax - inFlight.size);
      if (room <= 0) return;
      const leased = await lease(room);
      for (const payment of leased) {
        const work: Promise<void> = traced(payment)
          .catch((error: unknown) => {
            options.onSettled?.('failed');
            logger.error({ err: error, paymentId: payment.id }, 'payment attempt failed; it is retried when its lease runs out');
          })
          .finally(() => {
            inFlight.delete(work);
            if (inFlight.size === inFlightMax - 1) trigger();
          });
        inFlight.add(work);
      }
      if (leased.length === room) again = true;
    } while (again && running);
  };

  const trigger = () => {
    if (!running) return;
    if (pass) {
      again = true;
      return;
    }
    pass = runPass()
      .catch((error: unknown) => logger.error({ err: error }, 'leasing payments failed'))
      .finally(() => {
        pass = undefined;
      });
  };

  return {
    kick: trigger,
    start() {
      running = true;
      timer = setInterval(trigger, sweepIntervalMs);
      timer.unref();
      trigger();
    },
    async stop() {
      running = false;
      if (timer) clearInterval(timer);
      await pass;
      await Promise.allSettled([...inFlight]);
    },
  };
}
