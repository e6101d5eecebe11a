import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '@ticketing/shared/config';
import { checkInvariants } from './testing/invariants.ts';
import { createApi } from './testing/system.ts';

// npm run verify -- --event <id> [--idle-s 10]
// Checks the system's promises (docs/invariants.md, I1–I5) against a running deployment:
// Postgres, Redis and the API named by the usual configuration (DATABASE_URL, REDIS_URL,
// REDIS_KEY_PREFIX, PUBLIC_URL or HOST/PORT). Prints a report; exits 1 on any violation.
const { values } = parseArgs({ options: { event: { type: 'string' }, 'idle-s': { type: 'string', default: '10' } } });
if (!values.event) {
  console.error('usage: npm run verify -- --event <eventId> [--idle-s <seconds a booking may stay PENDING>]');
  process.exit(2);
}
const config = loadConfig();
const pool = new pg.Pool({ connectionString: config.postgres.url, ...(config.postgres.password ? { password: config.postgres.password } : {}), max: 2 });
const redis = new Redis(config.redis.url, { protocol: 2, ...(config.redis.password ? { password: config.redis.password } : {}) });
try {
  const startedAt = Date.now();
  const report = await checkInvariants({
    pool,
    api: createApi(config.http.publicUrl, config.auth.jwtSecret),
    eventId: values.event,
    redis: { client: redis, keyPrefix: config.redis.keyPrefix, idleMs: Number(values['idle-s']) * 1000 },
  });
  const { bookings } = report;
  console.log(`event ${values.event}: ${bookings.reserved} reserved, ${bookings.paid} paid, ${bookings.released} expired or cancelled, ${bookings.rejected} rejected; ${bookings.seatsTaken} seats taken`);
  for (const name of ['I1', 'I2', 'I3', 'I4', 'I5']) {
    const found = report.violations.filter((violation) => violation.startsWith(name));
    console.log(`${name} ${found.length === 0 ? 'holds' : `VIOLATED (${found.length})`}`);
    for (const violation of found.slice(0, 20)) console.log(`   ${violation}`);
  }
  console.log(`checked in ${Date.now() - startedAt} ms`);
  process.exitCode = report.violations.length === 0 ? 0 : 1;
} finally {
  await pool.end();
  redis.disconnect();
}
