import type pg from 'pg';
import type { BookingReason, DecidedStatus } from '@ticketing/shared/domain/booking';
import type { SeatState } from '@ticketing/shared/domain/seat-map';
import { buyerKey, type BookingState, type EventPolicy, type PaymentState, type Plan, type SubsectionInfo } from './plan-batch.ts';

// Postgres access of the reservation service. Hot statements are hand-written SQL with
// unnest() so a whole slice is one round trip to load and one to write; they are named so
// Postgres plans them once per connection.

export interface SubsectionCounts {
  readonly id: number;
  readonly reserved: number;
  readonly sold: number;
  readonly capacity: number;
  // The subsection's projection version after this write (see seat-projection.ts).
  readonly version: number;
}

export interface SubsectionSeats {
  readonly version: number;
  readonly allocations: Array<[number, SeatState]>;
}

export interface StateQuery {
  readonly bookingIds: readonly string[];
  readonly paymentIds: readonly string[];
  // Subsections whose open bookings a cancel-event command releases.
  readonly cancelledSubsections: readonly number[];
  readonly buyers: ReadonlyArray<{ readonly eventId: string; readonly userId: string }>;
}

export interface LoadedState {
  readonly bookings: Map<string, BookingState>;
  readonly payments: Map<string, PaymentState>;
  readonly buyerSeats: Map<string, number>;
}

export interface BookingStore {
  loadState(query: StateQuery): Promise<LoadedState>;
  loadSubsections(ids: readonly number[]): Promise<Map<number, SubsectionInfo>>;
  loadPolicies(eventIds: readonly string[], defaults: { holdDurationS: number; buyerSeatsMax: number }): Promise<Map<string, EventPolicy>>;
  // Taken seats and the projection version they correspond to, read in one snapshot.
  loadSeats(subsectionIds: readonly number[]): Promise<Map<number, SubsectionSeats>>;
  // Applies a plan atomically, moves the projection version of every subsection the slice
  // touched from the one the plan was made against to the next, and returns their counters.
  // Throws StaleStateError when Postgres refuses it because another writer got there first:
  // a subsection whose version moved since it was read, a seat, a booking, a payment.
  writePlan(plan: Plan, touched: ReadonlyArray<{ readonly id: number; readonly version: number }>): Promise<SubsectionCounts[]>;
}

// Another writer moved a seat, a booking, a payment or a buyer's count first (the
// single-writer assumption broke for a moment, e.g. a zombie consumer after a rebalance, or
// the same buyer booking in two partitions at once). Nothing was written; reload and redo.
export class StaleStateError extends Error {
  readonly code = 'STALE_STATE';
  readonly retriable = true;
}

// unique_violation, check_violation, exclusion_violation (payments_one_live), and
// ticketing_assert's TKS01.
const staleCodes = new Set(['23505', '23514', '23P01', 'TKS01']);

// A timestamptz as epoch milliseconds, floored as node-postgres floors one into a Date: json
// would turn it into text in the session's time zone.
const epochMs = (column: string) => `floor(extract(epoch from ${column}) * 1000)::bigint as ${column}_ms`;

const bookingColumns = `id, user_id, fingerprint, event_id, subsection_id, quantity, requested_seats, seats, status, reason,
  ${['created_at', 'decided_at', 'hold_expires_at', 'paid_at', 'released_at'].map(epochMs).join(', ')}, version`;

// Everything a slice reads before deciding, in one statement: at a steady arrival rate a slice
// holds about one command, so its round trips, not its rows, are the cost (BENCHMARK.md,
// Sustained). Each part is one json array, null when empty; int[] columns arrive as JSON arrays.
//
// Every part is a per-key lookup behind a lateral subquery with an offset 0 fence, so the only
// plan is a parameterised index probe per key. A join over the arrays would be planned once per
// connection (node-postgres prepares it; Postgres keeps the generic plan), and a plan made while
// the tables are nearly empty, as in the first seconds of a new deployment's first on-sale, is a
// sequential scan that then grows with every booking: 3.7 ms per slice at 100,000 bookings. The
// test next to this file checks the plan chosen on empty tables.
export const loadStateSql = `
with found as (
  select b.* from unnest($1::uuid[]) as k(id)
    cross join lateral (select ${bookingColumns} from bookings where bookings.id = k.id offset 0) b
  union
  select b.* from unnest($2::int[]) as k(subsection_id)
    cross join lateral (select ${bookingColumns} from bookings where bookings.subsection_id = k.subsection_id and status = 'RESERVED' offset 0) b
), found_payments as (
  select p.* from unnest($3::uuid[]) as k(id)
    cross join lateral (select id, booking_id, status from payments where payments.id = k.id offset 0) p
  union
  select p.* from unnest($1::uuid[]) as k(booking_id)
    cross join lateral (select id, booking_id, status from payments where payments.booking_id = k.booking_id and status <> 'DECLINED' offset 0) p
), found_buyers as (
  select b.* from unnest($4::uuid[], $5::text[]) as k(event_id, user_id)
    cross join lateral (select event_id, user_id, seats from buyer_seats where buyer_seats.event_id = k.event_id and buyer_seats.user_id = k.user_id offset 0) b
)
select (select json_agg(found) from found) as bookings,
       (select json_agg(found_payments) from found_payments) as payments,
       (select json_agg(found_buyers) from found_buyers) as buyers`;

interface BookingRow {
  id: string; user_id: string; fingerprint: string; event_id: string; subsection_id: number; quantity: number; requested_seats: number[] | null;
  seats: number[]; status: DecidedStatus; reason: BookingReason | null; created_at_ms: number; decided_at_ms: number; hold_expires_at_ms: number | null;
  paid_at_ms: number | null; released_at_ms: number | null; version: number;
}

interface StateRow {
  bookings: BookingRow[] | null;
  payments: Array<{ id: string; booking_id: string; status: PaymentState['status'] }> | null;
  buyers: Array<{ event_id: string; user_id: string; seats: number }> | null;
}

const ms = (value: Date | null) => (value === null ? null : value.getTime());

function bookingOf(row: BookingRow): BookingState {
  return {
    id: row.id, userId: row.user_id, fingerprint: row.fingerprint, eventId: row.event_id, subsectionId: row.subsection_id, quantity: row.quantity,
    requestedSeats: row.requested_seats, seats: row.seats, status: row.status, reason: row.reason, createdAtMs: row.created_at_ms,
    decidedAtMs: row.decided_at_ms, holdExpiresAtMs: row.hold_expires_at_ms, paidAtMs: row.paid_at_ms, releasedAtMs: row.released_at_ms, version: row.version,
  };
}

const writePlanSql = `
with new_bookings as (
  insert into bookings (id, user_id, event_id, subsection_id, quantity, requested_seats, seats, status, reason, fingerprint,
                        created_at, decided_at, hold_expires_at, paid_at, released_at, version)
  select t.id, t.user_id, t.event_id, t.subsection_id, t.quantity, t.requested::int[], t.seats::int[], t.status, t.reason, t.fingerprint,
         to_timestamp(t.created / 1000.0), to_timestamp(t.decided / 1000.0), to_timestamp(t.hold / 1000.0), to_timestamp(t.paid / 1000.0),
         to_timestamp(t.released / 1000.0), t.version
  from unnest($1::uuid[], $2::text[], $3::uuid[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
              $11::float8[], $12::float8[], $13::float8[], $14::float8[], $15::float8[], $16::int[])
    as t(id, user_id, event_id, subsection_id, quantity, requested, seats, status, reason, fingerprint, created, decided, hold, paid, released, version)
  returning 1
), changed_bookings as (
  update bookings b set status = t.status, reason = t.reason, paid_at = to_timestamp(t.paid / 1000.0), released_at = to_timestamp(t.released / 1000.0),
                        version = t.version
  from unnest($17::uuid[], $18::int[], $19::text[], $20::text[], $21::float8[], $22::float8[], $23::int[])
    as t(id, from_version, status, reason, paid, released, version)
  where b.id = t.id and b.version = t.from_version
  returning 1
), seats_taken as (
  insert into seat_allocations (subsection_id, seat_index, booking_id, state)
  select * from unnest($24::int[], $25::int[], $26::uuid[], $27::smallint[])
  returning 1
), seats_freed as (
  delete from seat_allocations a using unnest($28::int[], $29::int[], $30::uuid[]) as t(subsection_id, seat_index, booking_id)
  where a.subsection_id = t.subsection_id and a.seat_index = t.seat_index and a.booking_id = t.booking_id
  returning 1
), seats_moved as (
  update seat_allocations a set booking_id = t.to_booking, state = t.state
  from unnest($31::int[], $32::int[], $33::uuid[], $34::uuid[], $35::smallint[]) as t(subsection_id, seat_index, from_booking, to_booking, state)
  where a.subsection_id = t.subsection_id and a.seat_index = t.seat_index and a.booking_id = t.from_booking
  returning 1
), counted as (
  update subsections s set reserved_count = s.reserved_count + t.reserved, sold_count = s.sold_count + t.sold,
                           projection_version = s.projection_version + 1
  from unnest($36::int[], $37::int[], $38::int[], $65::bigint[]) as t(id, reserved, sold, version)
  where s.id = t.id and s.projection_version = t.version
  returning s.id, s.reserved_count, s.sold_count, s.capacity, s.projection_version
), buyers_up as (
  -- The cap check and the increment are one row operation, so concurrent partitions cannot
  -- both pass it; a refused increment returns no row and the assert below rolls back.
  insert into buyer_seats as b (event_id, user_id, seats)
  select t.event_id, t.user_id, t.seats from unnest($39::uuid[], $40::text[], $41::int[], $42::int[]) as t(event_id, user_id, seats, seats_max)
  where t.seats <= t.seats_max
  on conflict (event_id, user_id) do update set seats = b.seats + excluded.seats
  where b.seats + excluded.seats <= (
    select t2.seats_max from unnest($39::uuid[], $40::text[], $42::int[]) as t2(event_id, user_id, seats_max)
    where t2.event_id = b.event_id and t2.user_id = b.user_id)
  returning 1
), buyers_down as (
  -- Releases are plain updates: an insert's check constraint is tested before its conflict,
  -- so a negative insert would fail even where the row exists.
  update buyer_seats b set seats = b.seats + t.seats
  from unnest($61::uuid[], $62::text[], $63::int[]) as t(event_id, user_id, seats)
  where b.event_id = t.event_id and b.user_id = t.user_id
  returning 1
), new_payments as (
  insert into payments (id, booking_id, user_id, amount_cents, status, token)
  select t.id, t.booking_id, t.user_id, t.amount, 'REQUESTED', t.token
  from unnest($43::uuid[], $44::uuid[], $45::text[], $46::int[], $47::text[]) as t(id, booking_id, user_id, amount, token)
  returning 1
), changed_payments as (
  update payments p set status = t.status, provider_ref = coalesce(t.provider_ref, p.provider_ref), decline_reason = coalesce(t.decline_reason, p.decline_reason),
                        token = null, leased_until = null, updated_at = now()
  from unnest($48::uuid[], $49::text[], $50::text[], $51::text[], $52::text[]) as t(id, from_status, status, provider_ref, decline_reason)
  where p.id = t.id and p.status = t.from_status
  returning 1
)
select ticketing_assert(
         (select count(*) from new_bookings) = $53 and (select count(*) from changed_bookings) = $54 and
         (select count(*) from seats_taken) = $55 and (select count(*) from seats_freed) = $56 and (select count(*) from seats_moved) = $57 and
         (select count(*) from buyers_up) = $58 and (select count(*) from new_payments) = $59 and (select count(*) from changed_payments) = $60 and
         (select count(*) from buyers_down) = $64 and (select count(*) from counted) = cardinality($36::int[]),
         'state changed under this writer') as ok,
       coalesce((select json_agg(json_build_object('id', id, 'reserved', reserved_count, 'sold', sold_count, 'capacity', capacity, 'version', projection_version)) from counted), '[]') as counts`;

const pgArray = (values: readonly number[] | null) => (values === null ? null : `{${values.join(',')}}`);

export function createBookingStore(pool: pg.Pool): BookingStore {
  return {
    async loadState(query) {
      if (query.bookingIds.length + query.cancelledSubsections.length + query.buyers.length === 0) {
        return { bookings: new Map(), payments: new Map(), buyerSeats: new Map() };
      }
      const result = await pool.query<StateRow>({
        name: 'reservation.load-state',
        text: loadStateSql,
        values: [
          query.bookingIds, query.cancelledSubsections,
          // Payments are read with the bookings they belong to; a slice of none reads none.
          query.bookingIds.length === 0 ? [] : query.paymentIds,
          query.buyers.map((buyer) => buyer.eventId), query.buyers.map((buyer) => buyer.userId),
        ],
      });
      const row = result.rows[0]!;
      return {
        bookings: new Map((row.bookings ?? []).map((booking) => [booking.id, bookingOf(booking)])),
        payments: new Map((row.payments ?? []).map((payment) => [payment.id, { id: payment.id, bookingId: payment.booking_id, status: payment.status }])),
        buyerSeats: new Map((row.buyers ?? []).map((buyer) => [buyerKey(buyer.event_id, buyer.user_id), buyer.seats])),
      };
    },

    async loadSubsections(ids) {
      const result = await pool.query<{ id: number; event_id: string; section: string; number: number; rows: number; seats_per_row: number; capacity: number; price_cents: number }>({
        name: 'reservation.load-subsections',
        text: 'select id, event_id, section, number, rows, seats_per_row, capacity, price_cents from subsections where id = any($1::int[])',
        values: [ids],
      });
      return new Map(result.rows.map((row) => [row.id, {
        id: row.id, eventId: row.event_id, section: row.section, number: row.number, rows: row.rows, seatsPerRow: row.seats_per_row,
        capacity: row.capacity, priceCents: row.price_cents,
      }]));
    },

    async loadPolicies(eventIds, defaults) {
      const result = await pool.query<{
        id: string; hold_duration_s: number | null; buyer_seats_max: number | null; sales_open_at: Date | null; sales_close_at: Date | null;
        closed_at: Date | null; cancelled_at: Date | null;
      }>({
        name: 'reservation.load-policies',
        text: 'select id, hold_duration_s, buyer_seats_max, sales_open_at, sales_close_at, closed_at, cancelled_at from events where id = any($1::uuid[])',
        values: [eventIds],
      });
      return new Map(result.rows.map((row) => [row.id, {
        holdDurationS: row.hold_duration_s ?? defaults.holdDurationS,
        buyerSeatsMax: row.buyer_seats_max ?? defaults.buyerSeatsMax,
        salesOpenAtMs: ms(row.sales_open_at),
        salesCloseAtMs: ms(row.sales_close_at),
        closedAtMs: ms(row.closed_at),
        cancelledAtMs: ms(row.cancelled_at),
      }]));
    },

    async loadSeats(subsectionIds) {
      const result = await pool.query<{ id: number; version: string; seat_index: number | null; state: SeatState | null }>({
        name: 'reservation.load-seats',
        text: `select s.id, s.projection_version as version, a.seat_index, a.state
               from subsections s left join seat_allocations a on a.subsection_id = s.id
               where s.id = any($1::int[])`,
        values: [subsectionIds],
      });
      const bySubsection = new Map<number, SubsectionSeats>();
      for (const row of result.rows) {
        let seats = bySubsection.get(row.id);
        if (!seats) bySubsection.set(row.id, (seats = { version: Number(row.version), allocations: [] }));
        if (row.seat_index !== null) seats.allocations.push([row.seat_index, row.state!]);
      }
      return bySubsection;
    },

    async writePlan(plan, touched) {
      const values = writeParameters(plan, touched);
      try {
        const result = await pool.query<{ ok: boolean; counts: SubsectionCounts[] }>({ name: 'reservation.write-plan', text: writePlanSql, values });
        return result.rows[0]?.counts ?? [];
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== undefined && staleCodes.has(code)) throw new StaleStateError(`Postgres refused the slice: ${(error as Error).message}`, { cause: error });
        throw error;
      }
    },
  };
}

function writeParameters(plan: Plan, touched: ReadonlyArray<{ readonly id: number; readonly version: number }>): unknown[] {
  const inserts = plan.inserts;
  const updates = plan.updates;
  const taken = plan.seats.filter((write) => write.before === null && write.after !== null);
  const freed = plan.seats.filter((write) => write.before !== null && write.after === null);
  const moved = plan.seats.filter((write) => write.before !== null && write.after !== null);
  // Every touched subsection, so its projection version moves even when its counts do not.
  const counters = touched.map(({ id }) => [id, plan.counters.get(id) ?? { reserved: 0, sold: 0 }] as const);
  const buyers = [...plan.buyerDeltas.values()].filter((delta) => delta.seats > 0);
  const releases = [...plan.buyerDeltas.values()].filter((delta) => delta.seats < 0);
  const column = <T, R>(rows: readonly T[], pick: (row: T) => R) => rows.map(pick);
  return [
    column(inserts, (b) => b.id), column(inserts, (b) => b.userId), column(inserts, (b) => b.eventId), column(inserts, (b) => b.subsectionId),
    column(inserts, (b) => b.quantity), column(inserts, (b) => pgArray(b.requestedSeats)), column(inserts, (b) => pgArray(b.seats)),
    column(inserts, (b) => b.status), column(inserts, (b) => b.reason), column(inserts, (b) => b.fingerprint), column(inserts, (b) => b.createdAtMs),
    column(inserts, (b) => b.decidedAtMs), column(inserts, (b) => b.holdExpiresAtMs), column(inserts, (b) => b.paidAtMs),
    column(inserts, (b) => b.releasedAtMs), column(inserts, (b) => b.version),
    column(updates, (u) => u.after.id), column(updates, (u) => u.before.version), column(updates, (u) => u.after.status),
    column(updates, (u) => u.after.reason), column(updates, (u) => u.after.paidAtMs), column(updates, (u) => u.after.releasedAtMs),
    column(updates, (u) => u.after.version),
    column(taken, (w) => w.subsectionId), column(taken, (w) => w.seat), column(taken, (w) => w.after!.bookingId), column(taken, (w) => w.after!.state),
    column(freed, (w) => w.subsectionId), column(freed, (w) => w.seat), column(freed, (w) => w.before!.bookingId),
    column(moved, (w) => w.subsectionId), column(moved, (w) => w.seat), column(moved, (w) => w.before!.bookingId), column(moved, (w) => w.after!.bookingId),
    column(moved, (w) => w.after!.state),
    column(counters, ([id]) => id), column(counters, ([, delta]) => delta.reserved), column(counters, ([, delta]) => delta.sold),
    column(buyers, (b) => b.eventId), column(buyers, (b) => b.userId), column(buyers, (b) => b.seats), column(buyers, (b) => b.seatsMax),
    column(plan.newPayments, (p) => p.id), column(plan.newPayments, (p) => p.bookingId), column(plan.newPayments, (p) => p.userId),
    column(plan.newPayments, (p) => p.amountCents), column(plan.newPayments, (p) => p.token),
    column(plan.paymentChanges, (p) => p.id), column(plan.paymentChanges, (p) => p.from), column(plan.paymentChanges, (p) => p.to),
    column(plan.paymentChanges, (p) => p.providerRef ?? null), column(plan.paymentChanges, (p) => p.declineReason ?? null),
    inserts.length, updates.length, taken.length, freed.length, moved.length, buyers.length, plan.newPayments.length, plan.paymentChanges.length,
    column(releases, (b) => b.eventId), column(releases, (b) => b.userId), column(releases, (b) => b.seats), releases.length,
    touched.map(({ version }) => version),
  ];
}
