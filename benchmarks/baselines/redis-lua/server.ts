import closeWithGrace from 'close-with-grace';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ensureDatabase, runMigrations } from '@ticketing/shared/db/migrate';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { buildBaselineApp, type BookingRequest, type Decision } from '../common/baseline-app.ts';
import { loadBaselineConfig } from '../common/baseline-config.ts';
import { createWriteBatcher } from './write-batcher.ts';
import { defineSeatScripts, parseRecord } from './seat-script.ts';

// Baseline "redis-lua": the flash-sale design. Per booking:
//
//   1. one EVALSHA: an atomic Lua script checks the booking id, picks seats with the same
//      best-available rules as the product (seat-pick.lua, a port checked against the
//      product's finder), marks them taken in the subsection's seat string and stores the
//      booking record — Redis is the arbiter at this point;
//   2. the decision is written to Postgres, batched with the decisions of concurrent requests
//      (group commit: at most writeBatchMax per statement, writeInFlightMax statements at
//      once, one INSERT … unnest statement like the product's), and the request is answered
//      (200) once its batch has committed.
//
// If the Postgres write fails, the seats are released in Redis and the client gets 503 to
// retry with the same id. Postgres's seat_allocations primary key still refuses a double sale
// if Redis ever disagreed with it (e.g. Redis lost its data): such a batch fails as a whole.
// Not done, as an afternoon's version would not: rebuilding a lost seat string from Postgres.

const config = loadBaselineConfig('redis-lua', process.env);
const writeBatchMax = 500;
const writeInFlightMax = 4;

await ensureDatabase(config.databaseUrl);
await runMigrations(config.databaseUrl);
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolMax, application_name: 'baseline-redis-lua' });
pool.on('error', () => {});
const redis = defineSeatScripts(new Redis(config.redisUrl, { protocol: 2, enableAutoPipelining: true, maxRetriesPerRequest: 2 }));
const seatsKey = (subsectionId: number) => `${config.redisPrefix}seats:${subsectionId}`;
const bookingKey = (bookingId: string) => `${config.redisPrefix}booking:${bookingId}`;
// Seat strings live as long as a benchmark could need them; a real deployment keeps them.
const seatsTtlS = 7 * 24 * 3600;

const writes = createWriteBatcher({ pool, batchMax: writeBatchMax, inFlightMax: writeInFlightMax, holdDurationS: config.holdDurationS });

async function decide(request: BookingRequest): Promise<Decision> {
  const { subsection } = request;
  const decidedAtMs = Date.now();
  const tail = `${request.userId}|${request.fingerprint}|${request.createdAtMs}|${decidedAtMs}`;
  const [kind, record] = await redis.seatPick(
    seatsKey(subsection.id), bookingKey(request.id), subsection.rows, subsection.seatsPerRow, request.quantity, request.seats?.join(',') ?? '', tail, config.recordTtlS,
  );
  const picked = parseRecord(record);
  const decision: Decision = { status: picked.status, reason: picked.reason || null, seats: picked.seats, decidedAtMs: picked.decidedAtMs };
  if (kind === 'existing') return { ...decision, existing: { userId: picked.userId, fingerprint: picked.fingerprint, createdAtMs: picked.createdAtMs } };
  try {
    await writes.write({
      id: request.id, userId: request.userId, eventId: request.eventId, subsectionId: subsection.id, quantity: request.quantity,
      requestedSeats: request.seats, seats: decision.seats, status: decision.status, reason: decision.reason, fingerprint: request.fingerprint,
      createdAtMs: request.createdAtMs, decidedAtMs: decision.decidedAtMs,
    });
  } catch (error) {
    await redis.seatRelease(seatsKey(subsection.id), bookingKey(request.id), record, picked.seats.join(',')).catch(() => {});
    throw new DomainError(ErrorCode.DEPENDENCY_UNAVAILABLE, 'The booking could not be stored; nothing was booked. Retry with the same id.', { retryAfterS: 1, cause: error });
  }
  return decision;
}

const { app } = await buildBaselineApp({
  pool,
  jwtSecret: config.jwtSecret,
  quantityMax: config.quantityMax,
  eventSeatsMax: config.eventSeatsMax,
  async onEventCreated(_client, subsections) {
    const pipeline = redis.pipeline();
    for (const subsection of subsections) pipeline.set(seatsKey(subsection.id), '.'.repeat(subsection.capacity), 'EX', seatsTtlS);
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  },
  decide,
  async seatStates(subsection) {
    const seats = await redis.get(seatsKey(subsection.id));
    if (seats === null) throw new DomainError(ErrorCode.DEPENDENCY_UNAVAILABLE, 'Seat map missing in Redis', { retryAfterS: 1 });
    return Uint8Array.from(seats, (char) => (char === '.' ? 0 : 1));
  },
  ready: async () => (await pool.query('select 1')).rowCount === 1 && (await redis.ping()) === 'PONG',
});

await app.listen({ host: config.host, port: config.port });
app.log.warn({ url: `http://${config.host}:${config.port}`, poolMax: config.poolMax, writeBatchMax, writeInFlightMax }, 'baseline redis-lua listening');
closeWithGrace({ delay: 10_000 }, async () => {
  await app.close();
  await writes.drain();
  await pool.end();
  redis.disconnect();
});
