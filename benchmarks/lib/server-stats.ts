import type pg from 'pg';
import { Redis } from 'ioredis';

// Work the databases did during a scenario, per booking: Postgres transactions and rows of the
// target's database only (pg_stat_database is per database, so other users of the server do
// not count), and Redis commands by name (INFO commandstats is server-wide: anything else using
// the server at the same time is counted too). These are the "round trips" of the estimate.

export interface ServerStatsMeter {
  stop(): Promise<Record<string, number>>;
}

interface PgCounters {
  readonly xact_commit: number;
  readonly xact_rollback: number;
  readonly tup_inserted: number;
  readonly tup_updated: number;
  readonly tup_returned: number;
}

async function pgCounters(pool: pg.Pool): Promise<PgCounters | undefined> {
  try {
    // Statistics are cached per transaction; clear them so the read is current.
    await pool.query('select pg_stat_clear_snapshot()');
    const result = await pool.query<Record<keyof PgCounters, string>>(
      'select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_returned from pg_stat_database where datname = current_database()');
    const row = result.rows[0];
    if (!row) return undefined;
    return Object.fromEntries(Object.entries(row).map(([name, value]) => [name, Number(value)])) as unknown as PgCounters;
  } catch {
    return undefined;
  }
}

async function redisCommands(redis: Redis | undefined): Promise<Map<string, number> | undefined> {
  if (!redis) return undefined;
  try {
    const info = await redis.info('commandstats');
    const counts = new Map<string, number>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts.set(match[1]!, Number(match[2]));
    return counts;
  } catch {
    return undefined;
  }
}

export async function startServerStats(options: { pool: pg.Pool | undefined; redisUrl: string | undefined }): Promise<ServerStatsMeter> {
  const redis = options.redisUrl ? new Redis(options.redisUrl, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 }) : undefined;
  await redis?.connect().catch(() => {});
  const pgBefore = options.pool ? await pgCounters(options.pool) : undefined;
  const redisBefore = await redisCommands(redis);
  return {
    async stop() {
      const stats: Record<string, number> = {};
      const pgAfter = options.pool ? await pgCounters(options.pool) : undefined;
      if (pgBefore && pgAfter) {
        stats['postgres transactions'] = pgAfter.xact_commit + pgAfter.xact_rollback - pgBefore.xact_commit - pgBefore.xact_rollback;
        stats['postgres rows inserted'] = pgAfter.tup_inserted - pgBefore.tup_inserted;
        stats['postgres rows updated'] = pgAfter.tup_updated - pgBefore.tup_updated;
      }
      const redisAfter = await redisCommands(redis);
      if (redisBefore && redisAfter) {
        let total = 0;
        for (const [name, calls] of redisAfter) {
          const delta = calls - (redisBefore.get(name) ?? 0);
          if (delta <= 0 || name === 'info') continue;
          total += delta;
          stats[`redis ${name}`] = delta;
        }
        stats['redis commands (server-wide)'] = total;
      }
      redis?.disconnect();
      return stats;
    },
  };
}

// Counts per booking, rounded to two decimals, largest first.
export function statsPerBooking(stats: Readonly<Record<string, number>>, bookings: number): Record<string, number> {
  if (bookings === 0) return {};
  return Object.fromEntries(Object.entries(stats).sort((a, b) => b[1] - a[1]).map(([name, count]) => [name, Math.round((count / bookings) * 100) / 100]));
}
