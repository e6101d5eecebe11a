import { canTransition, type BookingStatus } from '@ticketing/shared/domain/booking';
import { seatStateChars } from '@ticketing/shared/domain/seat-map';
import { buyerKey } from '../../src/reservations/plan-batch.ts';
import type { Tables } from './memory-booking-store.ts';
import { nameOf, type World } from './world.ts';

// The promises of docs/invariants.md, judged on the simulated store (Postgres, the arbiter),
// projection (Redis) and provider ledger. `step` runs after every step, faults and all;
// `idle` once the system has nothing left to do. Each violation starts with its invariant:
//   I1      seat ownership: one owner per seat; a reserved booking holds exactly its seats, a
//           paid one has them sold, any other owns none
//   SOLD    a seat once sold stays sold to that booking (never both sold and released), and a
//           booking's status only moves along the state machine
//   I2      every accepted booking decided (and, with every hold run out, terminal) once idle
//   I3      one booking per accepted id, matching its request, its decision never rewritten
//   I4      the seat map readers see (the bitmap, or the store where there is none) equals the
//           store, except, while faults happen, on seats a writer has changed in the store and
//           not yet in Redis (it is parked or died in between) until the next rebuild; once idle
//           exactly, and every booking record in Redis carries the store's version
//   I5      counters equal allocations within capacity; each buyer's count equals the seats
//           their bookings hold, within the cap
//   PAY     one live payment per booking; captured ⇒ PAID, refunds only for expired or
//           cancelled bookings; the provider's ledger agrees; once idle every captured charge
//           is a paid booking or refunded
//   CANCEL  once a subsection's cancel-event is decided, none of its bookings is RESERVED
//   FATAL   a process stopped on a broken assertion, or the simulation met something it
//           does not model
// Details that vary from run to run follow ' — ', so failures group by what comes before it.

export interface InvariantChecker {
  step(world: World): string[];
  idle(world: World): string[];
}

interface Seen {
  readonly status: BookingStatus;
  readonly version: number;
  readonly decision: string;
}

const seatKey = (subsectionId: number, seat: number) => `${subsectionId}:${seat}`;
const holds = (status: BookingStatus) => status === 'RESERVED' || status === 'PAID';

export function createInvariantChecker(): InvariantChecker {
  const seen = new Map<string, Seen>();
  const sold = new Map<string, string>();
  let fatalSeen = 0;

  return {
    step(world) {
      const tables = world.memory.tables();
      const fatal = world.fatal.slice(fatalSeen).map((message) => `FATAL: ${message}`);
      fatalSeen = world.fatal.length;
      return [
        ...fatal,
        ...seatOwnership(world, tables),
        ...history(world, tables),
        ...bookingsMatchRequests(world, tables),
        ...projectionWithinBound(world, tables),
        ...counts(world, tables),
        ...payments(world, tables),
        ...cancelledSubsections(world, tables),
      ];
    },
    idle(world) {
      const tables = world.memory.tables();
      return [...allDecided(world, tables), ...projectionExact(world, tables), ...paymentsSettled(world, tables)];
    },
  };

  function history(world: World, tables: Tables): string[] {
    const violations: string[] = [];
    for (const row of tables.bookings.values()) {
      const name = nameOf(world, row.id);
      const decision = JSON.stringify([row.userId, row.subsectionId, row.quantity, row.seats, row.holdExpiresAtMs, row.decidedAtMs, row.createdAtMs]);
      const before = seen.get(row.id);
      if (before) {
        if (row.version < before.version) violations.push(`I3: ${name} went back from version ${before.version} to ${row.version}`);
        else if (row.version === before.version && row.status !== before.status) violations.push(`I3: ${name} changed ${before.status} → ${row.status} without a new version`);
        if (row.status !== before.status && !canTransition(before.status, row.status)) {
          violations.push(`${before.status === 'PAID' ? 'SOLD' : 'I3'}: ${name} moved ${before.status} → ${row.status}`);
        }
        if (decision !== before.decision) violations.push(`I3: the decision of ${name} was rewritten: ${before.decision} → ${decision}`);
      }
      seen.set(row.id, { status: row.status, version: row.version, decision });
    }
    for (const id of seen.keys()) if (!tables.bookings.has(id)) violations.push(`I3: ${nameOf(world, id)} vanished from the store`);
    for (const seat of tables.seats.values()) if (seat.state === 2 && !sold.has(seatKey(seat.subsectionId, seat.seat))) sold.set(seatKey(seat.subsectionId, seat.seat), seat.bookingId);
    for (const [key, bookingId] of sold) {
      const seat = tables.seats.get(key);
      if (seat?.bookingId !== bookingId || seat.state !== 2) violations.push(`SOLD: seat ${key} sold to ${nameOf(world, bookingId)} is now ${seat ? `${seatStateChars[seat.state as 0 | 1 | 2]} for ${nameOf(world, seat.bookingId)}` : 'free'}`);
    }
    return violations;
  }
}

function seatOwnership(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const seat of tables.seats.values()) {
    const booking = tables.bookings.get(seat.bookingId);
    const expected = booking?.status === 'RESERVED' ? 1 : booking?.status === 'PAID' ? 2 : null;
    if (!booking || expected === null || booking.subsectionId !== seat.subsectionId || !booking.seats.includes(seat.seat) || seat.state !== expected) {
      violations.push(`I1: seat S${seat.subsectionId}#${seat.seat} is ${seatStateChars[seat.state as 0 | 1 | 2]} for ${nameOf(world, seat.bookingId)}, which is ${booking?.status ?? 'missing'}`);
    }
  }
  for (const booking of tables.bookings.values()) {
    if (!holds(booking.status)) continue;
    if (booking.seats.length !== booking.quantity) violations.push(`I1: ${nameOf(world, booking.id)} lists ${booking.seats.length} seats for ${booking.quantity}`);
    for (const seat of booking.seats) {
      const owner = tables.seats.get(seatKey(booking.subsectionId, seat))?.bookingId;
      if (owner !== booking.id) violations.push(`I1: ${nameOf(world, booking.id)} is ${booking.status} with seat S${booking.subsectionId}#${seat}, owned by ${owner ? nameOf(world, owner) : 'nobody'}`);
    }
  }
  return violations;
}

function bookingsMatchRequests(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const row of tables.bookings.values()) {
    const request = world.accepted.get(row.id)?.command;
    if (!request) violations.push(`I3: ${nameOf(world, row.id)} was never accepted`);
    else if (request.userId !== row.userId || request.fingerprint !== row.fingerprint || request.quantity !== row.quantity || request.subsectionId !== row.subsectionId) {
      violations.push(`I3: ${nameOf(world, row.id)} does not match its request`);
    }
  }
  return violations;
}

function storeStates(tables: Tables, subsectionId: number, capacity: number): Uint8Array {
  const states = new Uint8Array(capacity);
  for (const seat of tables.seats.values()) if (seat.subsectionId === subsectionId) states[seat.seat] = seat.state;
  return states;
}

function unprojected(world: World, subsectionId: number, seat: number): boolean {
  return world.unprojected.some((entry) => entry.subsectionId === subsectionId && entry.seats.has(seat));
}

function projectionWithinBound(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const subsection of world.settings.subsections) {
    const bitmap = world.redis.bitmap(subsection.id);
    if (!bitmap) continue;
    const store = storeStates(tables, subsection.id, subsection.capacity);
    const wrong = [...store.keys()].filter((seat) => bitmap[seat] !== store[seat] && !unprojected(world, subsection.id, seat));
    if (wrong.length > 0) {
      const seats = wrong.map((seat) => `#${seat} ${seatStateChars[bitmap[seat] as 0 | 1 | 2]} (store ${seatStateChars[store[seat] as 0 | 1 | 2]})`).join(', ');
      const events = world.bitmapEvents.get(subsection.id)?.toSorted().join(', ') ?? 'nothing unusual';
      violations.push(`I4: a bitmap differs from the store with no writer between the two (since its last fresh rebuild: ${events}) — S${subsection.id} ${seats}`);
    }
  }
  return violations;
}

function projectionExact(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const subsection of world.settings.subsections) {
    const store = storeStates(tables, subsection.id, subsection.capacity);
    const served = world.redis.bitmap(subsection.id) ?? store;
    const differing = [...store.keys()].filter((seat) => served[seat] !== store[seat]);
    if (differing.length > 0) violations.push(`I4: once idle, the bitmap differs from the store — S${subsection.id} seats ${differing.join(',')}`);
  }
  for (const row of tables.bookings.values()) {
    const record = world.redis.record(row.id);
    if (record && (record.version !== row.version || record.status !== row.status)) {
      violations.push(`I4: once idle, a booking record in Redis is older than the store — ${nameOf(world, row.id)}: ${record.status} v${record.version} in Redis, ${row.status} v${row.version} in the store`);
    }
  }
  return violations;
}

function counts(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const row of tables.subsections.values()) {
    let reserved = 0;
    let soldSeats = 0;
    for (const seat of tables.seats.values()) {
      if (seat.subsectionId !== row.id) continue;
      if (seat.state === 1) reserved++;
      else soldSeats++;
    }
    if (row.reservedCount !== reserved || row.soldCount !== soldSeats) violations.push(`I5: S${row.id} counts ${row.reservedCount} reserved and ${row.soldCount} sold, its seats ${reserved} and ${soldSeats}`);
    if (reserved + soldSeats > row.capacity) violations.push(`I5: S${row.id} has ${reserved + soldSeats} seats taken of ${row.capacity}`);
  }
  for (const userId of world.settings.users) {
    let held = 0;
    for (const booking of tables.bookings.values()) if (booking.userId === userId && holds(booking.status)) held += booking.quantity;
    const counted = tables.buyers.get(buyerKey(world.settings.eventId, userId))?.seats ?? 0;
    if (counted !== held) violations.push(`I5: ${userId} is counted as holding ${counted} seats but holds ${held}`);
    if (held > world.settings.buyerSeatsMax) violations.push(`I5: ${userId} holds ${held} seats, over the cap of ${world.settings.buyerSeatsMax}`);
  }
  return violations;
}

function payments(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  const live = new Map<string, number>();
  const captured = new Map<string, number>();
  for (const row of tables.payments.values()) {
    const booking = tables.bookings.get(row.bookingId);
    const name = nameOf(world, row.id);
    if (row.status !== 'DECLINED') live.set(row.bookingId, (live.get(row.bookingId) ?? 0) + 1);
    if (row.status === 'CAPTURED') captured.set(row.bookingId, (captured.get(row.bookingId) ?? 0) + 1);
    if (row.status === 'CAPTURED' && booking?.status !== 'PAID') violations.push(`PAY: ${name} is CAPTURED but ${nameOf(world, row.bookingId)} is ${booking?.status}`);
    if ((row.status === 'REFUND_REQUIRED' || row.status === 'REFUNDED') && booking?.status !== 'EXPIRED' && booking?.status !== 'CANCELLED') {
      violations.push(`PAY: ${name} is ${row.status} but ${nameOf(world, row.bookingId)} is ${booking?.status}`);
    }
  }
  for (const [bookingId, count] of live) if (count > 1) violations.push(`PAY: ${nameOf(world, bookingId)} has ${count} live payments`);
  for (const booking of tables.bookings.values()) {
    if (booking.status === 'PAID' && captured.get(booking.id) !== 1) violations.push(`PAY: ${nameOf(world, booking.id)} is PAID with ${captured.get(booking.id) ?? 0} captured payments`);
  }
  for (const [paymentId, charge] of world.provider.charges) {
    const status = tables.payments.get(paymentId)?.status;
    const fits = charge.result.outcome === 'captured' ? status !== undefined && status !== 'DECLINED' : status === 'REQUESTED' || status === 'DECLINED';
    if (!fits) violations.push(`PAY: the provider ${charge.result.outcome} ${nameOf(world, paymentId)}, which the store has as ${status ?? 'missing'}`);
  }
  for (const key of world.provider.refunds.keys()) {
    const paymentId = key.slice('refund:'.length);
    const status = tables.payments.get(paymentId)?.status;
    if (status !== 'REFUND_REQUIRED' && status !== 'REFUNDED') violations.push(`PAY: the provider refunded ${nameOf(world, paymentId)}, which the store has as ${status ?? 'missing'}`);
  }
  return violations;
}

function cancelledSubsections(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const row of tables.bookings.values()) {
    if (row.status === 'RESERVED' && world.cancelDecided.has(row.subsectionId)) {
      violations.push(`CANCEL: the cancel-event of S${row.subsectionId} is decided, yet ${nameOf(world, row.id)} is RESERVED there`);
    }
  }
  return violations;
}

function allDecided(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const booking of world.accepted.values()) {
    const row = tables.bookings.get(booking.command.bookingId);
    if (!row) violations.push(`I2: ${booking.name} was accepted and never decided`);
    else if (row.status === 'RESERVED') violations.push(`I2: ${booking.name} is still RESERVED with every hold run out`);
  }
  return violations;
}

function paymentsSettled(world: World, tables: Tables): string[] {
  const violations: string[] = [];
  for (const [paymentId, charge] of world.provider.charges) {
    if (charge.result.outcome !== 'captured') continue;
    const row = tables.payments.get(paymentId);
    const booking = row && tables.bookings.get(row.bookingId);
    const paid = row?.status === 'CAPTURED' && booking?.status === 'PAID';
    const refunded = row?.status === 'REFUNDED' && (booking?.status === 'EXPIRED' || booking?.status === 'CANCELLED') && world.provider.refunds.has(`refund:${paymentId}`);
    if (!paid && !refunded) violations.push(`PAY: once idle, ${nameOf(world, paymentId)} was charged but is ${row?.status ?? 'missing'} for a ${booking?.status ?? 'missing'} booking`);
  }
  for (const row of tables.payments.values()) {
    if (row.status === 'CAPTURED' && world.provider.charges.get(row.id)?.result.outcome !== 'captured') violations.push(`PAY: ${nameOf(world, row.id)} is CAPTURED without a charge at the provider`);
  }
  return violations;
}
