import { seatPosition, type GridShape } from './seat-map.ts';

// The booking state machine (docs/booking-lifecycle.md):
//
//                      ┌────────────▶ PAID       (payment captured before the hold ended)
//   PENDING ──▶ RESERVED ───────────▶ EXPIRED    (hold elapsed; seats free again)
//      │                └───────────▶ CANCELLED  (buyer, organizer or event cancellation)
//      └──────▶ REJECTED
//
// PENDING lives only in the Redis booking record between the 202 and the decision. Every
// other transition is decided by the subsection's partition, in order with every other
// command for those seats. REJECTED, PAID, EXPIRED and CANCELLED are terminal.

export const BookingStatus = {
  PENDING: 'PENDING',
  RESERVED: 'RESERVED',
  REJECTED: 'REJECTED',
  PAID: 'PAID',
  EXPIRED: 'EXPIRED',
  CANCELLED: 'CANCELLED',
} as const;

export type BookingStatus = (typeof BookingStatus)[keyof typeof BookingStatus];
export type DecidedStatus = Exclude<BookingStatus, 'PENDING'>;

// Why a booking ended where it did. Stable codes: they travel in Kafka, Postgres and the API.
export const BookingReason = {
  SOLD_OUT: 'SOLD_OUT',
  SEATS_UNAVAILABLE: 'SEATS_UNAVAILABLE',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  EVENT_NOT_ON_SALE: 'EVENT_NOT_ON_SALE',
  HOLD_EXPIRED: 'HOLD_EXPIRED',
  CANCELLED_BY_BUYER: 'CANCELLED_BY_BUYER',
  CANCELLED_BY_ORGANIZER: 'CANCELLED_BY_ORGANIZER',
  EVENT_CANCELLED: 'EVENT_CANCELLED',
} as const;

export type BookingReason = (typeof BookingReason)[keyof typeof BookingReason];

export const terminalStatuses: ReadonlySet<BookingStatus> = new Set([BookingStatus.REJECTED, BookingStatus.PAID, BookingStatus.EXPIRED, BookingStatus.CANCELLED]);

export function isTerminal(status: BookingStatus): boolean {
  return terminalStatuses.has(status);
}

// Statuses whose seats are still taken (held or sold), and so count against capacity and the
// buyer's cap.
export function holdsSeats(status: BookingStatus): boolean {
  return status === BookingStatus.RESERVED || status === BookingStatus.PAID;
}

const allowed: Readonly<Record<BookingStatus, readonly BookingStatus[]>> = {
  PENDING: [BookingStatus.RESERVED, BookingStatus.REJECTED],
  RESERVED: [BookingStatus.PAID, BookingStatus.EXPIRED, BookingStatus.CANCELLED],
  REJECTED: [],
  PAID: [],
  EXPIRED: [],
  CANCELLED: [],
};

export function canTransition(from: BookingStatus, to: BookingStatus): boolean {
  return allowed[from].includes(to);
}

export interface SeatPosition {
  readonly row: number;
  readonly seat: number;
}

// What the API shows for a booking; the same shape is stored in Redis and sent over SSE.
export interface BookingView {
  readonly id: string;
  readonly eventId: string;
  readonly section: string;
  readonly subsection: number;
  readonly quantity: number;
  readonly status: BookingStatus;
  readonly reason?: BookingReason;
  readonly seats: SeatPosition[];
  readonly createdAt: string;
  readonly decidedAt?: string;
  readonly holdExpiresAt?: string;
  readonly paidAt?: string;
  readonly releasedAt?: string;
  readonly version: number;
}

// The booking record kept in Redis under `booking:<id>`: the view plus what the ticketing
// service needs to answer a retry (owner and request fingerprint).
export interface BookingRecord extends BookingView {
  readonly userId: string;
  readonly fingerprint: string;
}

export function seatPositions(shape: GridShape, seats: readonly number[]): SeatPosition[] {
  return seats.map((index) => seatPosition(shape, index));
}

export function toBookingView(record: BookingRecord): BookingView {
  const { userId: _userId, fingerprint: _fingerprint, ...view } = record;
  return view;
}
