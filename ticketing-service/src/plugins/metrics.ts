import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LiveEventSeats } from './live-event-seats.ts';

// The ticketing service's Prometheus series (docs/observability.md says which to watch).
// Labels are low-cardinality by construction: the route pattern (never the URL), the method,
// the status, a stable error code; events only for the bounded set of live ones.

export interface TicketingMetricSources {
  readonly producerQueued: () => number;
  readonly openStreams: () => number;
  // Commands held in the Postgres outbox because Kafka could not take them.
  readonly outboxDepth?: () => number;
  // Seats left per live event, read when Prometheus scrapes.
  readonly seatsLeft?: () => Promise<readonly LiveEventSeats[]>;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createTicketingMetrics(registry: Registry, sources: TicketingMetricSources) {
  const httpSeconds = new Histogram({
    name: 'ticketing_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const httpErrors = new Counter({ name: 'ticketing_http_errors_total', help: 'Error responses by route and stable error code', labelNames: ['method', 'route', 'code'], registers: [registry] });
  const bookingsAccepted = new Counter({ name: 'ticketing_bookings_accepted_total', help: 'POST /bookings answered with a booking, by whether it was new or a retry', labelNames: ['result'], registers: [registry] });
  const acceptSeconds = new Histogram({
    name: 'ticketing_booking_accept_duration_seconds',
    help: 'POST /bookings from request to answer, by outcome: accepted (202), existing (200), refused (4xx), unavailable (5xx)',
    labelNames: ['outcome'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  const sseMessages = new Counter({ name: 'ticketing_sse_messages_total', help: 'SSE messages written', labelNames: ['stream'], registers: [registry] });
  const produceBatchRecords = new Histogram({
    name: 'ticketing_kafka_produce_batch_records',
    help: 'Commands per Kafka produce request (the producer lingers KAFKA_PRODUCE_LINGER_MS to fill them)',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [registry],
  });
  const produceSeconds = new Histogram({
    name: 'ticketing_kafka_produce_duration_seconds',
    help: 'Kafka produce requests until acknowledged by all in-sync replicas, by outcome',
    labelNames: ['outcome'],
    buckets: latencyBuckets,
    registers: [registry],
  });
  new Gauge({ name: 'ticketing_sse_open_streams', help: 'Open SSE streams', registers: [registry], collect() { this.set(sources.openStreams()); } });
  new Gauge({ name: 'ticketing_kafka_producer_queued', help: 'Commands waiting for a Kafka acknowledgement', registers: [registry], collect() { this.set(sources.producerQueued()); } });
  new Gauge({ name: 'ticketing_outbox_depth', help: 'Commands in the Postgres outbox, waiting to be relayed to Kafka', registers: [registry], collect() { this.set(sources.outboxDepth?.() ?? 0); } });
  new Gauge({
    name: 'ticketing_event_seats_available',
    help: 'Seats neither reserved nor sold, per live event (not cancelled or closed, sales window open or ahead, not yet started)',
    labelNames: ['event_id', 'event'],
    registers: [registry],
    async collect() {
      if (!sources.seatsLeft) return;
      const events = await sources.seatsLeft();
      this.reset();
      for (const event of events) this.set({ event_id: event.eventId, event: event.name }, event.available);
    },
  });

  const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched';

  return {
    registry,
    bookingsAccepted,
    sseMessages,
    // Called by the error handler with the code it answered.
    errorSent(request: FastifyRequest, code: string) {
      httpErrors.inc({ method: request.method, route: routeOf(request), code });
    },
    produceBatchSent(batch: { readonly records: number; readonly durationMs: number; readonly ok: boolean }) {
      produceBatchRecords.observe(batch.records);
      produceSeconds.observe({ outcome: batch.ok ? 'ok' : 'error' }, batch.durationMs / 1000);
    },
    instrument(app: FastifyInstance) {
      app.addHook('onResponse', async (request, reply) => {
        const route = routeOf(request);
        const seconds = reply.elapsedTime / 1000;
        httpSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, seconds);
        if (route === '/bookings' && request.method === 'POST') acceptSeconds.observe({ outcome: acceptOutcome(reply.statusCode) }, seconds);
      });
    },
  };
}

function acceptOutcome(status: number): string {
  if (status === 202) return 'accepted';
  if (status === 200) return 'existing';
  return status >= 500 ? 'unavailable' : 'refused';
}

export type TicketingMetrics = ReturnType<typeof createTicketingMetrics>;
