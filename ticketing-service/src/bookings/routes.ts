import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RateLimitOptions } from '@fastify/rate-limit';
import { toBookingView, type BookingRecord } from '@ticketing/shared/domain/booking';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { canonicalUuid } from '@ticketing/shared/domain/ids';
import { bookingBodyBytesMax } from '@ticketing/shared/domain/limits';
import type { Authenticate } from '../plugins/auth.ts';
import { decodeCursor, encodeCursor } from '../plugins/cursor.ts';
import { infra } from '../plugins/dependency-errors.ts';
import type { AcceptOutcome, BookingRequest } from './accept-booking.ts';
import type { BookingActions } from './booking-actions.ts';
import type { BookingRecords } from './booking-records.ts';
import type { DecidedBookingReader } from './booking-store.ts';
import {
  acceptedBody,
  bookingListQuery,
  bookingPage,
  bookingParams,
  bookingView,
  cancelAccepted,
  createBookingBody,
  errorResponses,
  pageLimit,
  paymentAccepted,
  paymentBody,
} from './schemas.ts';

export interface BookingRoutesOptions {
  readonly authenticate: Authenticate;
  readonly acceptBooking: (request: BookingRequest, userId: string) => Promise<AcceptOutcome>;
  readonly findBooking: (bookingId: string, userId: string) => Promise<BookingRecord>;
  readonly actions: BookingActions;
  readonly bookings: DecidedBookingReader;
  // Per-user limit on POST /bookings, shared by every process through Redis.
  readonly rateLimit: RateLimitOptions;
  readonly onAccepted?: (outcome: AcceptOutcome['kind']) => void;
}

// The current record of any booking (Redis first, then Postgres), whoever owns it.
export function createFindAnyBooking(records: BookingRecords, decided: DecidedBookingReader) {
  return async (bookingId: string): Promise<BookingRecord | null> => {
    const id = canonicalUuid(bookingId);
    if (!id) return null;
    return (await records.get(id)) ?? (await decided.find(id));
  };
}

// Owner-only reads: someone else's booking is indistinguishable from one that does not exist.
export function createFindBooking(findAny: (bookingId: string) => Promise<BookingRecord | null>) {
  return async (bookingId: string, userId: string): Promise<BookingRecord> => {
    const record = await infra(findAny(bookingId));
    if (!record || record.userId !== userId) throw new DomainError(ErrorCode.BOOKING_NOT_FOUND, 'No such booking');
    return record;
  };
}

export const bookingRoutes: FastifyPluginAsyncTypebox<BookingRoutesOptions> = async (app, options) => {
  app.post('/bookings', {
    bodyLimit: bookingBodyBytesMax,
    preHandler: options.authenticate(['buyer']),
    config: { rateLimit: options.rateLimit },
    schema: {
      tags: ['bookings'],
      summary: 'Ask for seats; the answer is 202 once the request is durably queued',
      description: 'Resending the same id and body answers with the booking as it is now (202 while PENDING, 200 once decided). The same id with a different body or user is 409 BOOKING_ID_CONFLICT. Outside the sales window: 409 EVENT_NOT_ON_SALE. Too many requests from one user: 429 with Retry-After.',
      security: [{ bearer: [] }],
      body: createBookingBody,
      response: { 200: bookingView, 202: acceptedBody, ...errorResponses },
    },
  }, async (request, reply) => {
    const outcome = await options.acceptBooking(request.body, request.principal!.id);
    options.onAccepted?.(outcome.kind);
    const { record } = outcome;
    reply.header('location', `/bookings/${record.id}`);
    if (record.status === 'PENDING') {
      reply.code(202);
      return { id: record.id, status: 'PENDING' as const };
    }
    reply.code(200);
    return toBookingView(record);
  });

  app.get('/bookings', {
    preHandler: options.authenticate(),
    schema: {
      tags: ['bookings'],
      summary: 'My decided bookings, newest first',
      description: 'A booking appears here once decided (within milliseconds of its 202); GET /bookings/:id answers for it before that.',
      security: [{ bearer: [] }],
      querystring: bookingListQuery,
      response: { 200: bookingPage, ...errorResponses },
    },
  }, async (request) => {
    const page = await options.bookings.listForUser(request.principal!.id, {
      ...(request.query.eventId ? { eventId: request.query.eventId.toLowerCase() } : {}),
      ...(request.query.status ? { status: request.query.status } : {}),
      ...(request.query.cursor ? { after: decodeCursor(request.query.cursor)! } : {}),
      limit: pageLimit(request.query.limit),
    });
    return { items: page.items.map(toBookingView), next: encodeCursor(page.next) };
  });

  app.get('/bookings/:id', {
    preHandler: options.authenticate(),
    schema: {
      tags: ['bookings'],
      summary: 'A booking and its outcome (owner only)',
      security: [{ bearer: [] }],
      params: bookingParams,
      response: { 200: bookingView, ...errorResponses },
    },
  }, async (request) => toBookingView(await options.findBooking(request.params.id, request.principal!.id)));

  app.post('/bookings/:id/payment', {
    bodyLimit: bookingBodyBytesMax,
    preHandler: options.authenticate(['buyer']),
    schema: {
      tags: ['bookings'],
      summary: 'Pay for a reserved booking (owner)',
      description: 'Answers 202; the booking becomes PAID, or stays RESERVED with a PAYMENT_DECLINED message on its stream. A payment that lands after the hold expired is refunded and the booking is EXPIRED. Paying twice never charges twice.',
      security: [{ bearer: [] }],
      params: bookingParams,
      body: paymentBody,
      response: { 202: paymentAccepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const { bookingId, paymentId } = await options.actions.pay(request.params.id, request.principal!.id, request.body.paymentToken);
    reply.code(202).header('location', `/bookings/${bookingId}`);
    return { bookingId, paymentId, status: 'PROCESSING' as const };
  });

  app.post('/bookings/:id/cancel', {
    preHandler: options.authenticate(),
    schema: {
      tags: ['bookings'],
      summary: "Cancel a reserved booking (its owner, or the event's organizer)",
      description: 'Answers 202; the booking becomes CANCELLED and its seats free (or EXPIRED, if the hold ran out first). A PENDING booking is 409 BOOKING_NOT_CANCELLABLE with Retry-After: cancel it once it is reserved.',
      security: [{ bearer: [] }],
      params: bookingParams,
      response: { 202: cancelAccepted, ...errorResponses },
    },
  }, async (request, reply) => {
    const { bookingId } = await options.actions.cancel(request.params.id, request.principal!);
    reply.code(202).header('location', `/bookings/${bookingId}`);
    return { bookingId, status: 'CANCELLING' as const };
  });
};
