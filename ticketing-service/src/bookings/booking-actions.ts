import { v7 as uuidv7 } from 'uuid';
import { BookingStatus, type BookingRecord } from '@ticketing/shared/domain/booking';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import type { EventCatalog } from '../events/event-catalog.ts';
import { subsectionKey } from '../events/event-layout.ts';
import { infra, queued } from '../plugins/dependency-errors.ts';

// Paying and cancelling change who owns seats, so they are commands to the booking's own
// partition, decided in order with the reserve before them and the hold's expiry; the HTTP
// layer only checks what it can see and queues the command. The answer is 202; the outcome
// arrives on the booking's stream (PAID, or a PAYMENT_DECLINED notice; CANCELLED).

export interface BookingActionsDeps {
  readonly catalog: EventCatalog;
  readonly publisher: CommandPublisher;
  readonly findAnyBooking: (bookingId: string) => Promise<BookingRecord | null>;
  readonly clock: () => number;
}

export function createBookingActions(deps: BookingActionsDeps) {
  const locate = async (record: BookingRecord) => {
    const entry = await infra(deps.catalog.get(record.eventId));
    const subsection = entry?.layout.subsectionsByKey.get(subsectionKey(record.section, record.subsection));
    if (!entry || !subsection) throw new DomainError(ErrorCode.BOOKING_NOT_FOUND, 'No such booking');
    return { entry, subsection };
  };
  const booking = async (bookingId: string) => {
    const record = await infra(deps.findAnyBooking(bookingId));
    if (!record) throw new DomainError(ErrorCode.BOOKING_NOT_FOUND, 'No such booking');
    return record;
  };
  return {
    // Owner only. A payment for a booking still PENDING is refused: there is no hold to pay yet.
    async pay(bookingId: string, userId: string, paymentToken: string): Promise<{ bookingId: string; paymentId: string }> {
      const record = await booking(bookingId);
      if (record.userId !== userId) throw new DomainError(ErrorCode.BOOKING_NOT_FOUND, 'No such booking');
      if (record.status !== BookingStatus.RESERVED) throw new DomainError(ErrorCode.BOOKING_NOT_PAYABLE, `A ${record.status} booking cannot be paid`);
      const now = deps.clock();
      if (record.holdExpiresAt && Date.parse(record.holdExpiresAt) <= now) throw new DomainError(ErrorCode.HOLD_EXPIRED, 'The hold on these seats has expired');
      const { subsection } = await locate(record);
      const paymentId = uuidv7();
      await queued(deps.publisher.publish({
        v: 1, type: 'pay', bookingId: record.id, paymentId, paymentToken, eventId: record.eventId, subsectionId: subsection.id, section: record.section,
        subsection: record.subsection, atMs: now,
      }));
      return { bookingId: record.id, paymentId };
    },

    // The owner, or the organizer of the booking's event. A PENDING booking cannot be cancelled
    // yet: its reserve command may still be on its way (from another process's outbox, say),
    // and a cancel that overtook it would find nothing to cancel.
    async cancel(bookingId: string, principal: { id: string; role: string }): Promise<{ bookingId: string }> {
      const record = await booking(bookingId);
      const { entry, subsection } = await locate(record);
      const isOwner = record.userId === principal.id;
      const isOrganizer = principal.role === 'organizer' && entry.layout.organizerId === principal.id;
      if (!isOwner && !isOrganizer) throw new DomainError(ErrorCode.BOOKING_NOT_FOUND, 'No such booking');
      if (record.status === BookingStatus.PENDING) {
        throw new DomainError(ErrorCode.BOOKING_NOT_CANCELLABLE, 'The booking is still pending; cancel it once it is reserved', { retryAfterS: 1 });
      }
      if (record.status !== BookingStatus.RESERVED) throw new DomainError(ErrorCode.BOOKING_NOT_CANCELLABLE, `A ${record.status} booking cannot be cancelled`);
      await queued(deps.publisher.publish({
        v: 1, type: 'cancel', bookingId: record.id, by: isOwner ? 'buyer' : 'organizer', eventId: record.eventId, subsectionId: subsection.id, section: record.section,
        subsection: record.subsection, atMs: deps.clock(),
      }));
      return { bookingId: record.id };
    },
  };
}

export type BookingActions = ReturnType<typeof createBookingActions>;
