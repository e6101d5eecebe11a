import { createHash } from 'node:crypto';

export interface BookingRequestShape {
  readonly userId: string;
  readonly eventId: string;
  readonly section: string;
  readonly subsection: number;
  readonly quantity: number;
  // Seat indexes of a manual pick, in any order; absent for best available.
  readonly seats?: readonly number[];
}

// Identifies what a booking id was first used for. A retry with the same id must carry the
// same fingerprint; anything else is a BOOKING_ID_CONFLICT. Seats are a set, so their order
// in the request does not matter.
export function bookingFingerprint(request: BookingRequestShape): string {
  const seats = request.seats ? [...request.seats].sort((a, b) => a - b).join(',') : '*';
  const canonical = [request.userId, request.eventId, request.section, request.subsection, request.quantity, seats].join('\u0000');
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 32);
}
