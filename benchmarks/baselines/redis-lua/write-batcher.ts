import assert from 'node:assert/strict';
import type pg from 'pg';

// Group commit for the redis-lua baseline: decisions made by concurrent requests are written
// to Postgres together — one INSERT … SELECT FROM unnest(…) statement, one transaction, one
// fsync per batch — and each request learns whether its own batch committed. A batch starts on
// the next turn of the event loop, or at once when `batchMax` are waiting; at most
// `inFlightMax` batches are written at a time.
//
// The statement writes what the product writes for a decided booking: the booking row, its
// seat_allocations (whose primary key refuses a seat sold twice) and the subsection counters;
// a reserved booking gets the product's hold expiry (its schema requires one), which the
// baseline does not act on.

export interface DecidedBooking {
  readonly id: string;
  readonly userId: string;
  readonly eventId: string;
  readonly subsectionId: number;
  readonly quantity: number;
  readonly requestedSeats: readonly number[] | undefined;
  readonly seats: readonly number[];
  readonly status: 'RESERVED' | 'REJECTED';
  readonly reason: string | null;
  readonly fingerprint: string;
  readonly createdAtMs: number;
  readonly decidedAtMs: number;
}

export interface WriteBatcher {
  write(booking: DecidedBooking): Promise<void>;
  drain(): Promise<void>;
}

interface Waiting {
  readonly booking: DecidedBooking;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

const insertSql = `
with inserted as (
  insert into bookings (id, user_id, event_id, subsection_id, quantity, requested_seats, seats, status, reason, fingerprint, created_at, decided_at, hold_expires_at)
  select t.id, t.user_id, t.event_id, t.subsection_id, t.quantity, t.requested::int[], t.seats::int[], t.status, t.reason, t.fingerprint,
         to_timestamp(t.created_ms / 1000.0), to_timestamp(t.decided_ms / 1000.0),
         case when t.status = 'RESERVED' then to_timestamp(t.decided_ms / 1000.0) + make_interval(secs => $16) end
  from unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::float8[], $12::float8[])
    as t(id, user_id, event_id, subsection_id, quantity, requested, seats, status, reason, fingerprint, created_ms, decided_ms)
  returning id
), allocated as (
  insert into seat_allocations (subsection_id, seat_index, booking_id, state)
  select a.subsection_id, a.seat_index, a.booking_id, 1 from unnest($13::int[], $14::int[], $15::uuid[]) as a(subsection_id, seat_index, booking_id)
  returning subsection_id
)
update subsections s set reserved_count = s.reserved_count + d.n
from (select subsection_id, count(*)::int as n from allocated group by subsection_id) d
where s.id = d.subsection_id`;

const pgArray = (values: readonly number[] | undefined) => (values ? `{${values.join(',')}}` : null);

async function insertBatch(pool: pg.Pool, bookings: readonly DecidedBooking[], holdDurationS: number): Promise<void> {
  const column = <T>(pick: (booking: DecidedBooking) => T) => bookings.map(pick);
  const allocations = bookings.flatMap((booking) => booking.seats.map((seat) => [booking.subsectionId, seat, booking.id] as const));
  await pool.query({
    name: 'redis-lua.insert-decisions',
    text: insertSql,
    values: [
      column((b) => b.id), column((b) => b.userId), column((b) => b.eventId), column((b) => b.subsectionId), column((b) => b.quantity),
      column((b) => pgArray(b.requestedSeats)), column((b) => pgArray(b.seats)), column((b) => b.status), column((b) => b.reason),
      column((b) => b.fingerprint), column((b) => b.createdAtMs), column((b) => b.decidedAtMs),
      allocations.map((a) => a[0]), allocations.map((a) => a[1]), allocations.map((a) => a[2]), holdDurationS,
    ],
  });
}

export function createWriteBatcher(options: { pool: pg.Pool; batchMax: number; inFlightMax: number; holdDurationS: number }): WriteBatcher {
  assert.ok(options.batchMax >= 1 && options.inFlightMax >= 1);
  let queue: Waiting[] = [];
  let inFlight = 0;
  let scheduled = false;
  const idle: Array<() => void> = [];

  const flush = () => {
    scheduled = false;
    while (queue.length > 0 && inFlight < options.inFlightMax) {
      const batch = queue.slice(0, options.batchMax);
      queue = queue.slice(batch.length);
      inFlight++;
      insertBatch(options.pool, batch.map((waiting) => waiting.booking), options.holdDurationS).then(
        () => {
          for (const waiting of batch) waiting.resolve();
        },
        (error: unknown) => {
          for (const waiting of batch) waiting.reject(error);
        },
      ).finally(() => {
        inFlight--;
        if (queue.length > 0) flush();
        else if (inFlight === 0) for (const wake of idle.splice(0)) wake();
      });
    }
  };

  return {
    write(booking) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ booking, resolve, reject });
        if (queue.length >= options.batchMax) flush();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    drain() {
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}
