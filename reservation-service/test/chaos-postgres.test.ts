import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPrivatePostgres, type PrivatePostgres } from '../../dev/chaos/postgres-server.ts';
import { recordScenario } from '../../dev/chaos/report.ts';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import type { ReservationService } from '../src/service.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';

// Postgres crashing and coming back mid-sale (issue 4, scenario 7), on a private cluster the
// test can crash: an immediate shutdown (no checkpoint, every connection dropped, as after a
// power cut) while bookings keep arriving, down for 3 s, then started again. The ticketing
// service keeps accepting (it needs Postgres only for what its caches miss); the consumers
// fail their slices, commit no offsets, and retry until the database is back. Nothing
// accepted is lost, nothing is half-written, and nobody has to restart anything.

const downMs = 3000;
let postgres: PrivatePostgres;
let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;

before(async () => {
  postgres = await startPrivatePostgres();
  environment = await createTestEnvironment({ partitions: 3, brokers: 1, adminUrl: postgres.adminUrl });
  ticketing = await startTicketing(environment);
  reservation = await startReservation(environment);
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close().catch(() => {});
  await postgres?.stop();
});

async function createEvent(api: Api): Promise<string> {
  const created = await api.request('POST', '/events', {
    token: api.token('postgres-organizer', 'organizer'),
    body: { name: 'Database restart', buyerSeatsMax: 1000, holdDurationS: 600, sections: [{ name: 'A', subsections: [1, 2, 3].map((number) => ({ number, rows: 10, seatsPerRow: 10, priceCents: 100 })) }] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

// A careful client: the same id again after a 503's Retry-After.
async function book(api: Api, eventId: string, index: number): Promise<{ id: string; accepted: boolean; retries: number }> {
  const id = newBookingId();
  const token = api.token(`postgres-buyer-${index % 40}`, 'buyer');
  for (let retries = 0; retries < 20; retries++) {
    const response = await api.request('POST', '/bookings', { token, body: { id, eventId, section: 'A', subsection: (index % 3) + 1, quantity: 1 + (index % 2) } });
    if (response.status === 202 || response.status === 200) return { id, accepted: true, retries };
    assert.equal(response.status, 503, JSON.stringify(response.body));
    await sleep(Number(response.headers.get('retry-after') ?? '1') * 1000);
  }
  return { id, accepted: false, retries: 20 };
}

const decidedCount = async (ids: readonly string[]) =>
  (await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [ids])).rows[0].n as number;

test('Postgres crashes mid-sale and restarts: consumers wait and retry, nothing accepted is lost or half-written', async () => {
  const { api } = ticketing;
  const eventId = await createEvent(api);
  // Bookings arrive steadily: 300 over about 6 s, the crash in the middle.
  const sending = Promise.all(Array.from({ length: 300 }, async (_, index) => {
    await sleep(index * 20);
    return book(api, eventId, index);
  }));
  await sleep(1500);
  await postgres.crash();
  const crashedAt = Date.now();
  await sleep(downMs);
  await postgres.start();
  const restartedAt = Date.now();
  const answers = await sending;
  const accepted = answers.filter((answer) => answer.accepted).map((answer) => answer.id);
  assert.equal(accepted.length, answers.length, 'a retrying client gets every booking accepted');

  await waitFor(async () => (await decidedCount(accepted).catch(() => 0)) === accepted.length || undefined, { timeoutMs: 60_000, what: 'every accepted booking to be decided' });
  const recoveryMs = Date.now() - restartedAt;

  const report = await checkInvariants({
    pool: environment.pool, api, eventId, acceptedIds: accepted, redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 },
  });
  const doubleSold = report.violations.filter((violation) => violation.startsWith('I1')).length;
  assert.deepEqual(report.violations, []);
  // 300 bookings of 1 or 2 seats for 300 seats: some are refused, none partially.
  assert.equal(report.bookings.reserved + report.bookings.rejected, accepted.length);
  const lost = accepted.length - (await decidedCount(accepted));
  recordScenario({
    scenario: '7 Postgres crashed and restarted mid-sale',
    injected: `pg_ctl stop -m immediate on a private cluster while 300 bookings arrived over 6 s; started again ${(restartedAt - crashedAt) / 1000} s later`,
    attempted: answers.length,
    accepted: accepted.length,
    lost,
    doubleSold,
    recoveryMs,
    notes: `${answers.filter((answer) => answer.retries > 0).length} bookings needed a retry after a 503; no service restarted`,
  });
});
