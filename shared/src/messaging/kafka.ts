import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type * as KafkaJS from 'kafkajs';
import type { Consumer, EachBatchPayload, Kafka as KafkaInstance, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from '../telemetry/logger.ts';
import {
  context,
  endSpan,
  injectHeaders,
  MESSAGING_DESTINATION,
  MESSAGING_KAFKA_KEY,
  MESSAGING_OPERATION_NAME,
  MESSAGING_OPERATION_TYPE,
  MESSAGING_PARTITION,
  MESSAGING_SYSTEM,
  ROOT_CONTEXT,
  SpanKind,
  startSpan,
  tracingEnabled,
} from '../telemetry/tracing.ts';

// The only file that imports kafkajs (it is in maintenance mode; swapping the client must be
// a change to this file alone). Everything else sees KafkaClient, CommandProducer and
// CommandConsumer below.

// kafkajs 2.2.4 can spin without ever yielding to the event loop when every broker is gone: a
// fetch against a closed connection fails without I/O, the fetcher drops the broker and
// returns no batches, and its loop fetches again at once (tulios/kafkajs#1384, #1387; the
// fix in #1428 was never merged). Seen here with all mock brokers down: the process froze at
// 100% CPU, health checks and timers included. Every fetcher is therefore built with a fetch
// that waits a moment after an empty result. It must be installed before kafkajs loads its
// fetch manager, so kafkajs is loaded with require() below, after this.
const emptyFetchBackoffMs = 100;
const require = createRequire(import.meta.url);
type FetcherOptions = { fetch(nodeId: number): Promise<unknown[]> } & Record<string, unknown>;
const fetcherModule = require.resolve('kafkajs/src/consumer/fetcher');
const createFetcher = require(fetcherModule) as (options: FetcherOptions) => unknown;
require.cache[fetcherModule]!.exports = (options: FetcherOptions) => createFetcher({
  ...options,
  async fetch(nodeId: number) {
    const batches = await options.fetch(nodeId);
    if (batches.length === 0) await new Promise((resolve) => setTimeout(resolve, emptyFetchBackoffMs));
    return batches;
  },
});
const { Kafka, logLevel, Partitioners } = require('kafkajs') as typeof KafkaJS;

export interface OutgoingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

export interface IncomingRecord {
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestampMs: number;
}

export interface PartitionBatchContext {
  readonly topic: string;
  readonly partition: number;
  // The partition's high watermark when the batch was fetched (the offset the next record
  // will get): `highWatermark - (offset + 1)` is the consumer lag after `offset`.
  readonly highWatermark: string;
  // Commit everything up to and including `offset`; called only after its effects are durable.
  commit(offset: string): Promise<void>;
  heartbeat(): Promise<void>;
  // False once the process is stopping or the partition was taken away by a rebalance:
  // the handler must stop deciding and must not commit.
  stillOwned(): boolean;
}

export interface CommandProducer {
  // Resolves once every record is acknowledged by all in-sync replicas (acks = all).
  send(record: OutgoingRecord): Promise<void>;
  readonly queued: number;
  close(): Promise<void>;
}

export interface CommandConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface KafkaClient {
  createProducer(options: ProducerOptions): Promise<CommandProducer>;
  createConsumer(options: ConsumerOptions): CommandConsumer;
  topicPartitions(topic: string): Promise<number | null>;
  createTopic(options: { topic: string; partitions: number; replicationFactor: number }): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ProducerOptions {
  readonly lingerMs: number;
  readonly batchMax: number;
  readonly queueMax: number;
  readonly timeoutMs: number;
  // Produce requests in flight at once; bounds memory and keeps batches full under load.
  readonly inFlightMax?: number;
  // Every produce request, once Kafka answered it (metrics).
  onBatchSent?(batch: { readonly records: number; readonly durationMs: number; readonly ok: boolean }): void;
}

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topic: string;
  readonly sessionTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly partitionsConcurrency: number;
  handleBatch(records: readonly IncomingRecord[], context: PartitionBatchContext): Promise<void>;
  // Called whenever the group rebalanced; partitions this process decided before may now
  // belong to another process, so any cached per-partition state must be dropped.
  onRebalance(assigned: readonly number[]): void;
  // The consumer stopped on an error; it is restarted after `restartDelayMs`.
  onCrash?(error: unknown): void;
}

// Retriable: the caller may try again later (HTTP 503 with Retry-After).
export class ProducerUnavailableError extends Error {
  readonly code = 'KAFKA_UNAVAILABLE';
  readonly retriable = true;
}

export class ProducerQueueFullError extends Error {
  readonly code = 'KAFKA_QUEUE_FULL';
  readonly retriable = true;
}

const consumerRestartDelayMs = 1000;

const kafkajsLevel: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

function toHeaders(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = first.toString();
  }
  return result;
}

export interface KafkaConnection {
  readonly brokers: readonly string[];
  readonly ssl?: boolean;
  readonly sasl?: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string } | undefined;
}

export function createKafkaClient(options: KafkaConnection & { clientId: string; logger: Logger }): KafkaClient {
  const log = options.logger.child({ component: 'kafka' });
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.ssl ?? false,
    // kafkajs types each mechanism separately; the union is the same shape for all three.
    ...(options.sasl ? { sasl: { ...options.sasl } as SASLOptions } : {}),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 100, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, ...extra } = entry.log;
      log[kafkajsLevel[entry.level] ?? 'info']({ namespace: entry.namespace, ...extra }, message);
    },
  });
  const admin = kafka.admin();
  let adminConnected: Promise<void> | undefined;
  const connectedAdmin = async () => {
    adminConnected ??= admin.connect().catch((error: unknown) => {
      adminConnected = undefined;
      throw error;
    });
    await adminConnected;
    return admin;
  };

  return {
    createProducer: (producerOptions) => createBatchingProducer(kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false }), producerOptions),
    createConsumer: (consumerOptions) => createPartitionConsumer(kafka, consumerOptions, log),
    async topicPartitions(topic) {
      const client = await connectedAdmin();
      try {
        const metadata = await client.fetchTopicMetadata({ topics: [topic] });
        return metadata.topics[0]?.partitions.length ?? null;
      } catch (error) {
        if ((error as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
        throw error;
      }
    },
    async createTopic({ topic, partitions, replicationFactor }) {
      const client = await connectedAdmin();
      return client.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries: [{ name: 'min.insync.replicas', value: String(Math.min(2, replicationFactor)) }] }],
      });
    },
    async ping() {
      const client = await connectedAdmin();
      await client.describeCluster();
    },
    async close() {
      if (adminConnected) await admin.disconnect();
    },
  };
}

interface Pending {
  readonly record: OutgoingRecord;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

// kafkajs sends every send() call as its own produce request. Bookings arrive one HTTP
// request at a time, so this collects them for up to `lingerMs` (or `batchMax` records) and
// sends them as one request per broker: at 8,000 bookings/s that is ~16 requests/s instead
// of 8,000, and each caller still learns whether *its* record was acknowledged.
async function createBatchingProducer(producer: Producer, options: ProducerOptions): Promise<CommandProducer> {
  assert.ok(options.batchMax >= 1 && options.queueMax >= options.batchMax);
  const inFlightMax = options.inFlightMax ?? 4;
  await producer.connect();
  let queue: Pending[] = [];
  let inFlight = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0 && inFlight < inFlightMax) {
      const batch = queue.slice(0, options.batchMax);
      queue = queue.slice(batch.length);
      inFlight += 1;
      // The timer was set in the context of whichever request came first; the batch belongs
      // to all of its records' traces, so it is sent outside any of them.
      context.with(ROOT_CONTEXT, () => void sendBatch(batch).finally(() => {
        inFlight -= 1;
        if (queue.length >= options.batchMax || (queue.length > 0 && !timer)) flush();
      }));
    }
  };

  const sendBatch = async (batch: Pending[]) => {
    const byTopic = new Map<string, Array<{ key: string; value: Buffer; partition: number; headers: Record<string, string> }>>();
    for (const { record } of batch) {
      const messages = byTopic.get(record.topic) ?? [];
      messages.push({ key: record.key, value: record.value, partition: record.partition, headers: { ...record.headers } });
      byTopic.set(record.topic, messages);
    }
    const startedAt = performance.now();
    try {
      await producer.sendBatch({
        acks: -1,
        timeout: options.timeoutMs,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      options.onBatchSent?.({ records: batch.length, durationMs: performance.now() - startedAt, ok: true });
      for (const pending of batch) pending.resolve();
    } catch (error) {
      options.onBatchSent?.({ records: batch.length, durationMs: performance.now() - startedAt, ok: false });
      const failure = new ProducerUnavailableError(`Kafka did not acknowledge the command: ${(error as Error).message}`, { cause: error });
      for (const pending of batch) pending.reject(failure);
    }
  };

  // The record's own span, started in the caller's context (the booking's request) when it is
  // queued and ended when Kafka acknowledged its batch: it measures what the caller waits for.
  // Its context goes into the record's headers now; the flusher later sends them as they are.
  const enqueueTraced = (record: OutgoingRecord, resolve: () => void, reject: (error: Error) => void): Pending => {
    const span = startSpan(`send ${record.topic}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        [MESSAGING_SYSTEM]: 'kafka',
        [MESSAGING_DESTINATION]: record.topic,
        [MESSAGING_PARTITION]: String(record.partition),
        [MESSAGING_OPERATION_NAME]: 'send',
        [MESSAGING_OPERATION_TYPE]: 'send',
        [MESSAGING_KAFKA_KEY]: record.key,
      },
    });
    return {
      record: { ...record, headers: injectHeaders(span, record.headers) },
      resolve: () => {
        span.end();
        resolve();
      },
      reject: (error) => {
        endSpan(span, error);
        reject(error);
      },
    };
  };

  return {
    get queued() {
      return queue.length + inFlight * options.batchMax;
    },
    send(record) {
      if (closed) return Promise.reject(new ProducerUnavailableError('producer is closed'));
      if (queue.length >= options.queueMax) {
        return Promise.reject(new ProducerQueueFullError(`${queue.length} commands are already waiting for Kafka`));
      }
      return new Promise<void>((resolve, reject) => {
        queue.push(tracingEnabled() ? enqueueTraced(record, resolve, reject) : { record, resolve, reject });
        if (queue.length >= options.batchMax || options.lingerMs === 0) flush();
        else timer ??= setTimeout(flush, options.lingerMs);
      });
    },
    async close() {
      closed = true;
      flush();
      while (queue.length > 0 || inFlight > 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        flush();
      }
      await producer.disconnect();
    },
  };
}

function createPartitionConsumer(kafka: KafkaInstance, options: ConsumerOptions, log: Logger): CommandConsumer {
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.max(500, Math.floor(options.sessionTimeoutMs / 5)),
    rebalanceTimeout: Math.max(options.sessionTimeoutMs * 2, 10_000),
    maxWaitTimeInMs: options.maxWaitMs,
    allowAutoTopicCreation: false,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  let running = false;
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const assigned = event.payload.memberAssignment[options.topic] ?? [];
    log.info({ groupId: options.groupId, memberId: event.payload.memberId, assigned }, 'joined consumer group');
    options.onRebalance(assigned);
  });
  // kafkajs restarts itself after retriable errors only; after any other error it leaves the
  // consumer stopped for good, and a process that consumes nothing must not look healthy.
  // Restart it here instead, with a delay, so the group sees a fresh member.
  consumer.on(consumer.events.CRASH, (event) => {
    const { error, restart } = event.payload;
    log.error({ err: error, restart }, 'consumer crashed');
    options.onCrash?.(error);
    if (restart || !running) return;
    setTimeout(() => {
      if (running) begin().catch((startError: unknown) => log.error({ err: startError }, 'consumer restart failed'));
    }, consumerRestartDelayMs);
  });

  const begin = async () => {
    await consumer.connect();
    // A new group must start at the beginning: a booking accepted before the group first
    // joined is still a booking (the Python system started at `latest` and lost them).
    await consumer.subscribe({ topics: [options.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      // Commit as soon as the handler resolves an offset; it resolves only durable work.
      autoCommitThreshold: 1,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConcurrency,
      eachBatch,
    });
  };

  const eachBatch = async (payload: EachBatchPayload) => {
    const { batch } = payload;
    const records: IncomingRecord[] = batch.messages.map((message) => ({
      offset: message.offset,
      key: message.key?.toString() ?? null,
      value: message.value,
      headers: toHeaders(message.headers),
      timestampMs: Number(message.timestamp),
    }));
    await options.handleBatch(records, {
      topic: batch.topic,
      partition: batch.partition,
      highWatermark: batch.highWatermark,
      async commit(offset) {
        payload.resolveOffset(offset);
        await payload.commitOffsetsIfNecessary();
      },
      heartbeat: () => payload.heartbeat(),
      stillOwned: () => payload.isRunning() && !payload.isStale(),
    });
  };

  return {
    async start() {
      running = true;
      await begin();
    },
    async stop() {
      if (!running) return;
      running = false;
      await consumer.disconnect();
    },
  };
}
