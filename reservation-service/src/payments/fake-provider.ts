import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { ChargeResult, PaymentProvider } from './payment-provider.ts';

// A payment provider for development, demos and tests, with a real provider's contract:
// idempotent on the key, and its ledger kept in Redis so every process sees the same charges
// and tests can audit them. Tokens steer it:
//   decline_…        the charge is declined
//   slow_<ms>_…      the provider takes <ms> (at most 60 s) to answer
//   anything else    the charge is captured
// Ledger: hash `<prefix>fakepay:charges` and `<prefix>fakepay:refunds`, field = idempotency key.

const slowMsMax = 60_000;

export interface FakeLedgerEntry {
  readonly kind: 'charge' | 'refund';
  readonly amountCents: number;
  readonly result: ChargeResult | { readonly refundRef: string };
  readonly atMs: number;
}

export function fakeLedgerKeys(prefix: string) {
  return { charges: `${prefix}fakepay:charges`, refunds: `${prefix}fakepay:refunds` };
}

export function createFakePaymentProvider(options: { redis: Redis; keyPrefix: string; clock: () => number }): PaymentProvider {
  const keys = fakeLedgerKeys(options.keyPrefix);
  const reference = (kind: string, key: string) => `${kind}_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  // HSETNX makes the first answer for a key the answer, even with racing retries.
  const remember = async (hash: string, key: string, entry: FakeLedgerEntry): Promise<FakeLedgerEntry> => {
    const created = await options.redis.hsetnx(hash, key, JSON.stringify(entry));
    if (created === 1) return entry;
    return JSON.parse((await options.redis.hget(hash, key))!) as FakeLedgerEntry;
  };

  return {
    async charge({ idempotencyKey, amountCents, token }) {
      const existing = await options.redis.hget(keys.charges, idempotencyKey);
      if (existing) return (JSON.parse(existing) as FakeLedgerEntry).result as ChargeResult;
      const slow = /^slow_(\d+)_/.exec(token);
      if (slow) await sleep(Math.min(Number(slow[1]), slowMsMax));
      const result: ChargeResult = token.startsWith('decline_')
        ? { outcome: 'declined', reason: 'card_declined' }
        : { outcome: 'captured', providerRef: reference('ch', idempotencyKey) };
      const entry = await remember(keys.charges, idempotencyKey, { kind: 'charge', amountCents, result, atMs: options.clock() });
      return entry.result as ChargeResult;
    },

    async refund({ idempotencyKey, amountCents }) {
      const entry = await remember(keys.refunds, idempotencyKey, { kind: 'refund', amountCents, result: { refundRef: reference('re', idempotencyKey) }, atMs: options.clock() });
      return entry.result as { refundRef: string };
    },
  };
}
