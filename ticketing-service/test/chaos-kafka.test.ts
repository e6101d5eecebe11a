import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { recordScenario } from '../../dev/chaos/report.ts';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import type { ReservationService } from '../../reservation-service/src/service.ts';
import type { TicketingService } from '../src/service.ts';

// Every Kafka broker down in the middle of a sale (issue 4, scenario 3). A 202 must still mean
// "this booking will be decided": while Kafka cannot take commands the ticketing service puts
// them in the Postgres outbox, and once that is full it answers 503 with Retry-After, so
// nothing is accepted that is not durable. When the brokers return, the relay hands the
// outbox to Kafka and every accepted booking is decided, in the order it was accepted.

const outboxRowsMax = 150;
const waveSize = 40;
const brokers = [1, 2, 3];
let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;

before(async () => {
  environment = await createTestEnvironment({ partitions: 3, brokers: 3 });
  ticketing = await startTicketing(environment, {
    OUTBOX_FALLBACK_AFTER_MS: '300', OUTBOX_RELAY_INTERVAL_MS: '100', OUTBOX_ROWS_MAX: String(outboxRowsMax), KAFKA_PRODUCE_TIMEOUT_MS: '1000',
  });
  reservation = await startReservation(environment);
});

after(async () => {
  // Whatever failed, the services stop against a working cluster.
  for (const broker of brokers) await environment?.kafka.brokerUp(broker).catch(() => {});
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

async function createEvent(api: Api): Promise<string> {
  const created = await api.request('POST', '/events', {
    token: api.token('kafka-organizer', 'organizer'),
    body: { name: 'Brokers down', buyerSeatsMax: 1000, holdDurationS: 600, sections: [{ name: 'A', subsections: [1, 2, 3].map((number) => ({ number, rows: 10, seatsPerRow: 20, priceCents: 100 })) }] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

type Answer = { id: string; status: number; code?: string; retryAfter?: string | null };

async function book(api: Api, eventId: string, index: number): Promise<Answer> {
  const id = newBookingId();
  const response = await api.request('POST', '/bookings', {
    token: api.token(`kafka-buyer-${index % 40}`, 'buyer'), body: { id, eventId, section: 'A', subsection: (index % 3) + 1, quantity: 1 },
  });
  return { id, status: response.status, code: response.body?.error?.code, retryAfter: response.headers.get('retry-after') };
}

test('brokers down mid-sale: bookings are accepted into the outbox until it is full, then refused with 503; all accepted are decided once Kafka returns', async () => {
  const { api } = ticketing;
  const eventId = await createEvent(api);
  const beforeOutage = await Promise.all(Array.from({ length: 50 }, (_, index) => book(api, eventId, index)));
  assert.deepEqual(new Set(beforeOutage.map((answer) => answer.status)), new Set([202]));

  for (const broker of brokers) await environment.kafka.brokerDown(broker);
  const outageStartedAt = Date.now();
  // Sequential waves, as buyers keep arriving: the first take the slow path (a direct publish
  // that times out), then the outbox answers quickly until it is full.
  const during: Answer[] = [];
  for (let wave = 0; wave < 6; wave++) {
    during.push(...await Promise.all(Array.from({ length: waveSize }, (_, index) => book(api, eventId, 50 + wave * waveSize + index))));
  }
  const accepted = during.filter((answer) => answer.status === 202);
  const refused = during.filter((answer) => answer.status !== 202);
  // The cap is checked as each command is written, so a wave in flight can pass it by its size.
  assert.ok(accepted.length > 0 && accepted.length <= outboxRowsMax + waveSize, `the outbox took ${accepted.length} bookings`);
  assert.ok(refused.length > 0, 'once the outbox is full, bookings are refused');
  for (const answer of refused) {
    assert.equal(answer.status, 503, JSON.stringify(answer));
    assert.ok(answer.code === 'DEPENDENCY_UNAVAILABLE' || answer.code === 'OVERLOADED', JSON.stringify(answer));
    assert.ok(Number(answer.retryAfter) >= 1, 'a refusal says when to retry');
  }
  const outboxRows = (await environment.pool.query('select count(*)::int as n from outbox')).rows[0].n as number;
  assert.ok(outboxRows >= accepted.length && outboxRows <= outboxRowsMax + waveSize, `${outboxRows} commands wait in the outbox`);
  // Nothing accepted during the outage is decided yet: Kafka has none of it.
  const acceptedIds = [...beforeOutage, ...accepted].map((answer) => answer.id);

  const outageMs = Date.now() - outageStartedAt;
  for (const broker of brokers) await environment.kafka.brokerUp(broker);
  const restoredAt = Date.now();
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [acceptedIds])).rows[0].n === acceptedIds.length || undefined, {
    timeoutMs: 60_000, what: 'every accepted booking to be decided',
  });
  const recoveryMs = Date.now() - restoredAt;
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from outbox')).rows[0].n === 0 || undefined, { timeoutMs: 10_000, what: 'the outbox to empty' });

  // Accepted after the outage too: the service went back to publishing directly.
  const afterOutage = await book(api, eventId, 999);
  assert.equal(afterOutage.status, 202);
  await waitFor(async () => (await environment.pool.query('select 1 from bookings where id = $1', [afterOutage.id])).rowCount === 1 || undefined, {
    timeoutMs: 10_000, what: 'the booking after the outage to be decided',
  });

  const report = await checkInvariants({
    pool: environment.pool, api, eventId, acceptedIds: [...acceptedIds, afterOutage.id], redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 },
  });
  const doubleSold = report.violations.filter((violation) => violation.startsWith('I1')).length;
  assert.deepEqual(report.violations, []);
  const lost = acceptedIds.length - ((await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [acceptedIds])).rows[0].n as number);
  recordScenario({
    scenario: '3 every Kafka broker down mid-sale',
    injected: `all 3 brokers of the mock cluster down for ${(outageMs / 1000).toFixed(1)} s while 240 bookings arrived; outbox capped at ${outboxRowsMax} rows`,
    attempted: beforeOutage.length + during.length,
    accepted: acceptedIds.length,
    lost,
    doubleSold,
    recoveryMs,
    notes: `${accepted.length} accepted into the outbox, ${refused.length} refused with 503 + Retry-After once it was full`,
  });
});
