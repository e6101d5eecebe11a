import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { Type } from 'typebox';
import { v7 as uuidv7 } from 'uuid';
import { toBookingView } from '@ticketing/shared/domain/booking';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { canonicalUuid } from '@ticketing/shared/domain/ids';
import { eventBodyBytesMax } from '@ticketing/shared/domain/limits';
import { renderRowStates } from '@ticketing/shared/domain/seat-map';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import type { Authenticate, Principal } from '../plugins/auth.ts';
import { decodeCursor, encodeCursor } from '../plugins/cursor.ts';
import { queued } from '../plugins/dependency-errors.ts';
import { bookingListQuery, bookingPage, errorResponses, pageLimit } from '../bookings/schemas.ts';
import type { DecidedBookingReader } from '../bookings/booking-store.ts';
import type { CatalogEntry, EventCatalog } from './event-catalog.ts';
import { checkInstants, checkNewEvent, checkSalesWindow, subsectionKey } from './event-layout.ts';
import { listEvents } from './event-list.ts';
import type { EventStore, PolicyChange } from './event-store.ts';
import { eventView } from './event-view.ts';
import { createEventBody, eventListQuery, eventPage, eventParams, eventViewSchema, patchEventBody, seatMapParams, seatMapSchema } from './schemas.ts';
import type { SeatMapReader } from './seat-map-reader.ts';

export interface EventRoutesOptions {
  readonly authenticate: Authenticate;
  readonly catalog: EventCatalog;
  readonly store: EventStore;
  readonly pool: pg.Pool;
  readonly seatMaps: SeatMapReader;
  readonly bookings: DecidedBookingReader;
  readonly publisher: CommandPublisher;
  readonly eventSeatsMax: number;
  readonly defaults: { holdDurationS: number; buyerSeatsMax: number };
  readonly clock: () => number;
}

export async function requireEvent(catalog: EventCatalog, eventId: string): Promise<CatalogEntry> {
  const id = canonicalUuid(eventId);
  const entry = id ? await catalog.get(id) : null;
  if (!entry) throw new DomainError(ErrorCode.EVENT_NOT_FOUND, `Event ${eventId} does not exist`);
  return entry;
}

// An organizer manages only their own events; anyone else is told the event does not exist.
function requireOrganizer(entry: CatalogEntry, principal: Principal): void {
  if (entry.layout.organizerId !== principal.id) throw new DomainError(ErrorCode.EVENT_NOT_FOUND, `Event ${entry.layout.id} does not exist`);
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, options) => {
  const { catalog, store, seatMaps } = options;
  const view = async (entry: CatalogEntry) => eventView(entry, await store.counts(entry.layout.id), { nowMs: options.clock(), defaults: options.defaults });

  app.post('/events', {
    bodyLimit: eventBodyBytesMax,
    preHandler: options.authenticate(['organizer']),
    schema: {
      tags: ['events'],
      summary: 'Create an event with its seating layout (organizer)',
      security: [{ bearer: [] }],
      body: createEventBody,
      response: { 201: eventViewSchema, ...errorResponses },
    },
  }, async (request, reply) => {
    const problem = checkNewEvent(request.body, options.eventSeatsMax);
    if (problem) throw new DomainError(problem.code, problem.message);
    const created = await store.create({ ...request.body, id: uuidv7(), organizerId: request.principal!.id });
    catalog.remember(created.layout, created.policy);
    reply.code(201).header('location', `/events/${created.layout.id}`);
    return eventView(created, [], { nowMs: options.clock(), defaults: options.defaults });
  });

  app.get('/events', {
    schema: {
      tags: ['events'],
      summary: 'Events, newest first, optionally by status',
      querystring: eventListQuery,
      response: { 200: eventPage, ...errorResponses },
    },
  }, async (request) => {
    const page = await listEvents(options.pool, {
      ...(request.query.status ? { status: request.query.status } : {}),
      ...(request.query.cursor ? { after: decodeCursor(request.query.cursor)! } : {}),
      limit: pageLimit(request.query.limit),
    });
    return { items: page.items, next: encodeCursor(page.next) };
  });

  app.get('/events/:eventId', {
    schema: {
      tags: ['events'],
      summary: 'An event with its status and seat counts per subsection',
      params: eventParams,
      response: { 200: eventViewSchema, ...errorResponses },
    },
  }, async (request) => view(await requireEvent(catalog, request.params.eventId)));

  app.patch('/events/:eventId', {
    preHandler: options.authenticate(['organizer']),
    schema: {
      tags: ['events'],
      summary: 'Change the sales window, hold or cap; close or reopen sales; cancel the event (its organizer)',
      description: 'Changes reach every process within about a second. CANCELLED is final and cancels every open booking.',
      security: [{ bearer: [] }],
      params: eventParams,
      body: patchEventBody,
      response: { 200: eventViewSchema, ...errorResponses },
    },
  }, async (request) => {
    const entry = await requireEvent(catalog, request.params.eventId);
    requireOrganizer(entry, request.principal!);
    const body = request.body;
    if (entry.policy.cancelledAtMs !== null && body.status !== 'CANCELLED') {
      throw new DomainError(ErrorCode.EVENT_CANCELLED, 'A cancelled event cannot change');
    }
    const openAt = body.salesOpenAt !== undefined ? body.salesOpenAt : entry.policy.salesOpenAtMs === null ? null : new Date(entry.policy.salesOpenAtMs).toISOString();
    const closeAt = body.salesCloseAt !== undefined ? body.salesCloseAt : entry.policy.salesCloseAtMs === null ? null : new Date(entry.policy.salesCloseAtMs).toISOString();
    const windowProblem = checkInstants({ salesOpenAt: body.salesOpenAt, salesCloseAt: body.salesCloseAt }) ?? checkSalesWindow(openAt, closeAt);
    if (windowProblem) throw new DomainError(windowProblem.code, windowProblem.message);
    const change: PolicyChange = {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.salesOpenAt !== undefined ? { salesOpenAt: body.salesOpenAt } : {}),
      ...(body.salesCloseAt !== undefined ? { salesCloseAt: body.salesCloseAt } : {}),
      ...(body.holdDurationS !== undefined ? { holdDurationS: body.holdDurationS } : {}),
      ...(body.buyerSeatsMax !== undefined ? { buyerSeatsMax: body.buyerSeatsMax } : {}),
      ...(body.status === 'CLOSED' ? { closed: true } : body.status === 'ON_SALE' ? { closed: false } : {}),
      ...(body.status === 'CANCELLED' ? { cancel: true as const, closed: true } : {}),
    };
    const policy = await store.updatePolicy(entry.layout.id, change);
    catalog.remember(entry.layout, policy);
    if (body.status === 'CANCELLED') await cancelOpenBookings(entry, options.publisher, options.clock());
    return view({ layout: entry.layout, policy });
  });

  app.get('/events/:eventId/bookings', {
    preHandler: options.authenticate(['organizer']),
    schema: {
      tags: ['events'],
      summary: "The event's decided bookings, newest first (its organizer)",
      security: [{ bearer: [] }],
      params: eventParams,
      querystring: Type.Omit(bookingListQuery, ['eventId']),
      response: { 200: bookingPage, ...errorResponses },
    },
  }, async (request) => {
    const entry = await requireEvent(catalog, request.params.eventId);
    requireOrganizer(entry, request.principal!);
    const page = await options.bookings.listForEvent(entry.layout.id, {
      ...(request.query.status ? { status: request.query.status } : {}),
      ...(request.query.cursor ? { after: decodeCursor(request.query.cursor)! } : {}),
      limit: pageLimit(request.query.limit),
    });
    return { items: page.items.map((record) => ({ ...toBookingView(record), userId: record.userId })), next: encodeCursor(page.next) };
  });

  app.get('/events/:eventId/sections/:section/subsections/:number/seats', {
    schema: {
      tags: ['events'],
      summary: 'The seat map of one subsection',
      params: seatMapParams,
      response: { 200: seatMapSchema, ...errorResponses },
    },
  }, async (request) => {
    const { layout } = await requireEvent(catalog, request.params.eventId);
    const { section, number } = request.params;
    const subsection = layout.subsectionsByKey.get(subsectionKey(section, Number(number)));
    if (!subsection) {
      const known = layout.sections.some((candidate) => candidate.name === section);
      throw known
        ? new DomainError(ErrorCode.SUBSECTION_NOT_FOUND, `Section "${section}" has no subsection ${number}`)
        : new DomainError(ErrorCode.SECTION_NOT_FOUND, `Event has no section "${section}"`);
    }
    const states = await seatMaps.read(subsection);
    return { rows: subsection.rows, seatsPerRow: subsection.seatsPerRow, rowStates: renderRowStates(subsection, states) };
  });
};

// One command per subsection, through that subsection's partition: each releases the
// subsection's open holds in order with everything else deciding those seats, and bookings
// still in flight behind it are refused because the event is cancelled.
// A failure is a 503: the cancellation is recorded, and sending CANCELLED again re-sends them.
async function cancelOpenBookings(entry: CatalogEntry, publisher: CommandPublisher, nowMs: number): Promise<void> {
  await queued(Promise.all([...entry.layout.subsectionsById.values()].map((subsection) => publisher.publish({
    v: 1, type: 'cancel-event', eventId: entry.layout.id, subsectionId: subsection.id, section: subsection.section, subsection: subsection.number, atMs: nowMs,
  }))).then(() => undefined));
}
