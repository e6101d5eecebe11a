import assert from 'node:assert/strict';
import { BookingReason, BookingStatus, canTransition, type DecidedStatus } from '@ticketing/shared/domain/booking';
import { acceptsBookings, type SalesPolicy } from '@ticketing/shared/domain/event-status';
import { SeatState } from '@ticketing/shared/domain/seat-map';
import type {
  BookingNotice,
  CancelCommand,
  CancelEventCommand,
  Command,
  ExpireCommand,
  PayCommand,
  PaymentResultCommand,
  ReserveCommand,
} from '@ticketing/shared/messaging/messages';
import { checkManualSeats, findBestAvailable } from '../seating/seat-finder.ts';
import { setSeatState, type SeatGrid } from '../seating/seat-grid.ts';

// The functional core of the reservation service: given a partition's commands in offset
// order, the state Postgres holds for everything they touch, and the seat grid of every
// subsection involved, decide each command in order (docs/booking-lifecycle.md). No I/O; the
// clock is an argument.
//
// The result is a net change set: every booking is written once, in its final state, whatever
// happened to it within the slice; every seat is written once, as the difference between its
// owner in Postgres and its owner at the end. That is what lets one SQL statement apply a
// slice, with guards that make it roll back whole if anyone else moved the same rows.
//
// Redelivery is harmless: a command whose effect is already recorded (a reserve for a decided
// id, a cancel of a cancelled booking, a second payment result) changes nothing, and the
// booking it names is projected and published again.

export interface BookingState {
  readonly id: string;
  readonly userId: string;
  readonly fingerprint: string;
  readonly eventId: string;
  readonly subsectionId: number;
  readonly quantity: number;
  readonly requestedSeats: readonly number[] | null;
  readonly seats: readonly number[];
  readonly status: DecidedStatus;
  readonly reason: BookingReason | null;
  readonly createdAtMs: number;
  readonly decidedAtMs: number;
  readonly holdExpiresAtMs: number | null;
  readonly paidAtMs: number | null;
  readonly releasedAtMs: number | null;
  readonly version: number;
}

export type PaymentStatus = 'REQUESTED' | 'CAPTURED' | 'DECLINED' | 'REFUND_REQUIRED' | 'REFUNDED';

export interface PaymentState {
  readonly id: string;
  readonly bookingId: string;
  readonly status: PaymentStatus;
}

export interface EventPolicy extends SalesPolicy {
  readonly holdDurationS: number;
  readonly buyerSeatsMax: number;
}

export interface SubsectionInfo {
  readonly id: number;
  readonly eventId: string;
  readonly section: string;
  readonly number: number;
  readonly rows: number;
  readonly seatsPerRow: number;
  readonly capacity: number;
  readonly priceCents: number;
}

export interface PlanInput {
  readonly commands: readonly Command[];
  // Every booking the commands name that Postgres has, plus the open bookings of every
  // subsection a cancel-event command names.
  readonly bookings: ReadonlyMap<string, BookingState>;
  // Payments the commands name, and every live (not declined) payment of those bookings.
  readonly payments: ReadonlyMap<string, PaymentState>;
  // Seats each (event, buyer) of a reserve command holds now, keyed by buyerKey().
  readonly buyerSeats: ReadonlyMap<string, number>;
  readonly policies: ReadonlyMap<string, EventPolicy>;
  readonly subsections: ReadonlyMap<number, SubsectionInfo>;
  // Mutated: the grids end in the state the plan leaves them in.
  readonly grids: ReadonlyMap<number, SeatGrid>;
  readonly nowMs: number;
}

export interface SeatOwner {
  readonly bookingId: string;
  readonly state: number;
}

export interface SeatWrite {
  readonly subsectionId: number;
  readonly seat: number;
  // Who owns the seat in Postgres now, and who must own it after the slice (null: free).
  readonly before: SeatOwner | null;
  readonly after: SeatOwner | null;
}

export interface NewPayment {
  readonly id: string;
  readonly bookingId: string;
  readonly userId: string;
  readonly amountCents: number;
  readonly token: string;
}

export interface PaymentChange {
  readonly id: string;
  readonly from: PaymentStatus;
  readonly to: PaymentStatus;
  readonly providerRef?: string;
  readonly declineReason?: string;
}

export interface Plan {
  readonly inserts: BookingState[];
  readonly updates: Array<{ readonly before: BookingState; readonly after: BookingState }>;
  // Bookings a command named whose state did not change: projected and published again.
  readonly replays: BookingState[];
  readonly seats: SeatWrite[];
  readonly counters: Map<number, { reserved: number; sold: number }>;
  readonly buyerDeltas: Map<string, { eventId: string; userId: string; seats: number; seatsMax: number }>;
  readonly newPayments: NewPayment[];
  readonly paymentChanges: PaymentChange[];
  readonly notices: BookingNotice[];
  readonly ignored: Array<{ command: Command; problem: string }>;
}

export function buyerKey(eventId: string, userId: string): string {
  return `${eventId}\u0000${userId}`;
}

interface Touch {
  readonly subsectionId: number;
  readonly seat: number;
  readonly before: SeatOwner | null;
  after: SeatOwner | null;
}

export function planBatch(input: PlanInput): Plan {
  const original = input.bookings;
  const current = new Map(original);
  const created = new Set<string>();
  // Insertion-ordered: records are projected in the order the commands touched them.
  const touchedBookings = new Set<string>();
  const payments = new Map(input.payments);
  const touches = new Map<string, Touch>();
  // Events a cancel-event command of this slice cancelled: later commands must see it even
  // though the policy they were given was read before.
  const cancelledEvents = new Set<string>();
  const isCancelled = (eventId: string) => cancelledEvents.has(eventId) || input.policies.get(eventId)?.cancelledAtMs != null;
  const plan: Plan = {
    inserts: [], updates: [], replays: [], seats: [], counters: new Map(), buyerDeltas: new Map(),
    newPayments: [], paymentChanges: [], notices: [], ignored: [],
  };

  const touchBooking = (id: string) => {
    touchedBookings.add(id);
  };
  const grid = (subsectionId: number) => {
    const found = input.grids.get(subsectionId);
    assert.ok(found, `no seat grid loaded for subsection ${subsectionId}`);
    return found;
  };
  const counter = (subsectionId: number) => {
    let found = plan.counters.get(subsectionId);
    if (!found) plan.counters.set(subsectionId, (found = { reserved: 0, sold: 0 }));
    return found;
  };
  const setSeat = (subsectionId: number, seat: number, before: SeatOwner | null, after: SeatOwner | null) => {
    const key = `${subsectionId}:${seat}`;
    let touch = touches.get(key);
    if (!touch) touches.set(key, (touch = { subsectionId, seat, before, after }));
    touch.after = after;
    setSeatState(grid(subsectionId), seat, (after?.state ?? SeatState.FREE) as 0 | 1 | 2);
  };
  const moveBuyer = (booking: BookingState, delta: number) => {
    const key = buyerKey(booking.eventId, booking.userId);
    const policy = input.policies.get(booking.eventId);
    let entry = plan.buyerDeltas.get(key);
    if (!entry) plan.buyerDeltas.set(key, (entry = { eventId: booking.eventId, userId: booking.userId, seats: 0, seatsMax: policy?.buyerSeatsMax ?? Number.MAX_SAFE_INTEGER }));
    entry.seats += delta;
  };
  const buyerHolds = (eventId: string, userId: string) => {
    const key = buyerKey(eventId, userId);
    return (input.buyerSeats.get(key) ?? 0) + (plan.buyerDeltas.get(key)?.seats ?? 0);
  };
  const transition = (booking: BookingState, to: DecidedStatus, changes: Partial<BookingState>): BookingState => {
    assert.ok(canTransition(booking.status, to), `illegal transition ${booking.status} → ${to} for ${booking.id}`);
    const next = { ...booking, ...changes, status: to, version: booking.version + 1 };
    current.set(booking.id, next);
    touchBooking(booking.id);
    return next;
  };
  // Seats of a reserved booking go back to free (expired or cancelled).
  const release = (booking: BookingState, to: 'EXPIRED' | 'CANCELLED', reason: BookingReason, atMs: number) => {
    for (const seat of booking.seats) setSeat(booking.subsectionId, seat, { bookingId: booking.id, state: SeatState.RESERVED }, null);
    counter(booking.subsectionId).reserved -= booking.quantity;
    moveBuyer(booking, -booking.quantity);
    return transition(booking, to, { reason, releasedAtMs: atMs });
  };
  const holdElapsed = (booking: BookingState, atMs: number) => booking.holdExpiresAtMs !== null && atMs >= booking.holdExpiresAtMs;
  const ignore = (command: Command, problem: string) => plan.ignored.push({ command, problem });

  const reserve = (command: ReserveCommand) => {
    const existing = current.get(command.bookingId);
    if (existing) {
      if (existing.fingerprint !== command.fingerprint || existing.userId !== command.userId) return ignore(command, 'booking id reused for a different request');
      return touchBooking(existing.id);
    }
    const policy = input.policies.get(command.eventId);
    const subsection = input.subsections.get(command.subsectionId);
    if (!policy || !subsection) return ignore(command, 'event or subsection does not exist');
    const base = {
      id: command.bookingId, userId: command.userId, fingerprint: command.fingerprint, eventId: command.eventId, subsectionId: command.subsectionId,
      quantity: command.quantity, requestedSeats: command.seats ?? null, createdAtMs: command.atMs, decidedAtMs: input.nowMs,
      paidAtMs: null, releasedAtMs: null, version: 1,
    };
    const reject = (reason: BookingReason) => {
      current.set(base.id, { ...base, seats: [], status: BookingStatus.REJECTED, reason, holdExpiresAtMs: null });
      created.add(base.id);
      touchBooking(base.id);
    };
    // A cancelled event takes nothing, however early the booking was made; closing sales and
    // the sales window apply at the moment the booking was accepted.
    if (isCancelled(command.eventId) || !acceptsBookings(policy, command.atMs)) return reject(BookingReason.EVENT_NOT_ON_SALE);
    if (buyerHolds(command.eventId, command.userId) + command.quantity > policy.buyerSeatsMax) return reject(BookingReason.LIMIT_EXCEEDED);
    const seats = pickSeats(command, grid(command.subsectionId));
    if (!seats.ok) return reject(seats.reason);
    const booking: BookingState = {
      ...base, seats: seats.seats, status: BookingStatus.RESERVED, reason: null, holdExpiresAtMs: input.nowMs + policy.holdDurationS * 1000,
    };
    for (const seat of booking.seats) setSeat(booking.subsectionId, seat, null, { bookingId: booking.id, state: SeatState.RESERVED });
    counter(booking.subsectionId).reserved += booking.quantity;
    moveBuyer(booking, booking.quantity);
    current.set(booking.id, booking);
    created.add(booking.id);
    touchBooking(booking.id);
  };

  // Cancel, expire and pay all start by letting a hold that already ran out expire: whatever
  // arrives after holdExpiresAt finds the seats free again.
  const withLiveHold = (command: CancelCommand | ExpireCommand | PayCommand | PaymentResultCommand, atMs: number): BookingState | undefined => {
    const booking = current.get(command.bookingId);
    if (!booking) {
      ignore(command, 'no such booking');
      return undefined;
    }
    touchBooking(booking.id);
    if (booking.status === BookingStatus.RESERVED && holdElapsed(booking, atMs)) {
      release(booking, BookingStatus.EXPIRED, BookingReason.HOLD_EXPIRED, Math.max(atMs, booking.holdExpiresAtMs!));
      return undefined;
    }
    return booking.status === BookingStatus.RESERVED ? booking : undefined;
  };

  const cancel = (command: CancelCommand) => {
    const booking = withLiveHold(command, input.nowMs);
    if (booking) release(booking, BookingStatus.CANCELLED, command.by === 'organizer' ? BookingReason.CANCELLED_BY_ORGANIZER : BookingReason.CANCELLED_BY_BUYER, input.nowMs);
  };

  // The sweeper asks once the hold ran out by the database's clock; the command's own time
  // makes the decision independent of this process's clock.
  const expire = (command: ExpireCommand) => {
    withLiveHold(command, Math.max(input.nowMs, command.atMs));
  };

  const pay = (command: PayCommand) => {
    const booking = withLiveHold(command, input.nowMs);
    if (!booking) return;
    // A cancelled event sells nothing more, even if its cancel-event command has not reached
    // this booking yet.
    if (isCancelled(booking.eventId)) {
      release(booking, BookingStatus.CANCELLED, BookingReason.EVENT_CANCELLED, input.nowMs);
      return;
    }
    // Paying twice never charges twice: while one payment is live, further ones are ignored.
    const live = [...payments.values()].find((payment) => payment.bookingId === booking.id && payment.status !== 'DECLINED');
    if (live || payments.has(command.paymentId)) return;
    const subsection = input.subsections.get(booking.subsectionId);
    assert.ok(subsection, `subsection ${booking.subsectionId} not loaded`);
    const payment = { id: command.paymentId, bookingId: booking.id, userId: booking.userId, amountCents: subsection.priceCents * booking.quantity, token: command.paymentToken };
    plan.newPayments.push(payment);
    payments.set(payment.id, { id: payment.id, bookingId: booking.id, status: 'REQUESTED' });
  };

  const paymentResult = (command: PaymentResultCommand) => {
    const payment = payments.get(command.paymentId);
    if (!payment || payment.status !== 'REQUESTED') {
      if (!payment) ignore(command, 'no such payment');
      touchBooking(command.bookingId);
      return;
    }
    const changePayment = (to: PaymentStatus, extra: Partial<PaymentChange> = {}) => {
      plan.paymentChanges.push({ id: payment.id, from: payment.status, to, ...extra });
      payments.set(payment.id, { ...payment, status: to });
    };
    if (command.outcome === 'declined') {
      changePayment('DECLINED', { declineReason: command.declineReason ?? 'declined' });
      plan.notices.push({ bookingId: command.bookingId, kind: 'PAYMENT_DECLINED', paymentId: payment.id, reason: command.declineReason ?? 'declined' });
      touchBooking(command.bookingId);
      return;
    }
    const providerRef = command.providerRef ? { providerRef: command.providerRef } : {};
    const booking = withLiveHold(command, input.nowMs);
    if (!booking) {
      // The money arrived for seats the booking no longer holds: give it back.
      changePayment('REFUND_REQUIRED', providerRef);
      return;
    }
    for (const seat of booking.seats) setSeat(booking.subsectionId, seat, { bookingId: booking.id, state: SeatState.RESERVED }, { bookingId: booking.id, state: SeatState.SOLD });
    const counts = counter(booking.subsectionId);
    counts.reserved -= booking.quantity;
    counts.sold += booking.quantity;
    transition(booking, BookingStatus.PAID, { paidAtMs: input.nowMs });
    changePayment('CAPTURED', providerRef);
  };

  const cancelEvent = (command: CancelEventCommand) => {
    cancelledEvents.add(command.eventId);
    for (const booking of [...current.values()]) {
      if (booking.subsectionId === command.subsectionId && booking.status === BookingStatus.RESERVED) {
        release(booking, BookingStatus.CANCELLED, BookingReason.EVENT_CANCELLED, input.nowMs);
      }
    }
  };

  for (const command of input.commands) {
    switch (command.type) {
      case 'reserve': reserve(command); break;
      case 'cancel': cancel(command); break;
      case 'expire': expire(command); break;
      case 'pay': pay(command); break;
      case 'payment-result': paymentResult(command); break;
      case 'cancel-event': cancelEvent(command); break;
    }
  }

  for (const id of touchedBookings) {
    const after = current.get(id)!;
    const before = original.get(id);
    if (created.has(id)) plan.inserts.push(after);
    else if (before && before.version !== after.version) plan.updates.push({ before, after });
    else if (before) plan.replays.push(before);
  }
  for (const touch of touches.values()) {
    const same = touch.before?.bookingId === touch.after?.bookingId && touch.before?.state === touch.after?.state;
    if (!same) plan.seats.push({ subsectionId: touch.subsectionId, seat: touch.seat, before: touch.before, after: touch.after });
  }
  return plan;
}

function pickSeats(command: ReserveCommand, grid: SeatGrid): { ok: true; seats: number[] } | { ok: false; reason: BookingReason } {
  if (command.seats) {
    // The ticketing service validated the seats against the same layout; a command that
    // disagrees with it is rejected rather than trusted.
    const capacity = grid.rows * grid.seatsPerRow;
    const valid = new Set(command.seats).size === command.seats.length && command.seats.every((seat) => seat < capacity);
    const result = valid ? checkManualSeats(grid, command.seats) : { ok: false as const };
    return result.ok ? result : { ok: false, reason: BookingReason.SEATS_UNAVAILABLE };
  }
  const result = findBestAvailable(grid, command.quantity);
  return result.ok ? result : { ok: false, reason: BookingReason.SOLD_OUT };
}
