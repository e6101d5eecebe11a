import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '@ticketing/shared/config';
import { ensureDatabase, runMigrations } from '@ticketing/shared/db/migrate';
import { createLogger, type Logger } from '@ticketing/shared/telemetry/logger';
import { startMockKafka, type MockKafka } from '../kafka-mock/mock-kafka.ts';

// A private world for one test file: its own Postgres database, its own Redis key prefix and
// its own Kafka mock cluster, on the real servers of this machine. Nothing is mocked but Kafka's
// broker, which is librdkafka's wire-protocol mock.

export interface TestEnvironment {
  readonly env: Record<string, string>;
  readonly config: Config;
  readonly kafka: MockKafka;
  readonly pool: pg.Pool;
  readonly redis: Redis;
  readonly logger: Logger;
  configWith(overrides: Record<string, string>): Config;
  close(): Promise<void>;
}

const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// `adminUrl` puts the test's database on another Postgres server (a private one a fault test
// can crash).
export async function createTestEnvironment(options: { partitions?: number; brokers?: number; env?: Record<string, string>; adminUrl?: string } = {}): Promise<TestEnvironment> {
  const id = `${process.pid}_${randomBytes(4).toString('hex')}`;
  const serverUrl = options.adminUrl ?? adminUrl;
  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/ticketing_test_${id}`;
  const topic = 'ticketing.commands.v1';
  const kafka = await startMockKafka({ brokers: options.brokers ?? 3, topics: [{ name: topic, partitions: options.partitions ?? 6 }] });
  await ensureDatabase(databaseUrl.toString());
  await runMigrations(databaseUrl.toString());

  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    RESERVATION_HTTP_PORT: '0',
    DATABASE_URL: databaseUrl.toString(),
    DATABASE_POOL_MAX: '4',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `test:${id}:`,
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_COMMAND_TOPIC: topic,
    KAFKA_MAX_WAIT_MS: '10',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    KAFKA_CONSUMER_GROUP: `reservation-${id}`,
    SSE_DELTA_FLUSH_MS: '50',
    // Tests that are not about the per-user rate limit drive many requests per user.
    BOOKING_RATE_LIMIT_MAX: '100000',
    ...options.env,
  };
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  // Fault tests cut connections; an idle client of the test's own pool losing its connection
  // must not end the test process (the next query reconnects), as in the services.
  pool.on('error', () => {});
  const redis = new Redis(redisUrl, { protocol: 2 });
  const logger = createLogger({ name: 'test', level: env.LOG_LEVEL!, destination: pino.destination(2) });

  return {
    env,
    config: loadConfig(env),
    kafka,
    pool,
    redis,
    logger,
    configWith: (overrides) => loadConfig({ ...env, ...overrides }),
    async close() {
      await kafka.stop();
      await pool.end();
      await deleteKeys(redis, env.REDIS_KEY_PREFIX!);
      redis.disconnect();
      const admin = new pg.Client({ connectionString: serverUrl });
      await admin.connect();
      await admin.query(`drop database if exists "ticketing_test_${id}" with (force)`);
      await admin.end();
    },
  };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
