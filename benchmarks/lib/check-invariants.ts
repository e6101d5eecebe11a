import { Redis } from 'ioredis';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import type { RunContext } from './context.ts';

// The invariants of dev/testing/invariants.ts for the target. For the product on this machine
// the Redis projection is checked too (bitmaps equal Postgres, no booking left PENDING). The
// baselines enforce no per-buyer seat cap, so they keep no buyer_seats counters: that one check
// (an I5 about the product's own bookkeeping) does not apply to them and is left out.

const pendingIdleMs = 10_000;

export async function checkTargetInvariants(context: RunContext, eventId: string, acceptedIds: readonly string[]): Promise<{ violations: string[]; seatsTaken: number }> {
  const pool = context.pool!;
  const product = context.target.kind === 'ticketing';
  const prefix = context.target.settings.REDIS_KEY_PREFIX;
  const keyPrefix = typeof prefix === 'string' ? prefix.replace(/ \(default\)$/, '') : undefined;
  const redis = product && context.target.redisUrl && keyPrefix ? new Redis(context.target.redisUrl, { protocol: 2, maxRetriesPerRequest: 2 }) : undefined;
  try {
    const report = await checkInvariants({
      pool,
      api: context.api,
      eventId,
      acceptedIds,
      ...(redis && keyPrefix ? { redis: { client: redis, keyPrefix, idleMs: pendingIdleMs } } : {}),
    });
    const violations = product ? report.violations : report.violations.filter((violation) => !violation.startsWith('I5: buyer'));
    return { violations, seatsTaken: report.bookings.seatsTaken };
  } finally {
    redis?.disconnect();
  }
}
