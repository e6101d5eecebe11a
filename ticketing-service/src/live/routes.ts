import type {} from '@fastify/sse';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { isTerminal, toBookingView, type BookingRecord, type BookingView } from '@ticketing/shared/domain/booking';
import type { BookingNotice } from '@ticketing/shared/messaging/messages';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { endSpan } from '@ticketing/shared/telemetry/tracing';
import type { Authenticate } from '../plugins/auth.ts';
import { bookingParams, errorResponses, streamQuery } from '../bookings/schemas.ts';
import type { EventCatalog } from '../events/event-catalog.ts';
import { subsectionKey, type EventLayout, type SubsectionLayout } from '../events/event-layout.ts';
import { requireEvent } from '../events/routes.ts';
import { eventParams, eventStreamQuery } from '../events/schemas.ts';
import type { EventHub } from './event-hub.ts';
import type { EventFeeds } from './event-feed.ts';
import { startPushSpan } from './push-tracing.ts';
import type { StreamRegistry } from './stream-registry.ts';

export interface LiveRoutesOptions {
  readonly authenticate: Authenticate;
  readonly catalog: EventCatalog;
  readonly hub: EventHub;
  readonly feeds: EventFeeds;
  readonly streams: StreamRegistry;
  readonly findBooking: (bookingId: string, userId: string) => Promise<BookingRecord>;
  readonly seatMapSeatsMax: number;
  // A client whose socket has this much unsent data is too slow to keep up and is dropped.
  readonly clientBufferBytesMax: number;
  readonly onMessage?: (stream: 'booking' | 'event') => void;
}

const streamLimit = () => new DomainError(ErrorCode.STREAM_LIMIT_REACHED, 'Too many open streams on this server; retry shortly', { retryAfterS: 2 });

// Opens the stream: registers it (limit, shutdown) and commits the SSE response headers.
function openStream(reply: FastifyReply, streams: StreamRegistry): () => void {
  const release = streams.admit(() => reply.sse.close());
  if (!release) throw streamLimit();
  reply.sse.keepAlive();
  reply.sse.onClose(release);
  reply.sse.sendHeaders();
  return release;
}

export const liveRoutes: FastifyPluginAsyncTypebox<LiveRoutesOptions> = async (app, options) => {
  app.get('/bookings/:id/stream', {
    sse: { kind: 'manual' },
    preHandler: options.authenticate([], { allowQueryToken: true }),
    schema: {
      tags: ['live'],
      summary: "Server-Sent Events of one booking's state (owner only)",
      description: 'The first `booking` message is the current state, then one per change (`id` is the booking version); `payment` messages report a declined payment. The stream ends after a terminal state (REJECTED, PAID, EXPIRED, CANCELLED). Browsers may pass the token as `?access_token=`.',
      security: [{ bearer: [] }],
      params: bookingParams,
      querystring: streamQuery,
      response: errorResponses,
    },
  }, async (request, reply) => {
    const bookingId = request.params.id;
    const userId = request.principal!.id;
    const first = await options.findBooking(bookingId, userId);
    // Versions grow with every change, so an older state (a late read racing a newer
    // message) is never sent after a newer one.
    let lastVersion = -1;
    let stopListening = () => {};
    const push = (view: BookingView, traceparent?: string) => {
      if (view.version <= lastVersion || !reply.sse.isConnected) return;
      lastVersion = view.version;
      const span = startPushSpan(view, traceparent);
      const sent = reply.sse.send({ id: String(view.version), event: 'booking', data: view });
      if (span) sent.then(() => span.end(), (error: unknown) => endSpan(span, error));
      options.onMessage?.('booking');
      if (isTerminal(view.status)) {
        stopListening();
        reply.sse.close();
      }
    };
    const notify = (notice: BookingNotice) => {
      if (!reply.sse.isConnected) return;
      void reply.sse.send({ event: 'payment', data: { bookingId: notice.bookingId, paymentId: notice.paymentId, status: notice.kind, reason: notice.reason } });
      options.onMessage?.('booking');
    };
    const reread = () => options.findBooking(bookingId, userId).then((record) => push(toBookingView(record)), () => {});
    openStream(reply, options.streams);
    stopListening = await options.hub.listen(first.eventId, {
      onUpdate: (update) => {
        for (const view of update.bookings) if (view.id === bookingId) push(view, update.traces?.[view.id]);
        for (const notice of update.notices ?? []) if (notice.bookingId === bookingId) notify(notice);
      },
      onResync: () => void reread(),
    });
    reply.sse.onClose(() => stopListening());
    // Read again now that the subscription is live: an outcome published between the first
    // read and the subscription is in this read.
    await reread();
  });

  app.get('/events/:eventId/stream', {
    sse: { kind: 'manual' },
    schema: {
      tags: ['live'],
      summary: "Server-Sent Events of an event's live seat map",
      description: 'Starts with a `snapshot` (counts for every subsection, seat rows for the subsections in scope), then `delta` messages at most every SSE_DELTA_FLUSH_MS with the seats that changed and fresh counts. Scope: every subsection when the event has at most SSE_SEAT_MAP_SEATS_MAX seats, else the `subsections` listed.',
      params: eventParams,
      querystring: eventStreamQuery,
      response: errorResponses,
    },
  }, async (request, reply) => {
    const { layout } = await requireEvent(options.catalog, request.params.eventId);
    const scope = scopeOf(layout, request.query.subsections, options.seatMapSeatsMax);
    openStream(reply, options.streams);
    const leave = await options.feeds.join(layout, {
      scope,
      scopeKey: scope.map((sub) => sub.id).join(','),
      write(frame) {
        if (!reply.sse.isConnected) return;
        if (reply.raw.writableLength > options.clientBufferBytesMax) {
          request.log.warn({ buffered: reply.raw.writableLength }, 'event-stream client too slow; disconnecting');
          reply.sse.close();
          return;
        }
        reply.raw.write(frame);
        options.onMessage?.('event');
      },
    });
    reply.sse.onClose(leave);
  });
};

function scopeOf(layout: EventLayout, requested: string | undefined, seatMapSeatsMax: number): SubsectionLayout[] {
  if (requested === undefined || requested === '') {
    return layout.capacity <= seatMapSeatsMax ? [...layout.subsectionsById.values()] : [];
  }
  const scope = new Map<number, SubsectionLayout>();
  let seats = 0;
  for (const item of requested.split(',')) {
    const dash = item.lastIndexOf('-');
    const subsection = dash > 0 ? layout.subsectionsByKey.get(subsectionKey(item.slice(0, dash), Number(item.slice(dash + 1)))) : undefined;
    if (!subsection) throw new DomainError(ErrorCode.SUBSECTION_NOT_FOUND, `No subsection "${item}" in this event (use section-number, e.g. A-1)`);
    if (!scope.has(subsection.id)) seats += subsection.capacity;
    scope.set(subsection.id, subsection);
  }
  if (seats > Math.max(seatMapSeatsMax, 1)) {
    throw new DomainError(ErrorCode.VALIDATION_FAILED, `The requested seat maps hold ${seats} seats; a stream carries at most ${seatMapSeatsMax}`);
  }
  return [...scope.values()];
}

