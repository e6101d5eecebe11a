import { BookingStatus, type BookingRecord, type SeatPosition } from '@ticketing/shared/domain/booking';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { bookingFingerprint } from '@ticketing/shared/domain/fingerprint';
import { isUuidV7, uuidV7Time } from '@ticketing/shared/domain/ids';
import { seatIndex } from '@ticketing/shared/domain/seat-map';
import { acceptsBookings } from '@ticketing/shared/domain/event-status';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import type { ReserveCommand } from '@ticketing/shared/messaging/messages';
import type { CatalogEntry, EventCatalog } from '../events/event-catalog.ts';
import { subsectionKey, type SubsectionLayout } from '../events/event-layout.ts';
import { infra, queued } from '../plugins/dependency-errors.ts';
import type { BookingRecords } from './booking-records.ts';
import type { DecidedBookingReader } from './booking-store.ts';

// Accepting a booking: validate it against the event's layout, claim its id in Redis, put the
// reserve command durably in Kafka (acks = all), and only then answer. Per booking that is one
// Redis round trip and a share of one produce request; no Postgres, no lock. The decision is
// made later by the partition's single writer.
//
// A retry with the same id and the same request is answered with the booking's current
// state, and a still-pending one is published again: the reservation service dedupes by id,
// so a duplicate command costs nothing, while a lost one would leave the booking PENDING.

export interface BookingRequest {
  readonly id: string;
  readonly eventId: string;
  readonly section: string;
  readonly subsection: number;
  readonly quantity: number;
  readonly seats?: readonly SeatPosition[];
}

export type AcceptOutcome =
  | { readonly kind: 'accepted'; readonly record: BookingRecord }
  | { readonly kind: 'existing'; readonly record: BookingRecord };

export interface AcceptBookingDeps {
  readonly catalog: EventCatalog;
  readonly records: BookingRecords;
  readonly decided: DecidedBookingReader;
  readonly publisher: CommandPublisher;
  readonly quantityMax: number;
  readonly recordTtlS: number;
  readonly clock: () => number;
}

const claimAttemptsMax = 3;

export function createAcceptBooking(deps: AcceptBookingDeps) {
  const publish = (command: ReserveCommand) => queued(deps.publisher.publish(command));

  // A retry carries the same request (same fingerprint), so its command is the one we would
  // build now, stamped with the original acceptance time.
  const answerRetry = async (existing: BookingRecord, pending: PendingBooking): Promise<AcceptOutcome> => {
    if (existing.userId !== pending.record.userId || existing.fingerprint !== pending.record.fingerprint) {
      throw new DomainError(ErrorCode.BOOKING_ID_CONFLICT, 'This booking id was already used for a different request');
    }
    if (existing.status === BookingStatus.PENDING) await publish(commandFor(pending, Date.parse(existing.createdAt)));
    return { kind: 'existing', record: existing };
  };

  return async function acceptBooking(asSent: BookingRequest, userId: string): Promise<AcceptOutcome> {
    if (!isUuidV7(asSent.id)) throw new DomainError(ErrorCode.INVALID_BOOKING_ID, 'Booking id must be a UUIDv7 (RFC 9562) made by the client');
    // The same id in capitals is the same booking (ids.ts).
    const request = { ...asSent, id: asSent.id.toLowerCase(), eventId: asSent.eventId.toLowerCase() };
    const now = deps.clock();
    const entry = await infra(deps.catalog.get(request.eventId));
    const subsection = locate(entry, request);
    const seatIndexes = checkRequest(request, subsection, deps.quantityMax);
    const fingerprint = bookingFingerprint({
      userId, eventId: request.eventId, section: request.section, subsection: request.subsection, quantity: request.quantity,
      ...(seatIndexes ? { seats: seatIndexes } : {}),
    });
    const record: BookingRecord = {
      id: request.id, eventId: request.eventId, section: request.section, subsection: request.subsection, quantity: request.quantity,
      status: BookingStatus.PENDING, seats: request.seats ? [...request.seats] : [], createdAt: new Date(now).toISOString(), version: 0, userId, fingerprint,
    };
    const pending: PendingBooking = { record, subsectionId: subsection.id, seatIndexes };

    // Outside the sales window only a retry of a booking made inside it gets an answer.
    if (!acceptsBookings(entry!.policy, now)) {
      const existing = (await infra(deps.records.get(request.id))) ?? (await infra(deps.decided.find(request.id)));
      if (existing) return answerRetry(existing, pending);
      throw new DomainError(ErrorCode.EVENT_NOT_ON_SALE, 'This event is not on sale now');
    }

    // An id older than the Redis record's lifetime may belong to a booking only Postgres
    // still remembers; ask it before claiming the id again.
    if (now - uuidV7Time(request.id) > (deps.recordTtlS * 1000) / 2) {
      const old = await infra(deps.decided.find(request.id));
      if (old) return answerRetry(old, pending);
    }
    for (let attempt = 1; attempt <= claimAttemptsMax; attempt++) {
      const claim = await infra(deps.records.claim(record));
      if (claim.claimed) {
        try {
          await publish(commandFor(pending, now));
        } catch (error) {
          await deps.records.release(record.id, claim.serialized).catch(() => {});
          throw error;
        }
        return { kind: 'accepted', record };
      }
      const existing = claim.existing ?? (await infra(deps.decided.find(request.id)));
      if (existing) return answerRetry(existing, pending);
      // The record vanished between our SET NX and GET (expired, or released after a failed
      // publish): claim again.
    }
    throw new DomainError(ErrorCode.DEPENDENCY_UNAVAILABLE, 'Could not claim the booking id; retry with the same id', { retryAfterS: 1 });
  };
}

interface PendingBooking {
  readonly record: BookingRecord;
  readonly subsectionId: number;
  readonly seatIndexes: number[] | undefined;
}

function commandFor(pending: PendingBooking, acceptedAtMs: number): ReserveCommand {
  const { record } = pending;
  return {
    v: 1, type: 'reserve', bookingId: record.id, userId: record.userId, eventId: record.eventId, subsectionId: pending.subsectionId,
    section: record.section, subsection: record.subsection, quantity: record.quantity, fingerprint: record.fingerprint, atMs: acceptedAtMs,
    ...(pending.seatIndexes ? { seats: pending.seatIndexes } : {}),
  };
}

function locate(entry: CatalogEntry | null, request: BookingRequest): SubsectionLayout {
  if (!entry) throw new DomainError(ErrorCode.EVENT_NOT_FOUND, `Event ${request.eventId} does not exist`);
  const layout = entry.layout;
  const subsection = layout.subsectionsByKey.get(subsectionKey(request.section, request.subsection));
  if (subsection) return subsection;
  if (!layout.sections.some((section) => section.name === request.section)) {
    throw new DomainError(ErrorCode.SECTION_NOT_FOUND, `Event has no section "${request.section}"`);
  }
  throw new DomainError(ErrorCode.SUBSECTION_NOT_FOUND, `Section "${request.section}" has no subsection ${request.subsection}`);
}

// Returns the seat indexes of a manual pick (undefined for best available).
function checkRequest(request: BookingRequest, subsection: SubsectionLayout, quantityMax: number): number[] | undefined {
  if (request.quantity < 1 || request.quantity > quantityMax) {
    throw new DomainError(ErrorCode.QUANTITY_OUT_OF_RANGE, `quantity must be between 1 and ${quantityMax}`);
  }
  if (!request.seats) return undefined;
  if (request.seats.length !== request.quantity) {
    throw new DomainError(ErrorCode.SEATS_QUANTITY_MISMATCH, `${request.seats.length} seats were picked for a quantity of ${request.quantity}`);
  }
  const indexes = request.seats.map((seat) => {
    if (seat.row < 1 || seat.row > subsection.rows || seat.seat < 1 || seat.seat > subsection.seatsPerRow) {
      throw new DomainError(ErrorCode.SEAT_OUT_OF_RANGE, `Seat ${seat.row}-${seat.seat} is outside the ${subsection.rows} × ${subsection.seatsPerRow} grid`);
    }
    return seatIndex(subsection, seat.row, seat.seat);
  });
  if (new Set(indexes).size !== indexes.length) throw new DomainError(ErrorCode.DUPLICATE_SEATS, 'A seat was picked twice');
  return indexes;
}
