import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeBitmap } from '@ticketing/shared/domain/seat-map';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import { planBookings, sendBookings } from '../../dev/testing/workload.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';
import type { ReservationService } from '../src/service.ts';

// The Redis seat bitmaps vanish mid-sale (as after a Redis restart without persistence).
// The reservation service notices on its next write, rebuilds each bitmap from Postgres, and
// nothing is oversold, because Postgres, not the bitmap, decides ownership.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;

before(async () => {
  environment = await createTestEnvironment({ partitions: 3 });
  ticketing = await startTicketing(environment);
  reservation = await startReservation(environment);
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

test('bitmaps deleted mid-run are rebuilt from Postgres and nothing is oversold', async () => {
  const { api } = ticketing;
  const subsections = [1, 2, 3].map((number) => ({ section: 'A', number, rows: 10, seatsPerRow: 10 }));
  const created = await api.request('POST', '/events', {
    token: api.token('organizer-bitmap', 'organizer'),
    body: { name: 'Lost bitmap', sections: [{ name: 'A', subsections: subsections.map(({ number, rows, seatsPerRow }) => ({ number, rows, seatsPerRow, priceCents: 100 })) }] },
  });
  const eventId: string = created.body.id;
  const planned = planBookings({ eventId, subsections, count: 900, users: 100, manualShare: 0.2, singlesAtEnd: 200, seed: 5 });
  const seatKeys = `${environment.env.REDIS_KEY_PREFIX}seats:*`;
  const deleteBitmaps = async () => {
    // Bitmaps and their versions, as a Redis restart without persistence would lose them.
    const keys = await environment.redis.keys(seatKeys);
    if (keys.length > 0) await environment.redis.del(...keys);
    return keys.filter((key) => !key.endsWith(':v')).length;
  };

  const first = await sendBookings(api, planned.slice(0, 300), { concurrency: 16, resendShare: 0, seed: 1 });
  await waitFor(async () => (await environment.redis.keys(seatKeys)).filter((key) => !key.endsWith(':v')).length === 3, { timeoutMs: 30_000, what: 'the bitmaps to exist' });
  assert.equal(await deleteBitmaps(), 3);
  const second = await sendBookings(api, planned.slice(300, 600), { concurrency: 16, resendShare: 0, seed: 2 });
  await deleteBitmaps();
  const third = await sendBookings(api, planned.slice(600), { concurrency: 16, resendShare: 0, seed: 3 });
  const acceptedIds = [first, second, third].flatMap((result) => [...result.accepted]);

  await waitFor(async () => {
    const result = await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [acceptedIds]);
    return result.rows[0].n === acceptedIds.length;
  }, { timeoutMs: 60_000, what: 'every accepted booking to be decided' });

  const report = await checkInvariants({ pool: environment.pool, api, eventId, acceptedIds, redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 } });
  assert.deepEqual(report.violations, []);
  assert.equal(report.bookings.seatsTaken, 300);

  // The bitmaps are back in Redis and equal Postgres seat for seat.
  const rows = await environment.pool.query<{ id: number; capacity: number }>('select id, capacity from subsections where event_id = $1', [eventId]);
  for (const { id, capacity } of rows.rows) {
    const bitmap = await environment.redis.getBuffer(`${environment.env.REDIS_KEY_PREFIX}seats:${id}`);
    assert.ok(bitmap, `bitmap of subsection ${id} was rebuilt`);
    const states = decodeBitmap(bitmap, capacity);
    const allocations = await environment.pool.query<{ seat_index: number; state: number }>('select seat_index, state from seat_allocations where subsection_id = $1', [id]);
    const expected = new Uint8Array(capacity);
    for (const row of allocations.rows) expected[row.seat_index] = row.state;
    assert.deepEqual(states, expected);
  }
});
