import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { spawnReservation, startTicketing, waitFor, type Api, type ChildService } from '../../dev/testing/system.ts';
import { planBookings, sendBookings } from '../../dev/testing/workload.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';

// Two reservation-service processes share the group; one is killed with SIGKILL while
// bookings flow. Its partitions move to the survivor after the session timeout, the commands
// it had not committed are redelivered, and nothing is lost or sold twice.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
const workers: ChildService[] = [];

before(async () => {
  environment = await createTestEnvironment({ partitions: 6 });
  ticketing = await startTicketing(environment);
  workers.push(await spawnReservation(environment), await spawnReservation(environment));
  // Both members have joined (the second join rebalanced the group) before traffic starts.
  for (const worker of workers) {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${worker.port}/health/ready`).then((r) => r.ok, () => false)) || undefined, { timeoutMs: 30_000, what: 'reservation worker ready' });
  }
});

after(async () => {
  await ticketing?.service.stop();
  for (const worker of workers) await worker.kill('SIGKILL');
  await environment?.close();
});

test('kill -9 of one of two reservation processes mid-run loses nothing and double-sells nothing', async () => {
  const { api } = ticketing;
  const subsections = [1, 2, 3, 4, 5, 6].map((number) => ({ section: 'Floor', number, rows: 10, seatsPerRow: 10 }));
  const created = await api.request('POST', '/events', {
    token: api.token('organizer-crash', 'organizer'),
    body: { name: 'Crash', sections: [{ name: 'Floor', subsections: subsections.map(({ number, rows, seatsPerRow }) => ({ number, rows, seatsPerRow, priceCents: 100 })) }] },
  });
  assert.equal(created.status, 201);
  const eventId: string = created.body.id;

  const planned = planBookings({ eventId, subsections, count: 1600, users: 150, manualShare: 0.2, singlesAtEnd: 400, seed: 99 });
  const firstHalf = sendBookings(api, planned.slice(0, 800), { concurrency: 32, resendShare: 0.05, seed: 1 });
  // Kill while commands are being decided, not before or after the run.
  await waitFor(async () => {
    const result = await environment.pool.query('select count(*)::int as n from bookings where event_id = $1', [eventId]);
    return result.rows[0].n >= 200;
  }, { timeoutMs: 30_000, what: 'the first decisions' });
  await workers[0]!.kill('SIGKILL');
  const sent = [await firstHalf, await sendBookings(api, planned.slice(800), { concurrency: 32, resendShare: 0.05, seed: 2 })];
  const acceptedIds = sent.flatMap((result) => [...result.accepted]);
  assert.equal(acceptedIds.length, 1600);

  await waitFor(async () => {
    const result = await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [acceptedIds]);
    return result.rows[0].n === acceptedIds.length;
  }, { timeoutMs: 90_000, what: 'the survivor to decide every accepted booking' });

  const report = await checkInvariants({ pool: environment.pool, api, eventId, acceptedIds, redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 } });
  assert.deepEqual(report.violations, []);
  assert.equal(report.bookings.seatsTaken, 600, 'the whole capacity is sold');
  assert.equal(report.bookings.reserved + report.bookings.rejected, 1600);
});
