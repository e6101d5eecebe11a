import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafkaClient, type IncomingRecord, type KafkaClient } from '@ticketing/shared/messaging/kafka';
import { recordScenario } from '../../dev/chaos/report.ts';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import { fakeLedgerKeys } from '../src/payments/fake-provider.ts';
import type { ReservationService } from '../src/service.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';

// Kafka delivers at least once, and a producer retry or a client resending through another
// process's outbox can put one command on the log several times (issue 4, scenario 4). Here
// every command of a finished sale (reserves, payments, provider answers, cancellations) is
// put on the log twice more: once in its original order, once reversed, so each booking also
// sees its reserve after its cancel and its payment after its capture. Nothing may change:
// no booking decided again, no seat moved, no second charge, no version bumped.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;
let kafka: KafkaClient;

before(async () => {
  environment = await createTestEnvironment({ partitions: 3, brokers: 1 });
  ticketing = await startTicketing(environment);
  reservation = await startReservation(environment);
  kafka = createKafkaClient({ ...environment.config.kafka, clientId: 'chaos-duplicates', logger: environment.logger });
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await kafka?.close();
  await environment?.close();
});

const pool = () => environment.pool;

async function createEvent(api: Api): Promise<string> {
  const created = await api.request('POST', '/events', {
    token: api.token('duplicates-organizer', 'organizer'),
    body: { name: 'Duplicates', buyerSeatsMax: 1000, holdDurationS: 600, sections: [{ name: 'A', subsections: [1, 2].map((number) => ({ number, rows: 4, seatsPerRow: 10, priceCents: 1500 })) }] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

async function book(api: Api, eventId: string, index: number, quantity = 1) {
  const id = newBookingId();
  const token = api.token(`duplicates-buyer-${index % 30}`, 'buyer');
  const response = await api.request('POST', '/bookings', { token, body: { id, eventId, section: 'A', subsection: (index % 2) + 1, quantity } });
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return { id, token };
}

async function settled(eventId: string, ids: readonly string[]) {
  await waitFor(async () => {
    const open = await pool().query(`
      select (select count(*) from bookings where id = any($2::uuid[]))::int as decided,
             (select count(*) from payments p join bookings b on b.id = p.booking_id where b.event_id = $1 and p.status in ('REQUESTED', 'REFUND_REQUIRED'))::int as payments`, [eventId, ids]);
    return (open.rows[0].decided === ids.length && open.rows[0].payments === 0) || undefined;
  }, { timeoutMs: 30_000, what: 'every booking decided and every payment answered' });
}

// What the duplicates must leave alone, as Postgres and the provider's ledger hold it.
async function snapshot(eventId: string) {
  const bookings = await pool().query(`select id, status, reason, version, seats from bookings where event_id = $1 order by id`, [eventId]);
  const payments = await pool().query(`select p.id, p.status from payments p join bookings b on b.id = p.booking_id where b.event_id = $1 order by p.id`, [eventId]);
  const seats = await pool().query(`select a.subsection_id, a.seat_index, a.booking_id, a.state from seat_allocations a join subsections s on s.id = a.subsection_id where s.event_id = $1 order by 1, 2`, [eventId]);
  const ledger = fakeLedgerKeys(environment.env.REDIS_KEY_PREFIX!);
  return {
    bookings: bookings.rows,
    payments: payments.rows,
    seats: seats.rows,
    charges: Object.keys(await environment.redis.hgetall(ledger.charges)).sort(),
    refunds: Object.keys(await environment.redis.hgetall(ledger.refunds)).sort(),
  };
}

// Every record on the command topic, by partition in log order, read by a group of its own.
async function readLog(expected: number): Promise<Map<number, IncomingRecord[]>> {
  const byPartition = new Map<number, Map<string, IncomingRecord>>();
  const consumer = kafka.createConsumer({
    groupId: `duplicates-copy-${process.pid}`, topic: environment.config.kafka.commandTopic, sessionTimeoutMs: environment.config.kafka.sessionTimeoutMs,
    maxWaitMs: environment.config.kafka.maxWaitMs, partitionsConcurrency: 3,
    async handleBatch(records, context) {
      const seen = byPartition.get(context.partition) ?? new Map<string, IncomingRecord>();
      byPartition.set(context.partition, seen);
      for (const record of records) seen.set(record.offset, record);
      const last = records[records.length - 1];
      if (last) await context.commit(last.offset);
    },
    onRebalance: () => {},
  });
  await consumer.start();
  const count = () => [...byPartition.values()].reduce((sum, records) => sum + records.size, 0);
  await waitFor(async () => count() >= expected || undefined, { timeoutMs: 30_000, what: `the ${expected} commands on the log to be read` });
  // A retried provider answer would be one more: read until nothing new arrives.
  for (let last = -1; last !== count(); ) {
    last = count();
    await sleep(500);
  }
  await consumer.stop();
  return new Map([...byPartition].map(([partition, records]) => [partition, [...records.values()].sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)))]));
}

test('every command delivered twice more, in order and reversed: nothing is decided again, moved or charged twice', async () => {
  const { api } = ticketing;
  const eventId = await createEvent(api);
  // 100 bookings for 80 seats: some are rejected, so rejections get duplicates too.
  const bookings = await Promise.all(Array.from({ length: 100 }, (_, index) => book(api, eventId, index, 1 + (index % 2))));
  const ids = bookings.map((booking) => booking.id);
  await settled(eventId, ids);
  const reserved = (await pool().query<{ id: string }>(`select id from bookings where event_id = $1 and status = 'RESERVED' order by id`, [eventId])).rows.map((row) => row.id);
  assert.ok(reserved.length >= 30, `enough holds to pay and cancel: ${reserved.length}`);
  const tokenOf = new Map(bookings.map((booking) => [booking.id, booking.token]));
  // A third paid, a tenth of those declined first and paid again; a fifth cancelled.
  for (const [index, id] of reserved.entries()) {
    const token = tokenOf.get(id)!;
    if (index % 3 === 0) {
      if (index % 10 === 0) {
        assert.equal((await api.request('POST', `/bookings/${id}/payment`, { token, body: { paymentToken: `decline_${index}` } })).status, 202);
        // While a payment is live a second one is ignored, so the decline must land first.
        await waitFor(async () => (await pool().query(`select 1 from payments where booking_id = $1 and status = 'DECLINED'`, [id])).rowCount === 1 || undefined, {
          timeoutMs: 10_000, what: 'the declined payment',
        });
      }
      assert.equal((await api.request('POST', `/bookings/${id}/payment`, { token, body: { paymentToken: `tok_${index}` } })).status, 202);
    } else if (index % 5 === 1) {
      assert.equal((await api.request('POST', `/bookings/${id}/cancel`, { token })).status, 202);
    }
  }
  const expected = { RESERVED: 0, PAID: 0, CANCELLED: 0 };
  for (const index of reserved.keys()) expected[index % 3 === 0 ? 'PAID' : index % 5 === 1 ? 'CANCELLED' : 'RESERVED'] += 1;
  const statuses = async () => {
    const rows = await pool().query(`select status, count(*)::int as n from bookings where id = any($1::uuid[]) group by status`, [reserved]);
    return JSON.stringify(Object.fromEntries(rows.rows.map((row) => [row.status, row.n])), Object.keys(expected).sort());
  };
  await waitFor(async () => (await statuses()) === JSON.stringify(expected, Object.keys(expected).sort()) || undefined, { timeoutMs: 30_000, what: 'the payments and cancellations to be decided' })
    .catch(async (error: Error) => assert.fail(`${error.message}: ${JSON.stringify(expected)} expected, ${await statuses()} now`));
  await settled(eventId, ids);
  const before = await snapshot(eventId);
  assert.ok(before.charges.length > 0 && before.payments.some((payment) => payment.status === 'DECLINED'), 'captures and declines to duplicate');

  // Copy the log (the producer stamped every command; the provider's answers are commands too)
  // and put it back twice: as it was, and reversed per partition.
  // On the log: a reserve per booking, a pay per payment, an answer per answered payment, a
  // cancel per cancellation.
  const cancelled = before.bookings.filter((row) => row.status === 'CANCELLED').length;
  const answered = before.payments.filter((payment) => payment.status !== 'REQUESTED').length;
  const log = await readLog(before.bookings.length + before.payments.length + answered + cancelled);
  const producer = await kafka.createProducer({ lingerMs: 2, batchMax: 500, queueMax: 10_000, timeoutMs: 10_000 });
  const topic = environment.config.kafka.commandTopic;
  let duplicated = 0;
  for (const [partition, records] of log) {
    for (const record of [...records, ...records.toReversed()]) {
      await producer.send({ topic, partition, key: record.key ?? '', value: record.value!, headers: record.headers });
      duplicated += 1;
    }
  }
  const faultEndedAt = Date.now();
  // One new booking per subsection after the duplicates: once both are decided, every
  // duplicate before them on their partitions has been through the consumer.
  const sentinels = [await book(api, eventId, 0), await book(api, eventId, 1)];
  await settled(eventId, [...ids, ...sentinels.map((sentinel) => sentinel.id)]);
  const recoveryMs = Date.now() - faultEndedAt;
  await producer.close();

  const afterwards = await snapshot(eventId);
  const sentinelIds = new Set(sentinels.map((sentinel) => sentinel.id));
  const changed = afterwards.bookings.filter((row) => !sentinelIds.has(row.id)).filter((row) => JSON.stringify(row) !== JSON.stringify(before.bookings.find((old) => old.id === row.id)));
  assert.deepEqual(changed, [], 'no booking changed');
  assert.deepEqual(afterwards.payments, before.payments, 'no payment added or changed');
  assert.deepEqual(afterwards.charges, before.charges, 'nobody charged twice');
  assert.deepEqual(afterwards.refunds, before.refunds, 'nothing refunded');
  const seatsOfOthers = afterwards.seats.filter((row) => !sentinelIds.has(row.booking_id));
  assert.deepEqual(seatsOfOthers, before.seats, 'no seat moved');

  const report = await checkInvariants({
    pool: pool(), api, eventId, acceptedIds: [...ids, ...sentinelIds], redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 },
  });
  const doubleSold = report.violations.filter((violation) => violation.startsWith('I1')).length;
  assert.deepEqual(report.violations, []);
  recordScenario({
    scenario: '4 duplicate and reordered commands',
    injected: `every command of a settled sale (${duplicated / 2} commands: reserves, payments, provider answers, cancels) produced again twice, in order and reversed`,
    attempted: duplicated, accepted: duplicated, lost: ids.length - before.bookings.length, doubleSold, recoveryMs,
    notes: `${changed.length} bookings changed, ${afterwards.charges.length - before.charges.length} extra charges`,
  });
});
