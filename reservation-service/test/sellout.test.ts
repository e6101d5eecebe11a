import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import { planBookings, sendBookings } from '../../dev/testing/workload.ts';
import type { ReservationService } from '../src/service.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';

// The on-sale race: many more requests than seats, manual picks colliding on the same seats,
// a tenth of the requests resent with the same id. Every accepted booking must be decided,
// no seat sold twice, the whole capacity sold, and the API must agree with Postgres.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;

before(async () => {
  environment = await createTestEnvironment({ partitions: 6 });
  ticketing = await startTicketing(environment);
  reservation = await startReservation(environment);
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

test('2,000 concurrent bookings for 500 seats: all decided, none double-sold, sold out, API agrees with Postgres', () => race('Sellout race'));

test('the same race with the slices of different partitions decided together (RESERVATION_COALESCE_MS)', async () => {
  await reservation.stop();
  reservation = await startReservation(environment, { RESERVATION_COALESCE_MS: '5', KAFKA_PARTITIONS_CONCURRENCY: '6' });
  await race('Sellout race, coalesced');
});

async function race(name: string) {
  const { api } = ticketing;
  const organizer = api.token('organizer-1', 'organizer');
  const layout = [
    { section: 'A', number: 1, rows: 10, seatsPerRow: 10 },
    { section: 'A', number: 2, rows: 10, seatsPerRow: 10 },
    { section: 'B', number: 1, rows: 15, seatsPerRow: 20 },
  ];
  const created = await api.request('POST', '/events', {
    token: organizer,
    body: {
      name,
      sections: [
        { name: 'A', subsections: layout.filter((s) => s.section === 'A').map(({ number, rows, seatsPerRow }) => ({ number, rows, seatsPerRow, priceCents: 5000 })) },
        { name: 'B', subsections: [{ number: 1, rows: 15, seatsPerRow: 20, priceCents: 3000 }] },
      ],
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.capacity, 500);
  const eventId: string = created.body.id;

  const planned = planBookings({ eventId, subsections: layout, count: 2000, users: 200, manualShare: 0.25, singlesAtEnd: 300, seed: 42 });
  const sent = await sendBookings(api, planned, { concurrency: 64, resendShare: 0.1, seed: 7 });
  assert.deepEqual([...sent.statuses.keys()].filter((status) => status !== 202 && status !== 200), [], `unexpected statuses ${JSON.stringify([...sent.statuses])}`);
  assert.equal(sent.accepted.size, 2000);

  const acceptedIds = [...sent.accepted];
  await waitFor(async () => {
    const result = await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [acceptedIds]);
    return result.rows[0].n === acceptedIds.length;
  }, { timeoutMs: 60_000, what: 'every accepted booking to be decided' });

  const report = await checkInvariants({ pool: environment.pool, api, eventId, acceptedIds, redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 } });
  assert.deepEqual(report.violations, []);
  assert.equal(report.bookings.seatsTaken, 500, 'the whole capacity is sold');
  assert.equal(report.bookings.reserved + report.bookings.rejected, 2000, 'one booking row per id, resends included');

  const reasons = await environment.pool.query(`select reason, count(*)::int as n from bookings where event_id = $1 and status = 'REJECTED' group by reason`, [eventId]);
  for (const row of reasons.rows) assert.ok(['SOLD_OUT', 'SEATS_UNAVAILABLE', 'LIMIT_EXCEEDED'].includes(row.reason), `unexpected reason ${row.reason}`);

  // Every booking reads back through the API as its owner sees it, matching Postgres.
  const sample = planned.filter((_, index) => index % 50 === 0);
  for (const booking of sample) {
    const response = await api.request('GET', `/bookings/${booking.body.id}`, { token: api.token(booking.user, 'buyer') });
    assert.equal(response.status, 200);
    const row = (await environment.pool.query('select status, cardinality(seats)::int as seats from bookings where id = $1', [booking.body.id])).rows[0];
    assert.equal(response.body.status, row.status);
    assert.equal(response.body.seats.length, row.seats);
  }
}
