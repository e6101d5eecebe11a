import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BOOKING_ID, EVENT_ID, SECTION, SUBSECTION, trace, tracingEnabled, type Span } from '@ticketing/shared/telemetry/tracing';

// Request spans come from the http and @fastify/otel instrumentations (shared/src/telemetry/
// sdk.ts); this adds what they cannot know: which booking and event a request is about, so
// Jaeger finds a booking's trace by `booking.id`, and the stable error code it was answered with.

interface OtelRequest {
  opentelemetry?: () => { readonly span?: Span | null };
}

// The request's own span, or the HTTP server span when @fastify/otel skipped the route.
export function requestSpan(request: FastifyRequest): Span | undefined {
  if (!tracingEnabled()) return undefined;
  return (request as OtelRequest).opentelemetry?.().span ?? trace.getActiveSpan();
}

export function registerTracing(app: FastifyInstance): void {
  if (!tracingEnabled()) return;
  // After validation, so the ids are well-formed; before the handler, so they are on the span
  // even when the handler fails.
  app.addHook('preHandler', async (request) => {
    const span = requestSpan(request);
    if (!span?.isRecording()) return;
    const body = (request.body ?? {}) as { id?: unknown; eventId?: unknown; section?: unknown; subsection?: unknown };
    const params = (request.params ?? {}) as { id?: unknown; eventId?: unknown };
    const isBookingRoute = request.routeOptions.url?.startsWith('/bookings') ?? false;
    const bookingId = isBookingRoute ? (request.method === 'POST' && request.routeOptions.url === '/bookings' ? body.id : params.id) : undefined;
    if (typeof bookingId === 'string') span.setAttribute(BOOKING_ID, bookingId);
    const eventId = params.eventId ?? body.eventId;
    if (typeof eventId === 'string') span.setAttribute(EVENT_ID, eventId);
    if (typeof body.section === 'string') span.setAttribute(SECTION, body.section);
    if (typeof body.subsection === 'number') span.setAttribute(SUBSECTION, body.subsection);
  });
}

export function recordErrorCode(request: FastifyRequest, code: string): void {
  requestSpan(request)?.setAttribute('error.type', code);
}
