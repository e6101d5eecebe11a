import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import { fastifySSE } from '@fastify/sse';
import underPressure from '@fastify/under-pressure';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { ErrorCode } from '@ticketing/shared/domain/error-codes';
import type { Config } from '@ticketing/shared/config';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { CommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import { accountRoutes } from './accounts/routes.ts';
import type { UserStore } from './accounts/user-store.ts';
import type { AcceptOutcome, BookingRequest } from './bookings/accept-booking.ts';
import type { BookingActions } from './bookings/booking-actions.ts';
import type { DecidedBookingReader } from './bookings/booking-store.ts';
import { bookingRoutes } from './bookings/routes.ts';
import type { EventCatalog } from './events/event-catalog.ts';
import type { EventStore } from './events/event-store.ts';
import { eventRoutes } from './events/routes.ts';
import type { SeatMapReader } from './events/seat-map-reader.ts';
import type { EventHub } from './live/event-hub.ts';
import type { EventFeeds } from './live/event-feed.ts';
import { liveRoutes } from './live/routes.ts';
import type { StreamRegistry } from './live/stream-registry.ts';
import { createAuthenticator } from './plugins/auth.ts';
import { registerDocs } from './plugins/docs.ts';
import { clientErrorHandler, createFrameworkErrorHandler, registerErrorHandling, registerProtocolChecks } from './plugins/errors.ts';
import type { TicketingMetrics } from './plugins/metrics.ts';
import { registerOperations, type ReadinessCheck } from './plugins/operations.ts';
import { createTokenSigner } from './plugins/tokens.ts';
import { recordErrorCode, registerTracing } from './plugins/tracing.ts';
import type { BookingRecord } from '@ticketing/shared/domain/booking';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly catalog: EventCatalog;
  readonly eventStore: EventStore;
  readonly seatMaps: SeatMapReader;
  readonly acceptBooking: (request: BookingRequest, userId: string) => Promise<AcceptOutcome>;
  readonly findBooking: (bookingId: string, userId: string) => Promise<BookingRecord>;
  readonly actions: BookingActions;
  readonly bookings: DecidedBookingReader;
  readonly users: UserStore;
  readonly publisher: CommandPublisher;
  readonly pool: pg.Pool;
  // The rate limiter's store: shared by every ticketing process.
  readonly redis: Redis;
  readonly clock: () => number;
  readonly hub: EventHub;
  readonly feeds: EventFeeds;
  readonly streams: StreamRegistry;
  readonly metrics: TicketingMetrics;
  readonly ready: ReadinessCheck;
}

const defaultBodyBytesMax = 16 * 1024;
const loginAttemptsPerMinuteMax = 10;
const sseClientBufferBytesMax = 1024 * 1024;

// Builds the HTTP application from ready-made dependencies; listening is the caller's job
// (service.ts in production, tests through app.inject() or a real socket).
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const onErrorSent = (request: FastifyRequest, code: ErrorCode) => {
    deps.metrics.errorSent(request, code);
    recordErrorCode(request, code);
  };
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // No per-request log lines: at on-sale rates they would cost more than the requests.
    // The request id is on every request's log line, beside trace_id and span_id
    // (shared/src/telemetry/logger.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: defaultBodyBytesMax,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    // Strict bodies: no type coercion ("2" is not a quantity), unknown fields are refused.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Malformed requests get the API's error shape too, wherever they are caught.
    frameworkErrors: createFrameworkErrorHandler(onErrorSent),
    clientErrorHandler,
    // Node would answer a missing Host with an empty 400; registerProtocolChecks answers it.
    http: { requireHostHeader: false },
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerErrorHandling(app, { onErrorSent });
  registerProtocolChecks(app);
  registerTracing(app);
  // The API speaks JSON only; anything else is 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  deps.metrics.instrument(app);
  // Sheds load with 503 + Retry-After (mapped to OVERLOADED by the error handler) when the
  // event loop falls behind; health and metrics routes opt out so probes keep answering.
  await app.register(underPressure, {
    maxEventLoopDelay: config.overload.eventLoopDelayMaxMs,
    maxEventLoopUtilization: config.overload.eventLoopUtilizationMax,
    // Utilisation over the last sample, not since the process started (the default).
    eventLoopUtilizationMode: 'interval',
    retryAfter: 2,
  });
  // Per-route limits only (bookings per user, logins per address), counted in Redis so every
  // process shares them. Evaluated after authentication, so a booking limit is per user. If
  // Redis fails, requests pass: the limiter protects fairness, not correctness.
  await app.register(rateLimit, {
    global: false,
    redis: deps.redis,
    nameSpace: `${config.redis.keyPrefix}rate:`,
    hook: 'preHandler',
    skipOnError: true,
  });
  await registerDocs(app, { publicUrl: config.http.publicUrl });
  await app.register(fastifySSE, { heartbeatInterval: config.sse.heartbeatMs });

  const authenticate = createAuthenticator({ secret: config.auth.jwtSecret });
  registerOperations(app, { ready: deps.ready, registry: deps.metrics.registry });
  const defaults = { holdDurationS: config.lifecycle.holdDurationS, buyerSeatsMax: config.lifecycle.buyerSeatsMax };
  await app.register(accountRoutes, {
    authenticate, users: deps.users, signToken: createTokenSigner(config.auth.jwtSecret), sessionTtlS: config.auth.sessionTtlS, clock: deps.clock,
    loginRateLimitMax: loginAttemptsPerMinuteMax,
  });
  await app.register(eventRoutes, {
    authenticate, catalog: deps.catalog, store: deps.eventStore, pool: deps.pool, seatMaps: deps.seatMaps, bookings: deps.bookings, publisher: deps.publisher,
    eventSeatsMax: config.limits.eventSeatsMax, defaults, clock: deps.clock,
  });
  await app.register(bookingRoutes, {
    authenticate, acceptBooking: deps.acceptBooking, findBooking: deps.findBooking, actions: deps.actions, bookings: deps.bookings,
    rateLimit: {
      max: config.rateLimit.bookingsMax,
      timeWindow: config.rateLimit.windowMs,
      keyGenerator: (request) => `bookings:${request.principal?.id ?? request.ip}`,
    },
    onAccepted: (kind) => deps.metrics.bookingsAccepted.inc({ result: kind }),
  });
  await app.register(liveRoutes, {
    authenticate, catalog: deps.catalog, hub: deps.hub, feeds: deps.feeds, streams: deps.streams, findBooking: deps.findBooking,
    seatMapSeatsMax: config.sse.seatMapSeatsMax, clientBufferBytesMax: sseClientBufferBytesMax,
    onMessage: (stream) => deps.metrics.sseMessages.inc({ stream }),
  });
  app.addHook('preClose', async () => deps.streams.closeAll());
  return app;
}
