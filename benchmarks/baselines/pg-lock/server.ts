import closeWithGrace from 'close-with-grace';
import pg from 'pg';
import { ensureDatabase, runMigrations } from '@ticketing/shared/db/migrate';
import { checkManualSeats, findBestAvailable } from '../../../reservation-service/src/seating/seat-finder.ts';
import { createSeatGrid, setSeatState, SEAT_RESERVED } from '../../../reservation-service/src/seating/seat-grid.ts';
import { buildBaselineApp, type BookingRequest, type Decision } from '../common/baseline-app.ts';
import { loadBaselineConfig } from '../common/baseline-config.ts';

// Baseline "pg-lock": what most teams build first (pretix, alf.io and Hi.Events all let
// Postgres locks decide). Per booking, one transaction on a pooled connection:
//
//   BEGIN
//   SELECT seat_states FROM subsections WHERE id = $1 FOR UPDATE     -- serialises the subsection
//   (pick seats in Node with the product's seat finder, same rules)
//   one statement: INSERT booking ON CONFLICT (id) DO NOTHING, INSERT its seat_allocations,
//                  UPDATE the subsection's counters and seat_states
//   COMMIT                                                           -- durable (fsync), then 200
//
// The subsection row carries its seat states as a bytea (one byte per seat), so the lock read
// returns everything the finder needs in one row instead of re-reading every allocation of
// the subsection. seat_allocations keeps its primary key, so Postgres still refuses a double
// sale outright. Statements are prepared (named); the pool has BASELINE_POOL_MAX connections.

const config = loadBaselineConfig('pg-lock', process.env);

const lockSql = 'select rows, seats_per_row, seat_states from subsections where id = $1 for update';

const writeSql = `
with inserted as (
  insert into bookings (id, user_id, event_id, subsection_id, quantity, requested_seats, seats, status, reason, fingerprint, created_at, decided_at, hold_expires_at)
  values ($1, $2, $3, $4, $5, $6::int[], $7::int[], $8, $9, $10, to_timestamp($11::float8 / 1000.0), to_timestamp($12::float8 / 1000.0),
          case when $8 = 'RESERVED' then to_timestamp($12::float8 / 1000.0) + make_interval(secs => $14) end)
  on conflict (id) do nothing
  returning id
), allocated as (
  insert into seat_allocations (subsection_id, seat_index, booking_id, state)
  select $4, seat, $1, 1 from unnest($7::int[]) as seat where exists (select 1 from inserted)
  returning seat_index
), counted as (
  update subsections set reserved_count = reserved_count + cardinality($7::int[]), seat_states = $13
  where id = $4 and cardinality($7::int[]) > 0 and exists (select 1 from inserted)
  returning id
)
select (select count(*)::int from inserted) as inserted, (select count(*)::int from allocated) as allocated, (select count(*)::int from counted) as counted`;

const existingSql = `select user_id, fingerprint, status, reason, seats, (extract(epoch from created_at) * 1000)::float8 as created_ms,
  (extract(epoch from decided_at) * 1000)::float8 as decided_ms from bookings where id = $1`;

await ensureDatabase(config.databaseUrl);
await runMigrations(config.databaseUrl);
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolMax, application_name: 'baseline-pg-lock' });
pool.on('error', () => {});
// The baseline's own column, in its own database; the product's schema is otherwise unchanged.
await pool.query('alter table subsections add column if not exists seat_states bytea');

async function decide(request: BookingRequest): Promise<Decision> {
  const { subsection } = request;
  const client = await pool.connect();
  try {
    await client.query('begin');
    const locked = await client.query<{ rows: number; seats_per_row: number; seat_states: Buffer }>({ name: 'lock', text: lockSql, values: [subsection.id] });
    const row = locked.rows[0]!;
    const grid = createSeatGrid(row.rows, row.seats_per_row, row.seat_states);
    const picked = request.seats ? checkManualSeats(grid, request.seats) : findBestAvailable(grid, request.quantity);
    const seats = picked.ok ? picked.seats : [];
    for (const seat of seats) setSeatState(grid, seat, SEAT_RESERVED);
    const status = picked.ok ? 'RESERVED' : 'REJECTED';
    const reason = picked.ok ? null : picked.reason;
    const decidedAtMs = Date.now();
    const written = await client.query<{ inserted: number }>({
      name: 'write',
      text: writeSql,
      values: [
        request.id, request.userId, request.eventId, subsection.id, request.quantity,
        request.seats ? `{${request.seats.join(',')}}` : null, `{${seats.join(',')}}`, status, reason, request.fingerprint, request.createdAtMs, decidedAtMs,
        Buffer.from(grid.states.buffer, grid.states.byteOffset, grid.states.byteLength), config.holdDurationS,
      ],
    });
    if (written.rows[0]!.inserted === 0) {
      // The id was used before: nothing was written; answer with what is stored.
      await client.query('rollback');
      return existingDecision(request.id);
    }
    await client.query('commit');
    return { status, reason, seats, decidedAtMs };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function existingDecision(bookingId: string): Promise<Decision> {
  const result = await pool.query<{ user_id: string; fingerprint: string; status: 'RESERVED' | 'REJECTED'; reason: string | null; seats: number[]; created_ms: number; decided_ms: number }>({
    name: 'existing', text: existingSql, values: [bookingId],
  });
  const row = result.rows[0]!;
  return {
    status: row.status, reason: row.reason, seats: row.seats, decidedAtMs: Math.round(row.decided_ms),
    existing: { userId: row.user_id, fingerprint: row.fingerprint, createdAtMs: Math.round(row.created_ms) },
  };
}

const { app } = await buildBaselineApp({
  pool,
  jwtSecret: config.jwtSecret,
  quantityMax: config.quantityMax,
  eventSeatsMax: config.eventSeatsMax,
  async onEventCreated(client, subsections) {
    await client.query(
      'update subsections set seat_states = t.states from unnest($1::int[], $2::bytea[]) as t(id, states) where subsections.id = t.id',
      [subsections.map((sub) => sub.id), subsections.map((sub) => Buffer.alloc(sub.capacity))],
    );
  },
  decide,
  async seatStates(subsection) {
    const result = await pool.query<{ seat_states: Buffer }>('select seat_states from subsections where id = $1', [subsection.id]);
    return new Uint8Array(result.rows[0]!.seat_states);
  },
  ready: async () => (await pool.query('select 1')).rowCount === 1,
});

await app.listen({ host: config.host, port: config.port });
app.log.warn({ url: `http://${config.host}:${config.port}`, poolMax: config.poolMax }, 'baseline pg-lock listening');
closeWithGrace({ delay: 10_000 }, async () => {
  await app.close();
  await pool.end();
});
