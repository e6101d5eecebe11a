import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api, type ApiResponse } from '../../dev/testing/system.ts';
import type { ReservationService } from '../../reservation-service/src/service.ts';
import type { TicketingService } from '../src/service.ts';

// Purchase limits, rate limits, sales windows and event status, end to end: the rules that
// cross partitions or processes and so need an atomic mechanism rather than a check.

let environment: TestEnvironment;
let first: { service: TicketingService; api: Api };
let second: { service: TicketingService; api: Api };
let reservation: ReservationService;

before(async () => {
  environment = await createTestEnvironment({ partitions: 6, env: { BOOKING_RATE_LIMIT_MAX: '5', BOOKING_RATE_LIMIT_WINDOW_MS: '60000' } });
  first = await startTicketing(environment);
  second = await startTicketing(environment);
  reservation = await startReservation(environment);
});

after(async () => {
  await first?.service.stop();
  await second?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

const organizer = () => first.api.token('organizer-rules', 'organizer');

async function createEvent(body: Record<string, unknown>, subsections = 1): Promise<string> {
  const created = await first.api.request('POST', '/events', {
    token: organizer(),
    body: { name: 'Rules', sections: [{ name: 'A', subsections: Array.from({ length: subsections }, (_, index) => ({ number: index + 1, rows: 4, seatsPerRow: 10, priceCents: 100 })) }], ...body },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

const book = (api: Api, token: string, eventId: string, subsection: number, quantity: number, id = newBookingId()) =>
  api.request('POST', '/bookings', { token, body: { id, eventId, section: 'A', subsection, quantity } });

async function settled(eventId: string, count: number) {
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from bookings where event_id = $1', [eventId])).rows[0].n >= count || undefined, {
    timeoutMs: 20_000, what: `${count} bookings decided`,
  });
}

test("a buyer cannot pass the event's cap, even with concurrent bookings on different partitions", async () => {
  const eventId = await createEvent({ buyerSeatsMax: 8 }, 12);
  // One buyer, 12 concurrent bookings of 2 seats, each in its own subsection (so spread over
  // the partitions); only 4 fit under the cap of 8. Sent through both ticketing processes.
  const buyerA = first.api.token('capped-buyer', 'buyer');
  const ids = Array.from({ length: 12 }, () => newBookingId());
  const answers = await Promise.all(ids.map((id, index) => book(index % 2 === 0 ? first.api : second.api, buyerA, eventId, index + 1, 2, id).then((response) => response.status)));
  // The rate limit (5 per minute per user, shared by both processes) holds too.
  assert.equal(answers.filter((status) => status === 202).length, 5, JSON.stringify(answers));
  assert.equal(answers.filter((status) => status === 429).length, 7);
  await settled(eventId, 5);
  const outcome = await environment.pool.query(`select status, reason, count(*)::int as n, sum(quantity)::int as seats from bookings where event_id = $1 group by 1, 2 order by 1`, [eventId]);
  assert.deepEqual(outcome.rows, [
    { status: 'REJECTED', reason: 'LIMIT_EXCEEDED', n: 1, seats: 2 },
    { status: 'RESERVED', reason: null, n: 4, seats: 8 },
  ]);
  const counted = await environment.pool.query('select seats from buyer_seats where event_id = $1', [eventId]);
  assert.deepEqual(counted.rows, [{ seats: 8 }]);
  assert.deepEqual((await checkInvariants({ pool: environment.pool, api: first.api, eventId })).violations, []);
});

test('the rate limit answers 429 with Retry-After and counts per user across processes', async () => {
  const eventId = await createEvent({});
  const token = first.api.token('rate-limited', 'buyer');
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let index = 0; index < 7; index++) {
    const response = await book(index % 2 === 0 ? first.api : second.api, token, eventId, 1, 1);
    statuses.push(response.status);
    if (response.status === 429) {
      retryAfter = response.headers.get('retry-after');
      assert.equal(response.body.error.code, 'RATE_LIMITED');
    }
  }
  assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429, 429]);
  assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`);
  // Another user is not affected.
  assert.equal((await book(second.api, first.api.token('not-limited', 'buyer'), eventId, 1, 1)).status, 202);
});

test('bookings before the sales window opens and after it closes are refused', async () => {
  const soon = await createEvent({ salesOpenAt: new Date(Date.now() + 3_600_000).toISOString() });
  const ended = await createEvent({ salesOpenAt: new Date(Date.now() - 7_200_000).toISOString(), salesCloseAt: new Date(Date.now() - 3_600_000).toISOString() });
  const token = first.api.token('window-buyer', 'buyer');
  for (const [eventId, status] of [[soon, 'SCHEDULED'], [ended, 'CLOSED']] as const) {
    const response = await book(first.api, token, eventId, 1, 1);
    assert.deepEqual([response.status, response.body.error?.code], [409, 'EVENT_NOT_ON_SALE']);
    assert.equal((await first.api.request('GET', `/events/${eventId}`)).body.status, status);
  }
  const invalid = await first.api.request('POST', '/events', {
    token: organizer(),
    body: { name: 'x', salesOpenAt: '2030-01-02T00:00:00Z', salesCloseAt: '2030-01-01T00:00:00Z', sections: [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 1 }] }] },
  });
  assert.deepEqual([invalid.status, invalid.body.error.code], [400, 'VALIDATION_FAILED']);
});

test('status follows the seats and the organizer: ON_SALE, SOLD_OUT, back to ON_SALE, CLOSED, CANCELLED', async () => {
  const created = await first.api.request('POST', '/events', {
    token: organizer(),
    body: { name: 'Small', buyerSeatsMax: 10, sections: [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 2, priceCents: 100 }] }] },
  });
  const eventId: string = created.body.id;
  const status = async () => (await first.api.request('GET', `/events/${eventId}`)).body.status;
  assert.equal(await status(), 'ON_SALE');
  const buyer = first.api.token('status-buyer', 'buyer');
  const kept = newBookingId();
  const toCancel = newBookingId();
  assert.equal((await book(first.api, buyer, eventId, 1, 1, kept)).status, 202);
  assert.equal((await book(first.api, buyer, eventId, 1, 1, toCancel)).status, 202);
  await waitFor(async () => (await status()) === 'SOLD_OUT' || undefined, { timeoutMs: 10_000, what: 'SOLD_OUT' });
  assert.equal((await first.api.request('POST', `/bookings/${toCancel}/cancel`, { token: buyer })).status, 202);
  await waitFor(async () => (await status()) === 'ON_SALE' || undefined, { timeoutMs: 10_000, what: 'ON_SALE again' });

  // Someone else's event cannot be changed; the organizer closes sales.
  const stranger = await first.api.request('PATCH', `/events/${eventId}`, { token: first.api.token('other-organizer', 'organizer'), body: { status: 'CLOSED' } });
  assert.deepEqual([stranger.status, stranger.body.error.code], [404, 'EVENT_NOT_FOUND']);
  const closed = await first.api.request('PATCH', `/events/${eventId}`, { token: organizer(), body: { status: 'CLOSED' } });
  assert.deepEqual([closed.status, closed.body.status], [200, 'CLOSED']);
  // The other process learns within its policy cache time.
  await waitFor(async () => (await book(second.api, first.api.token('late-buyer', 'buyer'), eventId, 1, 1)).status === 409 || undefined, { timeoutMs: 3000, what: 'closing to reach the other process' });

  const cancelled = await first.api.request('PATCH', `/events/${eventId}`, { token: organizer(), body: { status: 'CANCELLED' } });
  assert.equal(cancelled.body.status, 'CANCELLED');
  await waitFor(async () => {
    const row = await environment.pool.query('select status, reason from bookings where id = $1', [kept]);
    return row.rows[0]?.status === 'CANCELLED' ? row.rows[0] : undefined;
  }, { timeoutMs: 10_000, what: 'the open booking to be cancelled with the event' });
  assert.equal((await environment.pool.query('select reason from bookings where id = $1', [kept])).rows[0].reason, 'EVENT_CANCELLED');
  const reopened = await first.api.request('PATCH', `/events/${eventId}`, { token: organizer(), body: { status: 'ON_SALE' } });
  assert.deepEqual([reopened.status, reopened.body.error.code], [409, 'EVENT_CANCELLED']);
  assert.deepEqual((await checkInvariants({ pool: environment.pool, api: first.api, eventId })).violations, []);
});

test('events list newest first, filter by status and paginate without gaps', async () => {
  const ids = [];
  for (let index = 0; index < 5; index++) ids.push(await createEvent({ salesOpenAt: new Date(Date.now() + 86_400_000).toISOString() }));
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const response: ApiResponse = await first.api.request('GET', `/events?status=SCHEDULED&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.ok(response.body.items.every((item: { status: string }) => item.status === 'SCHEDULED'));
    seen.push(...response.body.items.map((item: { id: string }) => item.id));
    cursor = response.body.next;
  } while (cursor);
  // Every scheduled event appears once, newest first (the earlier test's event too).
  assert.deepEqual(seen.slice(0, 5), [...ids].reverse());
  assert.equal(new Set(seen).size, seen.length);
  const bad = await first.api.request('GET', '/events?cursor=not-a-cursor');
  assert.deepEqual([bad.status, bad.body.error.code], [400, 'INVALID_CURSOR']);
});
