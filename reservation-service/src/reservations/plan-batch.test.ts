import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Command, ReserveCommand } from '@ticketing/shared/messaging/messages';
import { createSeatGrid, type SeatGrid } from '../seating/seat-grid.ts';
import { buyerKey, planBatch, type BookingState, type EventPolicy, type PaymentState, type PlanInput, type SubsectionInfo } from './plan-batch.ts';

const eventId = '019a9a5e-7c2b-7000-8000-0000000000ee';
const now = 1_800_000_000_000;
let sequence = 0;
const nextId = () => `019a9a5e-7c2b-7000-8000-${String(++sequence).padStart(12, '0')}`;
const where = { v: 1 as const, eventId, subsectionId: 1, section: 'A', subsection: 1, atMs: now };

const reserve = (overrides: Partial<ReserveCommand> = {}): ReserveCommand => ({
  ...where, type: 'reserve', bookingId: nextId(), userId: 'alice', quantity: 1, fingerprint: 'fp', ...overrides,
});

const policy = (overrides: Partial<EventPolicy> = {}): EventPolicy => ({
  holdDurationS: 600, buyerSeatsMax: 8, salesOpenAtMs: null, salesCloseAtMs: null, closedAtMs: null, cancelledAtMs: null, ...overrides,
});

const subsection = (id = 1, seatsPerRow = 4): SubsectionInfo => ({ id, eventId, section: 'A', number: id, rows: 1, seatsPerRow, capacity: seatsPerRow, priceCents: 1500 });

const reserved = (seats: number[], overrides: Partial<BookingState> = {}): BookingState => ({
  id: nextId(), userId: 'alice', fingerprint: 'fp', eventId, subsectionId: 1, quantity: seats.length, requestedSeats: null, seats,
  status: 'RESERVED', reason: null, createdAtMs: now - 1000, decidedAtMs: now - 900, holdExpiresAtMs: now + 60_000, paidAtMs: null, releasedAtMs: null,
  version: 1, ...overrides,
});

function plan(commands: Command[], options: { grid?: SeatGrid; bookings?: BookingState[]; payments?: PaymentState[]; buyerSeats?: Map<string, number>; policy?: Partial<EventPolicy>; nowMs?: number } = {}) {
  const grid = options.grid ?? createSeatGrid(1, 4);
  const input: PlanInput = {
    commands,
    bookings: new Map((options.bookings ?? []).map((booking) => [booking.id, booking])),
    payments: new Map((options.payments ?? []).map((payment) => [payment.id, payment])),
    buyerSeats: options.buyerSeats ?? new Map(),
    policies: new Map([[eventId, policy(options.policy)]]),
    subsections: new Map([[1, subsection(1, grid.seatsPerRow)], [2, subsection(2)]]),
    grids: new Map([[1, grid]]),
    nowMs: options.nowMs ?? now,
  };
  return { result: planBatch(input), grid };
}

const gridWith = (states: number[]) => createSeatGrid(1, states.length, Uint8Array.from(states));

describe('reserve', () => {
  test('commands are decided in order, and the grid ends updated', () => {
    const { result, grid } = plan([reserve({ quantity: 2 }), reserve({ quantity: 3 }), reserve({ quantity: 1 })]);
    // Two seats at the edge rather than the centre, which would strand two single seats.
    assert.deepEqual(result.inserts.map((b) => [b.status, b.seats, b.reason]), [
      ['RESERVED', [0, 1], null],
      ['REJECTED', [], 'SOLD_OUT'],
      ['RESERVED', [2], null],
    ]);
    assert.deepEqual([...grid.states], [1, 1, 1, 0]);
    assert.deepEqual(result.counters.get(1), { reserved: 3, sold: 0 });
    assert.equal(result.inserts[0]!.holdExpiresAtMs, now + 600_000);
    assert.deepEqual(result.seats.map((w) => [w.seat, w.before, w.after?.state]), [[0, null, 1], [1, null, 1], [2, null, 1]]);
  });

  test('manual picks are all-or-nothing, and a pick that disagrees with the grid is rejected, not trusted', () => {
    const { result } = plan([
      reserve({ quantity: 2, seats: [0, 1] }),
      reserve({ quantity: 2, seats: [1, 2] }),
      reserve({ quantity: 1, seats: [2] }),
      reserve({ quantity: 2, seats: [3, 3] }),
      reserve({ quantity: 1, seats: [99] }),
    ]);
    assert.deepEqual(result.inserts.map((b) => b.reason ?? b.seats.join()), ['0,1', 'SEATS_UNAVAILABLE', '2', 'SEATS_UNAVAILABLE', 'SEATS_UNAVAILABLE']);
  });

  test('a redelivered reserve replays the booking, and an id reused for another request is ignored', () => {
    const earlier = reserved([1, 2]);
    const { result, grid } = plan(
      [reserve({ bookingId: earlier.id, quantity: 2 }), reserve({ bookingId: earlier.id, userId: 'mallory', fingerprint: 'other' })],
      { bookings: [earlier], grid: gridWith([0, 1, 1, 0]) },
    );
    assert.deepEqual(result.replays.map((b) => b.id), [earlier.id]);
    assert.equal(result.inserts.length + result.updates.length + result.seats.length, 0);
    assert.deepEqual(result.ignored.map((entry) => entry.problem), ['booking id reused for a different request']);
    assert.deepEqual([...grid.states], [0, 1, 1, 0]);
  });

  test('a duplicate inside one slice is decided once', () => {
    const duplicate = reserve();
    const { result } = plan([duplicate, duplicate]);
    assert.equal(result.inserts.length, 1);
    assert.equal(result.ignored.length, 0);
  });

  test("the buyer's cap counts seats held in other sections and earlier in the slice", () => {
    const buyerSeats = new Map([[buyerKey(eventId, 'alice'), 5]]);
    const { result } = plan([reserve({ quantity: 2 }), reserve({ quantity: 2 }), reserve({ quantity: 1, userId: 'bob' })], { buyerSeats, policy: { buyerSeatsMax: 8 } });
    assert.deepEqual(result.inserts.map((b) => b.reason ?? b.status), ['RESERVED', 'LIMIT_EXCEEDED', 'RESERVED']);
    assert.deepEqual([...result.buyerDeltas.values()].map((d) => [d.userId, d.seats, d.seatsMax]), [['alice', 2, 8], ['bob', 1, 8]]);
  });

  test('outside the sales window, after closing and after cancelling, nothing is reserved', () => {
    assert.equal(plan([reserve()], { policy: { salesOpenAtMs: now + 1 } }).result.inserts[0]!.reason, 'EVENT_NOT_ON_SALE');
    assert.equal(plan([reserve()], { policy: { salesCloseAtMs: now } }).result.inserts[0]!.reason, 'EVENT_NOT_ON_SALE');
    assert.equal(plan([reserve()], { policy: { closedAtMs: now - 1 } }).result.inserts[0]!.reason, 'EVENT_NOT_ON_SALE');
    // Accepted before the organizer closed sales: still decided.
    assert.equal(plan([reserve({ atMs: now - 10 })], { policy: { closedAtMs: now - 5 } }).result.inserts[0]!.status, 'RESERVED');
    // A cancelled event takes nothing, however early the booking was made.
    assert.equal(plan([reserve({ atMs: now - 10 })], { policy: { cancelledAtMs: now - 5 } }).result.inserts[0]!.reason, 'EVENT_NOT_ON_SALE');
  });

  test('a command for a subsection without a loaded grid is a broken invariant', () => {
    assert.throws(() => plan([reserve({ subsectionId: 2 })]), /no seat grid loaded/);
  });
});

describe('cancel and expire', () => {
  test('cancelling frees the seats, the buyer count and the counter', () => {
    const booking = reserved([1, 2]);
    const { result, grid } = plan([{ ...where, type: 'cancel', bookingId: booking.id, by: 'buyer' }], { bookings: [booking], grid: gridWith([0, 1, 1, 0]) });
    assert.deepEqual(result.updates.map((u) => [u.before.version, u.after.status, u.after.reason, u.after.version]), [[1, 'CANCELLED', 'CANCELLED_BY_BUYER', 2]]);
    assert.deepEqual(result.seats.map((w) => [w.seat, w.before?.bookingId === booking.id, w.after]), [[1, true, null], [2, true, null]]);
    assert.deepEqual([...grid.states], [0, 0, 0, 0]);
    assert.deepEqual(result.counters.get(1), { reserved: -2, sold: 0 });
    assert.equal([...result.buyerDeltas.values()][0]!.seats, -2);
  });

  test('seats freed and taken again in one slice move to the new booking in one write', () => {
    const booking = reserved([0, 1, 2, 3]);
    const { result } = plan([{ ...where, type: 'cancel', bookingId: booking.id, by: 'organizer' }, reserve({ quantity: 4, userId: 'bob' })], {
      bookings: [booking], grid: gridWith([1, 1, 1, 1]),
    });
    const newcomer = result.inserts[0]!;
    assert.equal(newcomer.status, 'RESERVED');
    assert.equal(result.updates[0]!.after.reason, 'CANCELLED_BY_ORGANIZER');
    assert.deepEqual(result.seats.map((w) => [w.before?.bookingId, w.after?.bookingId]), [0, 1, 2, 3].map(() => [booking.id, newcomer.id]));
    assert.deepEqual(result.counters.get(1), { reserved: 0, sold: 0 });
  });

  test('a booking made and cancelled in the same slice is written once, cancelled, and takes no seat', () => {
    const made = reserve({ quantity: 2 });
    const { result, grid } = plan([made, { ...where, type: 'cancel', bookingId: made.bookingId, by: 'buyer' }]);
    assert.deepEqual(result.inserts.map((b) => [b.status, b.seats, b.version]), [['CANCELLED', [0, 1], 2]]);
    assert.equal(result.seats.length, 0);
    assert.deepEqual([...grid.states], [0, 0, 0, 0]);
  });

  test('expiry acts only once the hold ran out, by the later of the command time and now', () => {
    const booking = reserved([0], { holdExpiresAtMs: now + 5000 });
    const early = plan([{ ...where, type: 'expire', bookingId: booking.id, atMs: now }], { bookings: [booking], grid: gridWith([1, 0, 0, 0]) });
    assert.equal(early.result.updates.length, 0);
    const due = plan([{ ...where, type: 'expire', bookingId: booking.id, atMs: now + 5000 }], { bookings: [booking], grid: gridWith([1, 0, 0, 0]) });
    assert.deepEqual(due.result.updates.map((u) => [u.after.status, u.after.reason, u.after.releasedAtMs]), [['EXPIRED', 'HOLD_EXPIRED', now + 5000]]);
  });

  test('cancelling a booking whose hold already ran out expires it instead', () => {
    const booking = reserved([0], { holdExpiresAtMs: now - 1 });
    const { result } = plan([{ ...where, type: 'cancel', bookingId: booking.id, by: 'buyer' }], { bookings: [booking], grid: gridWith([1, 0, 0, 0]) });
    assert.equal(result.updates[0]!.after.status, 'EXPIRED');
  });

  test('a second cancel or expiry of a finished booking changes nothing', () => {
    const booking = reserved([0], { status: 'CANCELLED', reason: 'CANCELLED_BY_BUYER', version: 2 });
    const { result } = plan([{ ...where, type: 'cancel', bookingId: booking.id, by: 'buyer' }, { ...where, type: 'expire', bookingId: booking.id }], { bookings: [booking] });
    assert.deepEqual(result.replays.map((b) => b.id), [booking.id]);
    assert.equal(result.updates.length + result.seats.length, 0);
  });

  test('after a cancel-event, later commands of the slice see the event cancelled even with an old policy', () => {
    const open = reserved([0]);
    const { result } = plan([{ ...where, type: 'cancel-event' }, reserve(), { ...where, type: 'pay', bookingId: open.id, paymentId: nextId(), paymentToken: 't' }], {
      bookings: [open], grid: gridWith([1, 0, 0, 0]),
    });
    assert.deepEqual(result.inserts.map((b) => b.reason), ['EVENT_NOT_ON_SALE']);
    assert.equal(result.newPayments.length, 0);
    assert.equal(result.updates[0]!.after.reason, 'EVENT_CANCELLED');
  });

  test('cancelling an event releases every open booking of the subsection', () => {
    const open = [reserved([0]), reserved([1])];
    const paid = reserved([2], { status: 'PAID', paidAtMs: now - 10, version: 2 });
    const { result } = plan([{ ...where, type: 'cancel-event' }], { bookings: [...open, paid], grid: gridWith([1, 1, 2, 0]) });
    assert.deepEqual(result.updates.map((u) => [u.after.id, u.after.reason]), open.map((b) => [b.id, 'EVENT_CANCELLED']));
  });
});

describe('payments', () => {
  const pay = (bookingId: string, paymentId = nextId()): Command => ({ ...where, type: 'pay', bookingId, paymentId, paymentToken: 'tok_visa' });
  const result = (bookingId: string, paymentId: string, outcome: 'captured' | 'declined'): Command => ({
    ...where, type: 'payment-result', bookingId, paymentId, outcome, ...(outcome === 'captured' ? { providerRef: 'ch_1' } : { declineReason: 'card_declined' }),
  });

  test('a payment is recorded once, priced from the subsection, and a second one is ignored', () => {
    const booking = reserved([0, 1]);
    const { result: planned } = plan([pay(booking.id), pay(booking.id)], { bookings: [booking] });
    assert.deepEqual(planned.newPayments.map((p) => [p.bookingId, p.amountCents, p.token]), [[booking.id, 3000, 'tok_visa']]);
  });

  test('a live payment from an earlier slice also blocks a second one', () => {
    const booking = reserved([0]);
    const { result: planned } = plan([pay(booking.id)], { bookings: [booking], payments: [{ id: nextId(), bookingId: booking.id, status: 'REQUESTED' }] });
    assert.equal(planned.newPayments.length, 0);
  });

  test('a captured payment within the hold sells the seats', () => {
    const booking = reserved([0, 1]);
    const paymentId = nextId();
    const { result: planned, grid } = plan([result(booking.id, paymentId, 'captured')], {
      bookings: [booking], payments: [{ id: paymentId, bookingId: booking.id, status: 'REQUESTED' }], grid: gridWith([1, 1, 0, 0]),
    });
    assert.deepEqual(planned.updates.map((u) => [u.after.status, u.after.paidAtMs]), [['PAID', now]]);
    assert.deepEqual(planned.paymentChanges, [{ id: paymentId, from: 'REQUESTED', to: 'CAPTURED', providerRef: 'ch_1' }]);
    assert.deepEqual(planned.counters.get(1), { reserved: -2, sold: 2 });
    assert.deepEqual([...grid.states], [2, 2, 0, 0]);
    assert.deepEqual(planned.seats.map((w) => [w.before?.state, w.after?.state]), [[1, 2], [1, 2]]);
  });

  test('a payment captured after the hold ran out never sells the seat: the booking expires and the money goes back', () => {
    const booking = reserved([0], { holdExpiresAtMs: now - 1 });
    const paymentId = nextId();
    const { result: planned, grid } = plan([result(booking.id, paymentId, 'captured')], {
      bookings: [booking], payments: [{ id: paymentId, bookingId: booking.id, status: 'REQUESTED' }], grid: gridWith([1, 0, 0, 0]),
    });
    assert.deepEqual(planned.updates.map((u) => u.after.status), ['EXPIRED']);
    assert.deepEqual(planned.paymentChanges.map((c) => c.to), ['REFUND_REQUIRED']);
    assert.deepEqual([...grid.states], [0, 0, 0, 0]);
  });

  test('a payment captured for a cancelled booking is refunded', () => {
    const booking = reserved([0], { status: 'CANCELLED', reason: 'CANCELLED_BY_BUYER', version: 2 });
    const paymentId = nextId();
    const { result: planned } = plan([result(booking.id, paymentId, 'captured')], { bookings: [booking], payments: [{ id: paymentId, bookingId: booking.id, status: 'REQUESTED' }] });
    assert.deepEqual(planned.paymentChanges.map((c) => c.to), ['REFUND_REQUIRED']);
    assert.equal(planned.updates.length, 0);
  });

  test('a declined payment leaves the booking reserved and tells its owner', () => {
    const booking = reserved([0]);
    const paymentId = nextId();
    const { result: planned } = plan([result(booking.id, paymentId, 'declined')], { bookings: [booking], payments: [{ id: paymentId, bookingId: booking.id, status: 'REQUESTED' }] });
    assert.equal(planned.updates.length, 0);
    assert.deepEqual(planned.notices, [{ bookingId: booking.id, kind: 'PAYMENT_DECLINED', paymentId, reason: 'card_declined' }]);
    assert.deepEqual(planned.paymentChanges.map((c) => c.to), ['DECLINED']);
  });

  test('a payment result delivered twice is applied once', () => {
    const booking = reserved([0], { status: 'PAID', paidAtMs: now - 5, version: 2 });
    const paymentId = nextId();
    const { result: planned } = plan([result(booking.id, paymentId, 'captured')], { bookings: [booking], payments: [{ id: paymentId, bookingId: booking.id, status: 'CAPTURED' }] });
    assert.equal(planned.updates.length + planned.paymentChanges.length, 0);
    assert.deepEqual(planned.replays.map((b) => b.id), [booking.id]);
  });

  test('paying for a booking of a cancelled event cancels it instead', () => {
    const booking = reserved([0]);
    const { result: planned } = plan([pay(booking.id)], { bookings: [booking], policy: { cancelledAtMs: now - 1 }, grid: gridWith([1, 0, 0, 0]) });
    assert.equal(planned.newPayments.length, 0);
    assert.equal(planned.updates[0]!.after.reason, 'EVENT_CANCELLED');
  });
});
