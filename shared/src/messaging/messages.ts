import type { BookingView } from '../domain/booking.ts';

// Message contracts (docs/message-contract.md). Every Kafka value is a JSON envelope
// `{ "v": <schema version>, "type": <command type>, ...body }`. A consumer that meets a version
// it does not know stops (and is retried) instead of skipping: skipping would lose a booking
// during a rolling deploy where producers upgrade first.
//
// Every command names the subsection it concerns: the partition key is event + section +
// subsection, so everything that can change a seat's owner is decided in one order.

export const commandSchemaVersion = 1;

interface CommandBase {
  readonly v: 1;
  readonly eventId: string;
  readonly subsectionId: number;
  readonly section: string;
  readonly subsection: number;
  // When the command was issued (ms since epoch).
  readonly atMs: number;
}

export interface ReserveCommand extends CommandBase {
  readonly type: 'reserve';
  readonly bookingId: string;
  readonly userId: string;
  readonly quantity: number;
  // Seat indexes for a manual pick; absent for best available.
  readonly seats?: readonly number[];
  readonly fingerprint: string;
}

export interface CancelCommand extends CommandBase {
  readonly type: 'cancel';
  readonly bookingId: string;
  readonly by: 'buyer' | 'organizer';
}

// Issued by an expiry sweeper for a hold that has run out.
export interface ExpireCommand extends CommandBase {
  readonly type: 'expire';
  readonly bookingId: string;
}

export interface PayCommand extends CommandBase {
  readonly type: 'pay';
  readonly bookingId: string;
  // Also the idempotency key the payment provider sees.
  readonly paymentId: string;
  // The provider's single-use token; never logged.
  readonly paymentToken: string;
}

// Issued by the payment worker once the provider answered.
export interface PaymentResultCommand extends CommandBase {
  readonly type: 'payment-result';
  readonly bookingId: string;
  readonly paymentId: string;
  readonly outcome: 'captured' | 'declined';
  readonly providerRef?: string;
  readonly declineReason?: string;
}

// The organizer cancelled the event: release every open booking of this subsection.
export interface CancelEventCommand extends CommandBase {
  readonly type: 'cancel-event';
}

export type Command = ReserveCommand | CancelCommand | ExpireCommand | PayCommand | PaymentResultCommand | CancelEventCommand;
export type BookingCommand = Exclude<Command, CancelEventCommand>;

// One Redis Pub/Sub message per event per decided slice (channel `event:<eventId>`), read by
// every ticketing process that has a stream open for that event.
export interface EventUpdate {
  readonly v: 1;
  readonly eventId: string;
  readonly bookings: readonly BookingView[];
  readonly subsections: readonly SubsectionUpdate[];
  readonly notices?: readonly BookingNotice[];
  // W3C `traceparent` of each sampled booking's decision, by booking id, so the SSE push that
  // tells its owner joins the booking's trace. Absent when tracing is off.
  readonly traces?: Readonly<Record<string, string>>;
}

export interface SubsectionUpdate {
  readonly section: string;
  readonly subsection: number;
  // [seatIndex, newState] pairs in the order they were applied.
  readonly changes: ReadonlyArray<readonly [number, number]>;
  readonly reserved: number;
  readonly sold: number;
  readonly capacity: number;
}

// Something a booking's owner should hear that is not a change of state.
export interface BookingNotice {
  readonly bookingId: string;
  readonly kind: 'PAYMENT_DECLINED';
  readonly paymentId: string;
  readonly reason: string;
}
