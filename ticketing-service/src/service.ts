import type { FastifyInstance } from 'fastify';
import type { Config } from '@ticketing/shared/config';
import { createPostgres } from '@ticketing/shared/db/client';
import { runMigrations } from '@ticketing/shared/db/migrate';
import { createCommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import { createKafkaClient } from '@ticketing/shared/messaging/kafka';
import { requireTopic } from '@ticketing/shared/messaging/topic-check';
import { createRedis, createSubscriber } from '@ticketing/shared/redis/client';
import { createRedisKeys } from '@ticketing/shared/redis/keys';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { createDependencyMetrics, createMetricsRegistry } from '@ticketing/shared/telemetry/metrics';
import { buildApp } from './app.ts';
import { createUserStore } from './accounts/user-store.ts';
import { createAcceptBooking } from './bookings/accept-booking.ts';
import { createBookingActions } from './bookings/booking-actions.ts';
import { createBookingRecords } from './bookings/booking-records.ts';
import { createDurablePublisher } from './bookings/durable-publisher.ts';
import { createFindAnyBooking, createFindBooking } from './bookings/routes.ts';
import { createDecidedBookingReader } from './bookings/booking-store.ts';
import { createEventCatalog } from './events/event-catalog.ts';
import { createEventStore } from './events/event-store.ts';
import { createSeatMapReader } from './events/seat-map-reader.ts';
import { createEventFeeds } from './live/event-feed.ts';
import { createEventHub } from './live/event-hub.ts';
import { createStreamRegistry } from './live/stream-registry.ts';
import { createLiveEventSeats } from './plugins/live-event-seats.ts';
import { createTicketingMetrics } from './plugins/metrics.ts';

export interface TicketingService {
  readonly app: FastifyInstance;
  readonly url: string;
  stop(): Promise<void>;
}

const catalogEntriesMax = 10_000;
const catalogMissTtlMs = 1000;
// Organizer changes (closing sales, cancelling) reach every process within this.
const catalogPolicyTtlMs = 1000;
const readinessCacheMs = 1000;
// Seats-left series on /metrics: bounded, and read at most this often however many scrapers.
const liveEventsMax = 100;
const liveEventSeatsCacheMs = 2000;

// The composition root of the ticketing service: every adapter is made here, once, from the
// config, and handed to buildApp. main.ts adds signals; tests call this directly.
export async function startTicketingService(config: Config, logger: Logger): Promise<TicketingService> {
  if (config.postgres.migrateOnStart) await runMigrations(config.postgres.url, config.postgres);
  const postgres = createPostgres({ url: config.postgres.url, password: config.postgres.password, poolMax: config.postgres.poolMax, applicationName: 'ticketing-service' });
  const redis = createRedis(config.redis.url, { name: 'ticketing', logger, password: config.redis.password });
  const subscriber = createSubscriber(config.redis.url, { name: 'ticketing-subscriber', logger, password: config.redis.password });
  const kafka = createKafkaClient({ ...config.kafka, clientId: `${config.kafka.clientId}-ticketing`, logger });
  const keys = createRedisKeys(config.redis.keyPrefix);
  const registry = createMetricsRegistry('ticketing-service');
  const dependencies = createDependencyMetrics(registry);
  dependencies.observePostgres(postgres.pool);
  dependencies.observeRedis(redis);
  const streams = createStreamRegistry({ connectionsMax: config.sse.connectionsMax });
  const metrics = createTicketingMetrics(registry, {
    producerQueued: () => producer.queued,
    outboxDepth: () => publisher.depth,
    openStreams: () => streams.open,
    seatsLeft: createLiveEventSeats({ pool: postgres.pool, eventsMax: liveEventsMax, cacheMs: liveEventSeatsCacheMs, clock: Date.now }),
  });
  const closeClients = async () => {
    await kafka.close().catch(() => {});
    subscriber.disconnect();
    redis.disconnect();
    await postgres.close().catch(() => {});
  };

  let partitions: number;
  let producer: Awaited<ReturnType<typeof kafka.createProducer>>;
  try {
    partitions = await requireTopic(kafka, config.kafka.commandTopic);
    producer = await kafka.createProducer({
      lingerMs: config.kafka.produceLingerMs,
      batchMax: config.kafka.produceBatchMax,
      queueMax: config.kafka.produceQueueMax,
      timeoutMs: config.kafka.produceTimeoutMs,
      onBatchSent: metrics.produceBatchSent,
    });
  } catch (error) {
    await closeClients();
    throw error;
  }

  const eventStore = createEventStore(postgres.db);
  const catalog = createEventCatalog({ store: eventStore, entriesMax: catalogEntriesMax, missTtlMs: catalogMissTtlMs, policyTtlMs: catalogPolicyTtlMs, clock: Date.now });
  // Every command the service sends goes through the outbox fallback: a 202 means Kafka
  // acknowledged it or Postgres committed it.
  const publisher = createDurablePublisher({
    publisher: createCommandPublisher({ producer, topic: config.kafka.commandTopic, partitions }),
    pool: postgres.pool,
    logger,
    fallbackAfterMs: config.outbox.fallbackAfterMs,
    relayIntervalMs: config.outbox.relayIntervalMs,
    relayBatchMax: config.kafka.produceBatchMax,
    rowsMax: config.outbox.rowsMax,
  });
  publisher.start();
  const records = createBookingRecords({ redis, keys, ttlS: config.limits.bookingRecordTtlS });
  const decided = createDecidedBookingReader(postgres.pool);
  const seatMaps = createSeatMapReader({ redis, keys, pool: postgres.pool });
  const hub = createEventHub({ subscriber, keys, logger });
  const feeds = createEventFeeds({
    hub,
    flushMs: config.sse.deltaFlushMs,
    logger,
    source: {
      counts: async (layout) => new Map((await eventStore.counts(layout.id)).map((row) => [row.id, row])),
      seatStates: (subsections) => seatMaps.readMany(subsections),
    },
  });

  let readiness: { at: number; checks: Promise<Record<string, boolean>> } | undefined;
  const ready = () => {
    // Probes arrive every few seconds from every load balancer node; one check per second is enough.
    if (!readiness || Date.now() - readiness.at > readinessCacheMs) {
      readiness = {
        at: Date.now(),
        checks: Promise.all([
          postgres.pool.query('select 1').then(() => true, () => false),
          redis.ping().then(() => true, () => false),
          kafka.ping().then(() => true, () => false),
        ]).then(([pg, redisOk, kafkaOk]) => ({ postgres: pg, redis: redisOk, kafka: kafkaOk })),
      };
    }
    return readiness.checks;
  };

  const findAnyBooking = createFindAnyBooking(records, decided);
  const app = await buildApp({
    config, logger, catalog, eventStore, seatMaps, hub, feeds, streams, metrics, ready, publisher, redis,
    pool: postgres.pool,
    bookings: decided,
    users: createUserStore(postgres.db),
    clock: Date.now,
    findBooking: createFindBooking(findAnyBooking),
    actions: createBookingActions({ catalog, publisher, findAnyBooking, clock: Date.now }),
    acceptBooking: createAcceptBooking({
      catalog, records, decided, publisher, quantityMax: config.limits.bookingQuantityMax, recordTtlS: config.limits.bookingRecordTtlS, clock: Date.now,
    }),
  });
  const url = await app.listen({ host: config.http.host, port: config.http.port });
  logger.info({ url, topic: config.kafka.commandTopic, partitions }, 'ticketing service listening');

  return {
    app,
    url,
    async stop() {
      // Stop taking requests and end streams, then drain the producer so every 202 already
      // sent is backed by an acknowledged command, then close the clients.
      await app.close();
      await publisher.stop();
      await producer.close().catch((error: unknown) => logger.error({ err: error }, 'producer close failed'));
      await hub.close();
      await closeClients();
    },
  };
}
