import { SeatState } from '@ticketing/shared/domain/seat-map';
import { StaleStateError, type BookingStore, type SubsectionCounts } from '../../src/reservations/booking-store.ts';
import { buyerKey, type BookingState, type EventPolicy, type PaymentStatus, type Plan, type SeatWrite, type SubsectionInfo } from '../../src/reservations/plan-batch.ts';

// Postgres as the reservation core sees it, in memory: the rows of bookings, seat_allocations,
// subsections, buyer_seats, payments and events, with the constraints of the migrations and
// the write statement of booking-store.ts.
//
// writePlan is one statement there; here it is one function with the same outcome. It works
// on a copy of the tables and swaps it in only if every part applied, and it refuses with
// StaleStateError exactly where Postgres raises 23505, 23514 or TKS01. Two details of
// Postgres's execution matter and are kept:
//   - every part reads the statement's snapshot (a guard never sees another part's rows), but
//     unique indexes see the rows earlier parts already wrote;
//   - the parts run in the order the final select pulls them: bookings inserted, bookings
//     updated, seats taken, freed, moved, buyers up, payments inserted, payments changed,
//     buyers down, then counters. The one-live-payment rule (payments_one_live) is a deferred
//     exclusion constraint, so it is checked once, at the end of the statement.

export interface EventRow {
  readonly id: string;
  readonly holdDurationS: number | null;
  readonly buyerSeatsMax: number | null;
  readonly salesOpenAtMs: number | null;
  readonly salesCloseAtMs: number | null;
  readonly closedAtMs: number | null;
  readonly cancelledAtMs: number | null;
}

export interface SubsectionRow extends SubsectionInfo {
  readonly reservedCount: number;
  readonly soldCount: number;
  readonly projectionVersion: number;
}

export interface BookingRow extends BookingState {
  readonly expiryRequestedAtMs: number | null;
}

export interface SeatRow {
  readonly subsectionId: number;
  readonly seat: number;
  readonly bookingId: string;
  readonly state: number;
}

export interface BuyerRow {
  readonly eventId: string;
  readonly userId: string;
  readonly seats: number;
}

export interface PaymentRow {
  readonly id: string;
  readonly bookingId: string;
  readonly userId: string;
  readonly amountCents: number;
  readonly status: PaymentStatus;
  readonly token: string | null;
  readonly providerRef: string | null;
  readonly declineReason: string | null;
  readonly refundRef: string | null;
  readonly leasedUntilMs: number | null;
  readonly attempts: number;
  // Insertion order stands in for created_at, which orders the payment worker's leases.
  readonly createdSeq: number;
}

export interface Tables {
  readonly events: Map<string, EventRow>;
  readonly subsections: Map<number, SubsectionRow>;
  readonly bookings: Map<string, BookingRow>;
  readonly seats: Map<string, SeatRow>;
  readonly buyers: Map<string, BuyerRow>;
  readonly payments: Map<string, PaymentRow>;
}

// Postgres's 23503: not one of the codes booking-store.ts maps to StaleStateError, so the
// consumer would retry it as an infrastructure error.
export class ForeignKeyViolation extends Error {
  readonly code = '23503';
}

export interface LeasedPayment {
  readonly payment: PaymentRow;
  readonly eventId: string;
  readonly subsectionId: number;
  readonly section: string;
  readonly number: number;
}

export interface ClaimedExpiry {
  readonly bookingId: string;
  readonly eventId: string;
  readonly subsectionId: number;
  readonly section: string;
  readonly number: number;
}

export interface MemoryBookingStore {
  readonly store: BookingStore;
  tables(): Tables;
  // Counts the write statements applied so far: what a read saw is older than any write after it.
  version(): number;
  // The organizer's PATCH {status: CANCELLED}: cancelled_at and closed_at, set once.
  cancelEvent(eventId: string, nowMs: number): void;
  // The expiry sweeper's claim (expiry-sweeper.ts): due holds, each at most once per requestAgainMs.
  claimExpiries(nowMs: number, requestAgainMs: number, limit: number): ClaimedExpiry[];
  // The payment worker's lease (payment-worker.ts).
  leasePayments(nowMs: number, leaseMs: number, limit: number): LeasedPayment[];
  // The payment worker's refund record: applies only to a payment still REFUND_REQUIRED.
  markRefunded(paymentId: string, refundRef: string): void;
}

const seatKey = (subsectionId: number, seat: number) => `${subsectionId}:${seat}`;
const decidedStatuses = new Set(['RESERVED', 'REJECTED', 'PAID', 'EXPIRED', 'CANCELLED']);
const paymentStatuses = new Set<PaymentStatus>(['REQUESTED', 'CAPTURED', 'DECLINED', 'REFUND_REQUIRED', 'REFUNDED']);

export function createMemoryBookingStore(setup: { events: readonly EventRow[]; subsections: readonly SubsectionInfo[] }): MemoryBookingStore {
  let tables: Tables = {
    events: new Map(setup.events.map((event) => [event.id, event])),
    subsections: new Map(setup.subsections.map((info) => [info.id, { ...info, reservedCount: 0, soldCount: 0, projectionVersion: 0 }])),
    bookings: new Map(),
    seats: new Map(),
    buyers: new Map(),
    payments: new Map(),
  };
  let paymentSeq = 0;
  let version = 0;

  const store: BookingStore = {
    async loadState(query) {
      const bookings = new Map<string, BookingState>();
      if (query.bookingIds.length + query.cancelledSubsections.length > 0) {
        for (const id of query.bookingIds) {
          const row = tables.bookings.get(id);
          if (row) bookings.set(id, bookingOf(row));
        }
        const cancelled = new Set(query.cancelledSubsections);
        for (const row of tables.bookings.values()) {
          if (cancelled.has(row.subsectionId) && row.status === 'RESERVED') bookings.set(row.id, bookingOf(row));
        }
      }
      const payments = new Map<string, { id: string; bookingId: string; status: PaymentStatus }>();
      if (query.bookingIds.length > 0) {
        const ids = new Set(query.paymentIds);
        const bookingIds = new Set(query.bookingIds);
        for (const row of tables.payments.values()) {
          if (ids.has(row.id) || (bookingIds.has(row.bookingId) && row.status !== 'DECLINED')) payments.set(row.id, { id: row.id, bookingId: row.bookingId, status: row.status });
        }
      }
      const buyerSeats = new Map<string, number>();
      for (const buyer of query.buyers) {
        const row = tables.buyers.get(buyerKey(buyer.eventId, buyer.userId));
        if (row) buyerSeats.set(buyerKey(row.eventId, row.userId), row.seats);
      }
      return { bookings, payments, buyerSeats };
    },

    async loadSubsections(ids) {
      const found = new Map<number, SubsectionInfo>();
      for (const id of ids) {
        const row = tables.subsections.get(id);
        if (row) found.set(id, { id: row.id, eventId: row.eventId, section: row.section, number: row.number, rows: row.rows, seatsPerRow: row.seatsPerRow, capacity: row.capacity, priceCents: row.priceCents });
      }
      return found;
    },

    async loadPolicies(eventIds, defaults) {
      const found = new Map<string, EventPolicy>();
      for (const id of eventIds) {
        const row = tables.events.get(id);
        if (!row) continue;
        found.set(id, {
          holdDurationS: row.holdDurationS ?? defaults.holdDurationS,
          buyerSeatsMax: row.buyerSeatsMax ?? defaults.buyerSeatsMax,
          salesOpenAtMs: row.salesOpenAtMs,
          salesCloseAtMs: row.salesCloseAtMs,
          closedAtMs: row.closedAtMs,
          cancelledAtMs: row.cancelledAtMs,
        });
      }
      return found;
    },

    async loadSeats(subsectionIds) {
      const bySubsection = new Map<number, { version: number; allocations: Array<[number, SeatState]> }>();
      for (const id of subsectionIds) {
        const row = tables.subsections.get(id);
        if (row) bySubsection.set(id, { version: row.projectionVersion, allocations: [] });
      }
      for (const row of tables.seats.values()) bySubsection.get(row.subsectionId)?.allocations.push([row.seat, row.state as SeatState]);
      return bySubsection;
    },

    async writePlan(plan, touched) {
      const { next, counts } = applyPlan(tables, plan, touched);
      tables = next;
      version++;
      return counts;
    },
  };

  return {
    store,
    tables: () => tables,
    version: () => version,

    cancelEvent(eventId, nowMs) {
      const row = tables.events.get(eventId);
      if (!row) return;
      tables.events.set(eventId, { ...row, cancelledAtMs: row.cancelledAtMs ?? nowMs, closedAtMs: row.closedAtMs ?? nowMs });
    },

    claimExpiries(nowMs, requestAgainMs, limit) {
      const due = [...tables.bookings.values()]
        .filter((row) => row.status === 'RESERVED' && row.holdExpiresAtMs !== null && row.holdExpiresAtMs <= nowMs
          && (row.expiryRequestedAtMs === null || row.expiryRequestedAtMs < nowMs - requestAgainMs))
        .sort((a, b) => a.holdExpiresAtMs! - b.holdExpiresAtMs!)
        .slice(0, limit);
      return due.map((row) => {
        tables.bookings.set(row.id, { ...row, expiryRequestedAtMs: nowMs });
        const subsection = tables.subsections.get(row.subsectionId)!;
        return { bookingId: row.id, eventId: row.eventId, subsectionId: row.subsectionId, section: subsection.section, number: subsection.number };
      });
    },

    leasePayments(nowMs, leaseMs, limit) {
      const due = [...tables.payments.values()]
        .filter((row) => (row.status === 'REQUESTED' || row.status === 'REFUND_REQUIRED') && (row.leasedUntilMs === null || row.leasedUntilMs < nowMs))
        .sort((a, b) => a.createdSeq - b.createdSeq)
        .slice(0, limit);
      return due.map((row) => {
        const leased = { ...row, leasedUntilMs: nowMs + leaseMs, attempts: row.attempts + 1 };
        tables.payments.set(row.id, leased);
        const booking = tables.bookings.get(row.bookingId)!;
        const subsection = tables.subsections.get(booking.subsectionId)!;
        return { payment: leased, eventId: booking.eventId, subsectionId: booking.subsectionId, section: subsection.section, number: subsection.number };
      });
    },

    markRefunded(paymentId, refundRef) {
      const row = tables.payments.get(paymentId);
      if (row?.status === 'REFUND_REQUIRED') tables.payments.set(paymentId, { ...row, status: 'REFUNDED', refundRef, leasedUntilMs: null });
    },
  };

  // One write statement. `snapshot` is what every part reads; `tx` collects what they write.
  function applyPlan(snapshot: Tables, plan: Plan, touched: ReadonlyArray<{ readonly id: number; readonly version: number }>): { next: Tables; counts: SubsectionCounts[] } {
    const tx: Tables = {
      events: snapshot.events,
      subsections: new Map(snapshot.subsections),
      bookings: new Map(snapshot.bookings),
      seats: new Map(snapshot.seats),
      buyers: new Map(snapshot.buyers),
      payments: new Map(snapshot.payments),
    };
    insertBookings(tx, plan.inserts);
    updateBookings(snapshot, tx, plan.updates);
    const taken = plan.seats.filter((write) => write.before === null && write.after !== null);
    const freed = plan.seats.filter((write) => write.before !== null && write.after === null);
    const moved = plan.seats.filter((write) => write.before !== null && write.after !== null);
    takeSeats(tx, taken);
    freeSeats(snapshot, tx, freed);
    moveSeats(snapshot, tx, moved);
    const deltas = [...plan.buyerDeltas.values()];
    raiseBuyers(tx, deltas.filter((delta) => delta.seats > 0));
    insertPayments(tx, plan);
    changePayments(snapshot, tx, plan);
    lowerBuyers(snapshot, tx, deltas.filter((delta) => delta.seats < 0));
    const counts = moveCounters(tx, plan, touched);
    checkOneLivePayment(tx);
    return { next: tx, counts };
  }

  function insertBookings(tx: Tables, inserts: readonly BookingState[]) {
    for (const booking of inserts) {
      if (tx.bookings.has(booking.id)) refuse(`bookings_pkey: ${booking.id} exists`);
      if (!tx.events.has(booking.eventId) || !tx.subsections.has(booking.subsectionId)) throw new ForeignKeyViolation(`booking ${booking.id} names no event or subsection`);
      const row: BookingRow = { ...booking, seats: [...booking.seats], requestedSeats: booking.requestedSeats && [...booking.requestedSeats], expiryRequestedAtMs: null };
      checkBooking(row);
      tx.bookings.set(row.id, row);
    }
  }

  // `update bookings b set status, reason, paid_at, released_at, version ... where b.version =
  // from_version`: only those columns change, whatever else the plan's row says.
  function updateBookings(snapshot: Tables, tx: Tables, updates: Plan['updates']) {
    const done = new Set<string>();
    for (const { before, after } of updates) {
      const row = snapshot.bookings.get(after.id);
      if (!row || row.version !== before.version || done.has(after.id)) refuse(`booking ${after.id} is not at version ${before.version}`);
      done.add(after.id);
      const next: BookingRow = { ...row, status: after.status, reason: after.reason, paidAtMs: after.paidAtMs, releasedAtMs: after.releasedAtMs, version: after.version };
      checkBooking(next);
      tx.bookings.set(next.id, next);
    }
  }

  function takeSeats(tx: Tables, taken: readonly SeatWrite[]) {
    for (const write of taken) {
      const key = seatKey(write.subsectionId, write.seat);
      if (tx.seats.has(key)) refuse(`seat_allocations_seat: seat ${key} is taken`);
      checkSeatState(write.after!.state);
      if (!tx.bookings.has(write.after!.bookingId)) throw new ForeignKeyViolation(`seat ${key} names no booking`);
      tx.seats.set(key, { subsectionId: write.subsectionId, seat: write.seat, bookingId: write.after!.bookingId, state: write.after!.state });
    }
  }

  function freeSeats(snapshot: Tables, tx: Tables, freed: readonly SeatWrite[]) {
    for (const write of freed) {
      const key = seatKey(write.subsectionId, write.seat);
      if (snapshot.seats.get(key)?.bookingId !== write.before!.bookingId) refuse(`seat ${key} is not owned by ${write.before!.bookingId}`);
      tx.seats.delete(key);
    }
  }

  function moveSeats(snapshot: Tables, tx: Tables, moved: readonly SeatWrite[]) {
    for (const write of moved) {
      const key = seatKey(write.subsectionId, write.seat);
      if (snapshot.seats.get(key)?.bookingId !== write.before!.bookingId) refuse(`seat ${key} is not owned by ${write.before!.bookingId}`);
      checkSeatState(write.after!.state);
      if (!tx.bookings.has(write.after!.bookingId)) throw new ForeignKeyViolation(`seat ${key} names no booking`);
      tx.seats.set(key, { subsectionId: write.subsectionId, seat: write.seat, bookingId: write.after!.bookingId, state: write.after!.state });
    }
  }

  // The cap check and the increment are one row operation: a new row only if it fits, an
  // existing one only while the sum stays within the cap.
  function raiseBuyers(tx: Tables, raises: ReadonlyArray<{ eventId: string; userId: string; seats: number; seatsMax: number }>) {
    for (const delta of raises) {
      const key = buyerKey(delta.eventId, delta.userId);
      const row = tx.buyers.get(key);
      const total = (row?.seats ?? 0) + delta.seats;
      if (delta.seats > delta.seatsMax || total > delta.seatsMax) refuse(`buyer ${delta.userId} would hold ${total} > ${delta.seatsMax}`);
      tx.buyers.set(key, { eventId: delta.eventId, userId: delta.userId, seats: total });
    }
  }

  // Releases are plain updates of an existing row; the check keeps it at zero or above.
  function lowerBuyers(snapshot: Tables, tx: Tables, releases: ReadonlyArray<{ eventId: string; userId: string; seats: number }>) {
    for (const delta of releases) {
      const key = buyerKey(delta.eventId, delta.userId);
      const row = snapshot.buyers.get(key);
      if (!row) refuse(`buyer ${delta.userId} has no count to lower`);
      const seats = tx.buyers.get(key)!.seats + delta.seats;
      if (seats < 0) refuse(`buyer_seats_count: ${delta.userId} would hold ${seats}`);
      tx.buyers.set(key, { ...row, seats });
    }
  }

  function insertPayments(tx: Tables, plan: Plan) {
    for (const payment of plan.newPayments) {
      if (tx.payments.has(payment.id)) refuse(`payments_pkey: ${payment.id} exists`);
      if (!tx.bookings.has(payment.bookingId)) throw new ForeignKeyViolation(`payment ${payment.id} names no booking`);
      tx.payments.set(payment.id, {
        id: payment.id, bookingId: payment.bookingId, userId: payment.userId, amountCents: payment.amountCents, status: 'REQUESTED', token: payment.token,
        providerRef: null, declineReason: null, refundRef: null, leasedUntilMs: null, attempts: 0, createdSeq: ++paymentSeq,
      });
    }
  }

  function changePayments(snapshot: Tables, tx: Tables, plan: Plan) {
    for (const change of plan.paymentChanges) {
      const row = snapshot.payments.get(change.id);
      if (!row || row.status !== change.from || tx.payments.get(change.id)?.status !== change.from) refuse(`payment ${change.id} is not ${change.from}`);
      if (!paymentStatuses.has(change.to)) refuse(`payments_status: ${change.to}`);
      tx.payments.set(row.id, {
        ...row, status: change.to, providerRef: change.providerRef ?? row.providerRef, declineReason: change.declineReason ?? row.declineReason, token: null, leasedUntilMs: null,
      });
    }
  }

  // payments_one_live, deferred: checked once every part of the statement has run.
  function checkOneLivePayment(tx: Tables) {
    const live = new Set<string>();
    for (const row of tx.payments.values()) {
      if (row.status === 'DECLINED') continue;
      if (live.has(row.bookingId)) refuse(`payments_one_live: booking ${row.bookingId} has two live payments`);
      live.add(row.bookingId);
    }
  }

  // Every touched subsection's version moves, as the statement's counter update does.
  function moveCounters(tx: Tables, plan: Plan, touched: ReadonlyArray<{ readonly id: number; readonly version: number }>): SubsectionCounts[] {
    const counts: SubsectionCounts[] = [];
    for (const { id, version } of touched) {
      const delta = plan.counters.get(id) ?? { reserved: 0, sold: 0 };
      const row = tx.subsections.get(id);
      // The statement's guard: the subsection must still be at the version the plan saw.
      if (!row || row.projectionVersion !== version) refuse(`subsection ${id} moved from version ${version} to ${row?.projectionVersion}`);
      const next = { ...row, reservedCount: row.reservedCount + delta.reserved, soldCount: row.soldCount + delta.sold, projectionVersion: row.projectionVersion + 1 };
      if (next.reservedCount < 0 || next.soldCount < 0 || next.reservedCount + next.soldCount > next.capacity) {
        refuse(`subsections_counts: ${id} would have ${next.reservedCount} reserved and ${next.soldCount} sold of ${next.capacity}`);
      }
      tx.subsections.set(id, next);
      counts.push({ id, reserved: next.reservedCount, sold: next.soldCount, capacity: next.capacity, version: next.projectionVersion });
    }
    return counts;
  }
}

function refuse(why: string): never {
  throw new StaleStateError(`memory store refused the slice: ${why}`);
}

// bookings_status, bookings_seats_match and bookings_hold.
function checkBooking(row: BookingRow) {
  if (!decidedStatuses.has(row.status)) refuse(`bookings_status: ${row.status}`);
  const rejected = row.status === 'REJECTED';
  if (rejected !== (row.seats.length === 0) || (!rejected && row.seats.length !== row.quantity)) refuse(`bookings_seats_match: ${row.id}`);
  if (!rejected && row.holdExpiresAtMs === null) refuse(`bookings_hold: ${row.id}`);
}

function checkSeatState(state: number) {
  if (state !== SeatState.RESERVED && state !== SeatState.SOLD) refuse(`seat_allocations_state: ${state}`);
}

function bookingOf(row: BookingRow): BookingState {
  const { expiryRequestedAtMs: _expiryRequestedAtMs, ...booking } = row;
  return { ...booking, seats: [...row.seats], requestedSeats: row.requestedSeats && [...row.requestedSeats] };
}
