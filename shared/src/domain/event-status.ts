// An event's status is derived, never stored, so it is always current:
//   CANCELLED  the organizer cancelled it (final)
//   CLOSED     the organizer closed sales, or salesCloseAt has passed
//   SCHEDULED  salesOpenAt is still ahead
//   SOLD_OUT   on sale, and no seat is free (it returns to ON_SALE when seats come back)
//   ON_SALE    bookings are accepted

export const EventStatus = {
  SCHEDULED: 'SCHEDULED',
  ON_SALE: 'ON_SALE',
  SOLD_OUT: 'SOLD_OUT',
  CLOSED: 'CLOSED',
  CANCELLED: 'CANCELLED',
} as const;

export type EventStatus = (typeof EventStatus)[keyof typeof EventStatus];

export interface SalesPolicy {
  readonly salesOpenAtMs: number | null;
  readonly salesCloseAtMs: number | null;
  readonly closedAtMs: number | null;
  readonly cancelledAtMs: number | null;
}

// Closing and cancelling are moments, like the sales window: asked about a time before them
// (a booking accepted just before the organizer closed sales), the event was still on sale.
export function eventStatus(policy: SalesPolicy, available: number, nowMs: number): EventStatus {
  const reached = (atMs: number | null) => atMs !== null && nowMs >= atMs;
  if (reached(policy.cancelledAtMs)) return EventStatus.CANCELLED;
  if (reached(policy.closedAtMs) || reached(policy.salesCloseAtMs)) return EventStatus.CLOSED;
  if (policy.salesOpenAtMs !== null && nowMs < policy.salesOpenAtMs) return EventStatus.SCHEDULED;
  return available > 0 ? EventStatus.ON_SALE : EventStatus.SOLD_OUT;
}

// Whether a booking made at `atMs` may be taken (a sold-out event still takes them: seats may
// come back before the booking is decided).
export function acceptsBookings(policy: SalesPolicy, atMs: number): boolean {
  return eventStatus(policy, 1, atMs) === EventStatus.ON_SALE;
}
