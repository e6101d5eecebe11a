import type { ChargeResult } from '../../src/payments/payment-provider.ts';
import type { Command } from '@ticketing/shared/messaging/messages';
import type { LeasedPayment, MemoryBookingStore } from './memory-booking-store.ts';
import type { SimClock } from './sim-clock.ts';

// The payment provider and the payment worker of payment-worker.ts, as scheduled roles.
//
// The provider keeps the contract of fake-provider.ts: idempotent on the key (the first answer
// recorded for a key is the answer), `decline_…` tokens declined, `slow_<ms>_…` tokens answered
// after <ms> (at most 60 s), refunds keyed `refund:<paymentId>`. Its ledger is what money moved.
//
// The worker leases payments from the store, calls the provider, and either sends the charge's
// outcome to the booking's partition as a payment-result command or records the refund. Each
// part is a separate step, so a worker can die between any two of them.

export interface LedgerCharge {
  readonly amountCents: number;
  readonly result: ChargeResult;
  readonly atMs: number;
}

export interface SimProvider {
  readonly charges: ReadonlyMap<string, LedgerCharge>;
  readonly refunds: ReadonlyMap<string, { readonly amountCents: number; readonly refundRef: string }>;
  latencyMs(token: string): number;
  charge(request: { idempotencyKey: string; amountCents: number; token: string }): ChargeResult;
  refund(request: { idempotencyKey: string; amountCents: number }): { refundRef: string };
}

const slowMsMax = 60_000;

export function createSimProvider(clock: SimClock): SimProvider {
  const charges = new Map<string, LedgerCharge>();
  const refunds = new Map<string, { amountCents: number; refundRef: string }>();
  return {
    charges,
    refunds,
    latencyMs(token) {
      const slow = /^slow_(\d+)_/.exec(token);
      return slow ? Math.min(Number(slow[1]), slowMsMax) : 0;
    },
    charge({ idempotencyKey, amountCents, token }) {
      const known = charges.get(idempotencyKey);
      if (known) return known.result;
      const result: ChargeResult = token.startsWith('decline_')
        ? { outcome: 'declined', reason: 'card_declined' }
        : { outcome: 'captured', providerRef: `ch_${idempotencyKey}` };
      charges.set(idempotencyKey, { amountCents, result, atMs: clock.now() });
      return result;
    },
    refund({ idempotencyKey, amountCents }) {
      let known = refunds.get(idempotencyKey);
      if (!known) refunds.set(idempotencyKey, (known = { amountCents, refundRef: `re_${idempotencyKey}` }));
      return { refundRef: known.refundRef };
    },
  };
}

export interface ProviderCall {
  readonly id: number;
  readonly leased: LeasedPayment;
  readonly readyAtMs: number;
  answer: ChargeResult | { readonly refundRef: string } | null;
}

export interface SimPaymentWorker {
  calls(): readonly ProviderCall[];
  // Leases what is due and starts a provider call for each; returns the calls started.
  lease(): ProviderCall[];
  // The provider answers a call whose time has come.
  answer(call: ProviderCall): void;
  // The worker acts on an answered call: a payment-result command, or the refund recorded.
  finish(call: ProviderCall): Command | null;
  // The worker's process died: calls in flight are forgotten; their leases run out.
  crash(): void;
}

const leaseBatchMax = 32;

export function createSimPaymentWorker(options: { memory: MemoryBookingStore; provider: SimProvider; clock: SimClock; leaseMs: number }): SimPaymentWorker {
  const { memory, provider, clock } = options;
  let inFlight: ProviderCall[] = [];
  let nextId = 0;
  return {
    calls: () => inFlight,

    lease() {
      const started = memory.leasePayments(clock.now(), options.leaseMs, leaseBatchMax).map((leased) => ({
        id: ++nextId,
        leased,
        readyAtMs: clock.now() + (leased.payment.status === 'REQUESTED' && leased.payment.token !== null ? provider.latencyMs(leased.payment.token) : 0),
        answer: null,
      }));
      inFlight = [...inFlight, ...started];
      return started;
    },

    answer(call) {
      const { payment } = call.leased;
      if (payment.status === 'REQUESTED') {
        if (payment.token === null) throw new Error(`payment ${payment.id} has no token to charge`);
        call.answer = provider.charge({ idempotencyKey: payment.id, amountCents: payment.amountCents, token: payment.token });
      } else {
        call.answer = provider.refund({ idempotencyKey: `refund:${payment.id}`, amountCents: payment.amountCents });
      }
    },

    finish(call) {
      inFlight = inFlight.filter((other) => other !== call);
      const { leased } = call;
      const answer = call.answer!;
      if ('refundRef' in answer) {
        memory.markRefunded(leased.payment.id, answer.refundRef);
        return null;
      }
      const base = { v: 1 as const, eventId: leased.eventId, subsectionId: leased.subsectionId, section: leased.section, subsection: leased.number, bookingId: leased.payment.bookingId, paymentId: leased.payment.id, atMs: clock.now() };
      return answer.outcome === 'captured'
        ? { ...base, type: 'payment-result', outcome: 'captured', providerRef: answer.providerRef }
        : { ...base, type: 'payment-result', outcome: 'declined', declineReason: answer.reason };
    },

    crash() {
      inFlight = [];
    },
  };
}
