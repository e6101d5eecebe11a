import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { Type } from 'typebox';
import { v7 as uuidv7 } from 'uuid';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { bookingFingerprint } from '@ticketing/shared/domain/fingerprint';
import { isUuid, isUuidV7 } from '@ticketing/shared/domain/ids';
import { bookingBodyBytesMax, eventBodyBytesMax, seatsPerSubsectionMax, subsectionsPerEventMax } from '@ticketing/shared/domain/limits';
import { renderRowStates, seatIndex, seatPosition } from '@ticketing/shared/domain/seat-map';
import { createBookingBody } from '../../../ticketing-service/src/bookings/schemas.ts';
import { createEventBody } from '../../../ticketing-service/src/events/schemas.ts';
import { createAuthenticator } from '../../../ticketing-service/src/plugins/auth.ts';
import { registerErrorHandling } from '../../../ticketing-service/src/plugins/errors.ts';
import { createLayoutCache, subsectionKey, type Layout, type LayoutCache, type Subsection } from './layouts.ts';

// The HTTP surface both baselines share. What decides whether a request is accepted comes
// from the product itself, so the three systems refuse exactly the same requests: the JWT
// verification (createAuthenticator), the request schemas with the same strictness, the error
// bodies and codes (registerErrorHandling), the fingerprint that tells a retry from a reused
// id. The API subset is the one the benchmarks use: POST /events, GET /events/:id, the seat
// map, POST /bookings (synchronous: 200 with the decision) and GET /bookings/:id.
//
// Left out, to the baselines' advantage: metrics, OpenAPI docs, request ids, SSE, load shedding.

export interface BookingRequest {
  readonly id: string;
  readonly eventId: string;
  readonly userId: string;
  readonly subsection: Subsection;
  readonly quantity: number;
  // Seat indexes of a manual pick.
  readonly seats: number[] | undefined;
  readonly fingerprint: string;
  readonly createdAtMs: number;
}

export interface Decision {
  readonly status: 'RESERVED' | 'REJECTED';
  readonly reason: string | null;
  readonly seats: readonly number[];
  readonly decidedAtMs: number;
  // Set when the id was used before: the stored booking's owner, fingerprint and creation.
  readonly existing?: { readonly userId: string; readonly fingerprint: string; readonly createdAtMs: number };
}

export interface BaselineDeps {
  readonly pool: pg.Pool;
  readonly jwtSecret: string;
  readonly quantityMax: number;
  readonly eventSeatsMax: number;
  // Called inside the event-creation transaction so a baseline can add its own seat state.
  readonly onEventCreated: (client: pg.PoolClient, subsections: readonly Subsection[]) => Promise<void>;
  readonly decide: (request: BookingRequest) => Promise<Decision>;
  readonly seatStates: (subsection: Subsection) => Promise<Uint8Array>;
  readonly ready: () => Promise<boolean>;
}

const errorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
const errorResponses = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 413: errorBody, 415: errorBody, 503: errorBody };
const counts = { capacity: Type.Integer(), available: Type.Integer(), reserved: Type.Integer(), sold: Type.Integer() };
const eventViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  startsAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  ...counts,
  sections: Type.Array(Type.Object({
    name: Type.String(),
    subsections: Type.Array(Type.Object({ number: Type.Integer(), rows: Type.Integer(), seatsPerRow: Type.Integer(), priceCents: Type.Integer(), ...counts })),
  })),
});
const bookingViewSchema = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  section: Type.String(),
  subsection: Type.Integer(),
  quantity: Type.Integer(),
  status: Type.String(),
  reason: Type.Optional(Type.String()),
  seats: Type.Array(Type.Object({ row: Type.Integer(), seat: Type.Integer() })),
  createdAt: Type.String(),
  decidedAt: Type.String(),
});
const eventParams = Type.Object({ eventId: Type.String({ maxLength: 64 }) });
const seatMapParams = Type.Object({ eventId: Type.String({ maxLength: 64 }), section: Type.String({ maxLength: 128 }), number: Type.String({ pattern: '^[0-9]{1,7}$' }) });
const bookingParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const seatMapSchema = Type.Object({ rows: Type.Integer(), seatsPerRow: Type.Integer(), rowStates: Type.Array(Type.String()) });

export async function buildBaselineApp(deps: BaselineDeps): Promise<{ app: FastifyInstance; layouts: LayoutCache }> {
  const app = Fastify({
    logger: { level: 'warn' },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  registerErrorHandling(app);
  const authenticate = createAuthenticator({ secret: deps.jwtSecret });
  const layouts = createLayoutCache(deps.pool);

  app.get('/health/ready', async (_request, reply) => {
    const ok = await deps.ready().catch(() => false);
    reply.code(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable' };
  });

  app.post('/events', {
    bodyLimit: eventBodyBytesMax,
    preHandler: authenticate(['organizer']),
    schema: { body: createEventBody, response: { 201: eventViewSchema, ...errorResponses } },
  }, async (request, reply) => {
    checkNewEvent(request.body, deps.eventSeatsMax);
    const layout = await layouts.create({ ...request.body, id: uuidv7(), organizerId: request.principal!.id }, deps.onEventCreated);
    reply.code(201).header('location', `/events/${layout.id}`);
    return eventView(layout, new Map());
  });

  app.get('/events/:eventId', { schema: { params: eventParams, response: { 200: eventViewSchema, ...errorResponses } } }, async (request) => {
    const layout = await layouts.require(request.params.eventId);
    return eventView(layout, await layouts.counts(layout.id));
  });

  app.get('/events/:eventId/sections/:section/subsections/:number/seats', {
    schema: { params: seatMapParams, response: { 200: seatMapSchema, ...errorResponses } },
  }, async (request) => {
    const layout = await layouts.require(request.params.eventId);
    const subsection = layout.byKey.get(subsectionKey(request.params.section, Number(request.params.number)));
    if (!subsection) throw new DomainError(ErrorCode.SUBSECTION_NOT_FOUND, 'No such subsection');
    return { rows: subsection.rows, seatsPerRow: subsection.seatsPerRow, rowStates: renderRowStates(subsection, await deps.seatStates(subsection)) };
  });

  app.post('/bookings', {
    bodyLimit: bookingBodyBytesMax,
    preHandler: authenticate(['buyer']),
    schema: { body: createBookingBody, response: { 200: bookingViewSchema, ...errorResponses } },
  }, async (request) => {
    const body = request.body;
    const userId = request.principal!.id;
    if (!isUuidV7(body.id)) throw new DomainError(ErrorCode.INVALID_BOOKING_ID, 'Booking id must be a UUIDv7 (RFC 9562) made by the client');
    const layout = isUuid(body.eventId) ? await layouts.get(body.eventId) : null;
    if (!layout) throw new DomainError(ErrorCode.EVENT_NOT_FOUND, `Event ${body.eventId} does not exist`);
    const subsection = layout.byKey.get(subsectionKey(body.section, body.subsection));
    if (!subsection) {
      throw layout.subsections.some((candidate) => candidate.section === body.section)
        ? new DomainError(ErrorCode.SUBSECTION_NOT_FOUND, `Section "${body.section}" has no subsection ${body.subsection}`)
        : new DomainError(ErrorCode.SECTION_NOT_FOUND, `Event has no section "${body.section}"`);
    }
    const seats = checkSeats(body, subsection, deps.quantityMax);
    const fingerprint = bookingFingerprint({
      userId, eventId: body.eventId, section: body.section, subsection: body.subsection, quantity: body.quantity, ...(seats ? { seats } : {}),
    });
    const createdAtMs = Date.now();
    const decision = await deps.decide({ id: body.id, eventId: body.eventId, userId, subsection, quantity: body.quantity, seats, fingerprint, createdAtMs });
    if (decision.existing && (decision.existing.userId !== userId || decision.existing.fingerprint !== fingerprint)) {
      throw new DomainError(ErrorCode.BOOKING_ID_CONFLICT, 'This booking id was already used for a different request');
    }
    return bookingView({ id: body.id, eventId: body.eventId, subsection, quantity: body.quantity, ...decision, createdAtMs: decision.existing?.createdAtMs ?? createdAtMs });
  });

  app.get('/bookings/:id', {
    preHandler: authenticate(),
    schema: { params: bookingParams, response: { 200: bookingViewSchema, ...errorResponses } },
  }, async (request) => {
    const booking = isUuid(request.params.id) ? await layouts.findBooking(request.params.id) : null;
    if (!booking || booking.userId !== request.principal!.id) throw new DomainError(ErrorCode.BOOKING_NOT_FOUND, 'No such booking');
    return bookingView(booking);
  });

  return { app, layouts };
}

function bookingView(booking: { id: string; eventId: string; subsection: Subsection; quantity: number; status: string; reason: string | null; seats: readonly number[]; createdAtMs: number; decidedAtMs: number }) {
  return {
    id: booking.id,
    eventId: booking.eventId,
    section: booking.subsection.section,
    subsection: booking.subsection.number,
    quantity: booking.quantity,
    status: booking.status,
    ...(booking.reason ? { reason: booking.reason } : {}),
    seats: booking.seats.map((seat) => seatPosition(booking.subsection, seat)),
    createdAt: new Date(booking.createdAtMs).toISOString(),
    decidedAt: new Date(booking.decidedAtMs).toISOString(),
  };
}

function eventView(layout: Layout, countsById: ReadonlyMap<number, { reserved: number; sold: number }>) {
  let reserved = 0;
  let sold = 0;
  type SubsectionView = { number: number; rows: number; seatsPerRow: number; priceCents: number; capacity: number; available: number; reserved: number; sold: number };
  const sections: Array<{ name: string; subsections: SubsectionView[] }> = [];
  for (const sub of layout.subsections) {
    const count = countsById.get(sub.id) ?? { reserved: 0, sold: 0 };
    reserved += count.reserved;
    sold += count.sold;
    if (sections.at(-1)?.name !== sub.section) sections.push({ name: sub.section, subsections: [] });
    sections.at(-1)!.subsections.push({
      number: sub.number, rows: sub.rows, seatsPerRow: sub.seatsPerRow, priceCents: sub.priceCents, capacity: sub.capacity,
      available: sub.capacity - count.reserved - count.sold, reserved: count.reserved, sold: count.sold,
    });
  }
  return {
    id: layout.id, name: layout.name, startsAt: layout.startsAt, createdAt: layout.createdAt, capacity: layout.capacity,
    available: layout.capacity - reserved - sold, reserved, sold, sections,
  };
}

// The product's layout checks that a schema cannot express, with the same codes.
function checkNewEvent(input: { sections: ReadonlyArray<{ name: string; subsections: ReadonlyArray<{ number: number; rows: number; seatsPerRow: number }> }> }, eventSeatsMax: number): void {
  const names = new Set<string>();
  let seats = 0;
  let count = 0;
  for (const section of input.sections) {
    if (names.has(section.name)) throw new DomainError(ErrorCode.DUPLICATE_SUBSECTION, `Section "${section.name}" appears twice`);
    names.add(section.name);
    const numbers = new Set<number>();
    for (const sub of section.subsections) {
      if (numbers.has(sub.number)) throw new DomainError(ErrorCode.DUPLICATE_SUBSECTION, `Subsection ${sub.number} appears twice in section "${section.name}"`);
      numbers.add(sub.number);
      if (sub.rows * sub.seatsPerRow > seatsPerSubsectionMax) throw new DomainError(ErrorCode.EVENT_LIMIT_EXCEEDED, `Subsection ${section.name}-${sub.number} is too big`);
      seats += sub.rows * sub.seatsPerRow;
      count++;
    }
  }
  if (count > subsectionsPerEventMax) throw new DomainError(ErrorCode.EVENT_LIMIT_EXCEEDED, `An event has at most ${subsectionsPerEventMax} subsections`);
  if (seats > eventSeatsMax) throw new DomainError(ErrorCode.EVENT_LIMIT_EXCEEDED, `The event has ${seats} seats; the limit is ${eventSeatsMax}`);
}

// The product's accept-path checks, with the same codes.
function checkSeats(body: { quantity: number; seats?: Array<{ row: number; seat: number }> }, subsection: Subsection, quantityMax: number): number[] | undefined {
  if (body.quantity < 1 || body.quantity > quantityMax) throw new DomainError(ErrorCode.QUANTITY_OUT_OF_RANGE, `quantity must be between 1 and ${quantityMax}`);
  if (!body.seats) return undefined;
  if (body.seats.length !== body.quantity) throw new DomainError(ErrorCode.SEATS_QUANTITY_MISMATCH, `${body.seats.length} seats were picked for a quantity of ${body.quantity}`);
  const indexes = body.seats.map((seat) => {
    if (seat.row < 1 || seat.row > subsection.rows || seat.seat < 1 || seat.seat > subsection.seatsPerRow) {
      throw new DomainError(ErrorCode.SEAT_OUT_OF_RANGE, `Seat ${seat.row}-${seat.seat} is outside the ${subsection.rows} × ${subsection.seatsPerRow} grid`);
    }
    return seatIndex(subsection, seat.row, seat.seat);
  });
  if (new Set(indexes).size !== indexes.length) throw new DomainError(ErrorCode.DUPLICATE_SEATS, 'A seat was picked twice');
  return indexes;
}
