import { loadConfig } from '@ticketing/shared/config';

// A baseline's settings, read once from its environment at start-up. The JWT secret, the
// quantity limit and the event size limit are the product's settings, so all three systems
// accept exactly the same requests.

export interface BaselineConfig {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly redisPrefix: string;
  readonly poolMax: number;
  readonly jwtSecret: string;
  readonly quantityMax: number;
  readonly eventSeatsMax: number;
  readonly recordTtlS: number;
  // Written into reserved bookings because the product's schema requires a hold expiry; the
  // baselines do not expire holds.
  readonly holdDurationS: number;
}

export function loadBaselineConfig(kind: string, env: Readonly<Record<string, string | undefined>>): BaselineConfig {
  const product = loadConfig(Object.fromEntries(Object.entries(env).filter(([name]) => ['JWT_SECRET', 'BOOKING_QUANTITY_MAX', 'EVENT_SEATS_MAX', 'BOOKING_RECORD_TTL_S', 'REDIS_URL'].includes(name))));
  const int = (name: string, fallback: number) => {
    const value = Number(env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
    return value;
  };
  return Object.freeze({
    port: int('BASELINE_PORT', kind === 'pg-lock' ? 3101 : 3102),
    host: env.BASELINE_HOST ?? '127.0.0.1',
    databaseUrl: env.BASELINE_DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/bench_${kind.replace('-', '_')}`,
    redisUrl: env.BASELINE_REDIS_URL ?? product.redis.url,
    redisPrefix: env.BASELINE_REDIS_PREFIX ?? `bench:${kind}:`,
    poolMax: int('BASELINE_POOL_MAX', 20),
    jwtSecret: product.auth.jwtSecret,
    quantityMax: product.limits.bookingQuantityMax,
    eventSeatsMax: product.limits.eventSeatsMax,
    recordTtlS: product.limits.bookingRecordTtlS,
    holdDurationS: int('BASELINE_HOLD_DURATION_S', 600),
  });
}
