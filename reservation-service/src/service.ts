import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Config } from '@ticketing/shared/config';
import { createPostgres } from '@ticketing/shared/db/client';
import { runMigrations } from '@ticketing/shared/db/migrate';
import { createCommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import { createKafkaClient, type CommandProducer } from '@ticketing/shared/messaging/kafka';
import { requireTopic } from '@ticketing/shared/messaging/topic-check';
import { createRedis } from '@ticketing/shared/redis/client';
import { createRedisKeys } from '@ticketing/shared/redis/keys';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { createDependencyMetrics, createMetricsRegistry } from '@ticketing/shared/telemetry/metrics';
import { createReservationConsumer } from './consumer.ts';
import { createExpirySweeper } from './jobs/expiry-sweeper.ts';
import { createOpsServer } from './ops/http-server.ts';
import { createReservationMetrics } from './ops/metrics.ts';
import { createFakePaymentProvider } from './payments/fake-provider.ts';
import { createPaymentWorker } from './payments/payment-worker.ts';
import { createBookingStore } from './reservations/booking-store.ts';
import { coalesceSlices } from './reservations/coalesce-slices.ts';
import { createDecideBatch } from './reservations/decide-batch.ts';
import { createSeatProjection } from './reservations/seat-projection.ts';

export interface ReservationService {
  readonly port: number;
  stop(): Promise<void>;
}

// Wires the reservation service from its config. main.ts adds signals; tests call this directly.
export async function startReservationService(config: Config, logger: Logger, hooks: { onFatal?: (error: unknown) => void } = {}): Promise<ReservationService> {
  if (config.postgres.migrateOnStart) await runMigrations(config.postgres.url, config.postgres);
  const postgres = createPostgres({ url: config.postgres.url, password: config.postgres.password, poolMax: config.postgres.poolMax, applicationName: 'reservation-service' });
  const redis = createRedis(config.redis.url, { name: 'reservation', logger, password: config.redis.password });
  const kafka = createKafkaClient({ ...config.kafka, clientId: `${config.kafka.clientId}-reservation`, logger });
  const registry = createMetricsRegistry('reservation-service');
  const dependencies = createDependencyMetrics(registry);
  dependencies.observePostgres(postgres.pool);
  dependencies.observeRedis(redis);
  const metrics = createReservationMetrics(registry, { clock: Date.now });

  let producer: CommandProducer | undefined;
  const stopClients = async () => {
    await producer?.close().catch(() => {});
    await kafka.close().catch(() => {});
    redis.disconnect();
    await postgres.close().catch(() => {});
  };
  let partitions: number;
  try {
    partitions = await requireTopic(kafka, config.kafka.commandTopic);
    producer = await kafka.createProducer({
      lingerMs: config.kafka.produceLingerMs,
      batchMax: config.kafka.produceBatchMax,
      queueMax: config.kafka.produceQueueMax,
      timeoutMs: config.kafka.produceTimeoutMs,
    });
  } catch (error) {
    await stopClients();
    throw error;
  }
  const publisher = createCommandPublisher({ producer, topic: config.kafka.commandTopic, partitions });
  const paymentWorker = createPaymentWorker({
    pool: postgres.pool,
    provider: createFakePaymentProvider({ redis, keyPrefix: config.redis.keyPrefix, clock: Date.now }),
    publisher,
    leaseMs: config.lifecycle.paymentLeaseMs,
    logger,
    clock: Date.now,
    onSettled: metrics.paymentSettled,
  });
  const expirySweeper = createExpirySweeper({
    pool: postgres.pool,
    publisher,
    intervalMs: config.lifecycle.expirySweepIntervalMs,
    logger,
    onRequested: metrics.expiriesRequested,
  });

  const decider = createDecideBatch({
    store: createBookingStore(postgres.pool),
    projection: createSeatProjection({ redis, keys: createRedisKeys(config.redis.keyPrefix), recordTtlS: config.limits.bookingRecordTtlS }),
    logger,
    clock: Date.now,
    defaults: { holdDurationS: config.lifecycle.holdDurationS, buyerSeatsMax: config.lifecycle.buyerSeatsMax },
  });
  const decideBatch = config.limits.reservationCoalesceMs > 0 ? coalesceSlices(decider, config.limits.reservationCoalesceMs) : decider;
  // Ready once this process has joined the group (it may legitimately own no partition).
  let consuming = false;
  const consumer = createReservationConsumer({
    kafka,
    topic: config.kafka.commandTopic,
    groupId: config.kafka.consumerGroup,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    maxWaitMs: config.kafka.maxWaitMs,
    partitionsConcurrency: config.kafka.partitionsConcurrency,
    sliceMax: config.limits.reservationBatchMax,
    decideBatch,
    logger,
    onFatal: hooks.onFatal ?? ((error) => {
      logger.fatal({ err: error }, 'invariant broken; exiting');
      process.exit(70);
    }),
    onRebalance: (assigned) => {
      consuming = true;
      metrics.partitionsAssigned(assigned);
    },
    onCrash: () => {
      consuming = false;
    },
    onPoison: metrics.poison,
    onLag: metrics.lag,
    onSlice: (slice) => {
      metrics.sliceDecided(slice);
      if (slice.result.paymentsQueued + slice.result.refundsQueued > 0) paymentWorker.kick();
    },
  });

  const server = createOpsServer({
    registry,
    ready: async () => {
      const [pgOk, redisOk, kafkaOk] = await Promise.all([
        postgres.pool.query('select 1').then(() => true, () => false),
        redis.ping().then(() => true, () => false),
        kafka.ping().then(() => true, () => false),
      ]);
      return { postgres: pgOk, redis: redisOk, kafka: kafkaOk, consumer: consuming };
    },
  });
  server.listen(config.http.reservationPort, config.http.host);
  await once(server, 'listening');
  await consumer.start();
  paymentWorker.start();
  expirySweeper.start();
  logger.info({ port: (server.address() as AddressInfo).port, topic: config.kafka.commandTopic, group: config.kafka.consumerGroup }, 'reservation service started');

  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      // Stop deciding first: the consumer finishes its slice and commits what is durable;
      // then the background jobs finish what they started and the producer drains.
      consuming = false;
      await consumer.stop();
      await expirySweeper.stop();
      await paymentWorker.stop();
      server.close();
      await stopClients();
    },
  };
}
