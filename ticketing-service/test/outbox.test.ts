import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { createCommandPublisher } from '@ticketing/shared/messaging/command-publisher';
import { createKafkaClient, type CommandProducer, type IncomingRecord, type KafkaClient } from '@ticketing/shared/messaging/kafka';
import type { Command } from '@ticketing/shared/messaging/messages';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { waitFor } from '../../dev/testing/system.ts';
import { createDurablePublisher, type DurablePublisher } from '../src/bookings/durable-publisher.ts';

// The outbox against a real Kafka wire protocol and a real Postgres: with every broker down,
// commands are accepted into Postgres quickly; when the brokers return, the relay publishes
// them in the order they were accepted and empties the outbox.

let environment: TestEnvironment;
let kafka: KafkaClient;
let producer: CommandProducer;
let durable: DurablePublisher;

before(async () => {
  environment = await createTestEnvironment({ partitions: 1, brokers: 3 });
  kafka = createKafkaClient({ brokers: environment.config.kafka.brokers, clientId: 'outbox-test', logger: environment.logger });
  producer = await kafka.createProducer({ lingerMs: 1, batchMax: 500, queueMax: 10_000, timeoutMs: 2000 });
  durable = createDurablePublisher({
    publisher: createCommandPublisher({ producer, topic: environment.config.kafka.commandTopic, partitions: 1 }),
    pool: environment.pool,
    logger: environment.logger,
    fallbackAfterMs: 300,
    relayIntervalMs: 100,
    relayBatchMax: 500,
    rowsMax: 1000,
  });
  durable.start();
});

after(async () => {
  await durable?.stop();
  await producer?.close().catch(() => {});
  await kafka?.close();
  await environment?.close();
});

const command = (index: number): Command => ({
  v: 1, type: 'expire', bookingId: uuidv7(), eventId: '019a9a5e-7c2b-7000-8000-0000000000ee', subsectionId: 1, section: 'A', subsection: 1, atMs: index,
});

test('with Kafka down, commands go to the outbox; when it returns, they reach Kafka in order and the outbox empties', async () => {
  const before = await Promise.all([1, 2, 3].map((index) => durable.publish(command(index))));
  assert.equal(before.length, 3);
  assert.equal(durable.mode, 'direct');

  for (const broker of [1, 2, 3]) await environment.kafka.brokerDown(broker);
  const startedAt = Date.now();
  const during = Array.from({ length: 50 }, (_, index) => command(100 + index));
  for (const item of during) await durable.publish(item);
  assert.equal(durable.mode, 'outbox');
  // The first one waited for the fallback; the rest went straight to Postgres.
  assert.ok(Date.now() - startedAt < 5000, `accepting into the outbox took ${Date.now() - startedAt} ms`);
  assert.equal((await environment.pool.query('select count(*)::int as n from outbox')).rows[0].n, 50);

  for (const broker of [1, 2, 3]) await environment.kafka.brokerUp(broker);
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from outbox')).rows[0].n === 0 || undefined, { timeoutMs: 60_000, what: 'the outbox to drain' });
  await waitFor(async () => durable.mode === 'direct' || undefined, { timeoutMs: 5000, what: 'direct mode again' });
  await durable.publish(command(1000));

  // Read the topic back: every command is there, the outbox ones in the order they were accepted.
  const seen: number[] = [];
  const consumer = kafka.createConsumer({
    groupId: `outbox-reader-${uuidv7()}`,
    topic: environment.config.kafka.commandTopic,
    sessionTimeoutMs: 6000,
    maxWaitMs: 10,
    partitionsConcurrency: 1,
    onRebalance: () => {},
    handleBatch: async (records: readonly IncomingRecord[], context) => {
      for (const record of records) seen.push((JSON.parse(record.value!.toString()) as Command).atMs);
      await context.commit(records.at(-1)!.offset);
    },
  });
  await consumer.start();
  try {
    await waitFor(async () => seen.includes(1000) || undefined, { timeoutMs: 30_000, what: 'the commands on the topic' });
  } finally {
    await consumer.stop();
  }
  const outboxed = seen.filter((atMs) => atMs >= 100 && atMs < 1000);
  const firstCopies = outboxed.filter((atMs, index) => outboxed.indexOf(atMs) === index);
  assert.deepEqual(firstCopies, during.map((item) => item.atMs), 'relayed in acceptance order');
  assert.ok(seen.includes(1) && seen.includes(2) && seen.includes(3));
});

test('a full outbox refuses instead of growing without bound', async () => {
  const tiny = createDurablePublisher({
    publisher: { publish: () => Promise.reject(new Error('Kafka is down')) },
    pool: environment.pool,
    logger: environment.logger,
    fallbackAfterMs: 50,
    relayIntervalMs: 60_000,
    relayBatchMax: 10,
    rowsMax: 2,
  });
  await tiny.publish(command(1));
  await tiny.publish(command(2));
  await assert.rejects(tiny.publish(command(3)), { code: 'OUTBOX_FULL' });
  await environment.pool.query('delete from outbox');
});

test('a relay pass whose Postgres connection is cut while it waits on Kafka fails alone; the next pass drains the outbox', async () => {
  // Kafka here is a stand-in whose publishes hang until told otherwise, so the cut lands at a
  // known moment: while the relay holds its checked-out client between two queries.
  await durable.stop(); // only this test's relay may take the outbox's rows
  let kafkaUp = false;
  const hanging: Array<(error: Error) => void> = [];
  const published: number[] = [];
  const relaying = createDurablePublisher({
    publisher: {
      publish: (item) => {
        if (kafkaUp) {
          published.push(item.atMs);
          return Promise.resolve();
        }
        return new Promise<void>((_resolve, reject) => hanging.push(reject));
      },
    },
    pool: environment.pool,
    logger: environment.logger,
    fallbackAfterMs: 50,
    relayIntervalMs: 100,
    relayBatchMax: 10,
    rowsMax: 100,
  });
  const items = [1, 2, 3].map((index) => command(2000 + index));
  for (const item of items) await relaying.publish(item);
  assert.equal(relaying.mode, 'outbox');
  relaying.start();
  try {
    // The relay's session holds the advisory lock while its publishes hang.
    const holder = await waitFor(async () => (await environment.pool.query<{ pid: number }>(
      `select pid from pg_locks where locktype = 'advisory' and objid = $1 and granted`, [0x6f757462],
    )).rows[0]?.pid, { timeoutMs: 5000, what: 'the relay to take its lock' });
    await waitFor(async () => hanging.length >= items.length || undefined, { timeoutMs: 5000, what: 'the relay to publish' });
    await environment.pool.query('select pg_terminate_backend($1)', [holder]);
    // Give the cut time to reach the client; an unheard 'error' would crash this process here.
    await new Promise((resolve) => setTimeout(resolve, 300));
    kafkaUp = true;
    for (const reject of hanging) reject(new Error('Kafka is down'));
    await waitFor(async () => (await environment.pool.query('select count(*)::int as n from outbox')).rows[0].n === 0 || undefined, { timeoutMs: 10_000, what: 'the outbox to drain' });
    assert.deepEqual(published, items.map((item) => item.atMs));
  } finally {
    await relaying.stop();
  }
});
