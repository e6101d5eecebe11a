import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { openSse } from '../../dev/testing/sse-client.ts';
import { newBookingId, startReservation, startTicketing, type Api } from '../../dev/testing/system.ts';
import type { ReservationService } from '../../reservation-service/src/service.ts';
import type { TicketingService } from '../src/service.ts';

// Server-Sent Events through the real HTTP interface: a booking's outcome reaches its stream,
// a stream opened after the outcome starts with it, and the event stream carries seat deltas.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;
let eventId: string;

before(async () => {
  environment = await createTestEnvironment({ partitions: 2 });
  ticketing = await startTicketing(environment);
  reservation = await startReservation(environment);
  const created = await ticketing.api.request('POST', '/events', {
    token: ticketing.api.token('organizer-live', 'organizer'),
    body: { name: 'Live', sections: [{ name: 'A', subsections: [{ number: 1, rows: 2, seatsPerRow: 5, priceCents: 100 }] }] },
  });
  assert.equal(created.status, 201);
  eventId = created.body.id;
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

const book = (api: Api, token: string, body: Record<string, unknown>) => api.request('POST', '/bookings', { token, body: { eventId, section: 'A', subsection: 1, ...body } });

test('a booking stream starts with the current state and delivers the outcome', async () => {
  const { api } = ticketing;
  const token = api.token('sse-alice', 'buyer');
  const id = newBookingId();
  const accepted = await book(api, token, { id, quantity: 2 });
  assert.equal(accepted.status, 202);
  const stream = await openSse(`${api.url}/bookings/${id}/stream`, { authorization: `Bearer ${token}` });
  try {
    assert.equal(stream.status, 200);
    const first = await stream.next((message) => message.event === 'booking');
    assert.ok(['PENDING', 'RESERVED'].includes(JSON.parse(first.data).status));
    const outcome = await stream.next((message) => message.event === 'booking' && JSON.parse(message.data).status === 'RESERVED');
    const view = JSON.parse(outcome.data);
    assert.equal(view.id, id);
    assert.equal(view.seats.length, 2);
    assert.equal(outcome.id, String(view.version), 'the SSE id is the booking version');
  } finally {
    stream.close();
  }
});

test('a stream opened after the outcome gets it at once, and a rejected booking ends its stream', async () => {
  const { api } = ticketing;
  const token = api.token('sse-bob', 'buyer');
  const id = newBookingId();
  // 20 seats exist; asking for seat 1-1 twice makes the second manual pick fail.
  const firstPick = newBookingId();
  assert.equal((await book(api, token, { id: firstPick, quantity: 1, seats: [{ row: 2, seat: 5 }] })).status, 202);
  assert.equal((await book(api, token, { id, quantity: 1, seats: [{ row: 2, seat: 5 }] })).status, 202);
  for (;;) {
    const state = await api.request('GET', `/bookings/${id}`, { token });
    if (state.body.status !== 'PENDING') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // access_token in the query, as a browser's EventSource would send it.
  const stream = await openSse(`${api.url}/bookings/${id}/stream?access_token=${token}`);
  const first = await stream.next((message) => message.event === 'booking');
  assert.deepEqual({ status: JSON.parse(first.data).status, reason: JSON.parse(first.data).reason }, { status: 'REJECTED', reason: 'SEATS_UNAVAILABLE' });
  await stream.closed;
  assert.equal(stream.messages.filter((message) => message.event === 'booking').length, 1, 'the stream ends after the terminal state');
});

test("a booking stream is the owner's only", async () => {
  const { api } = ticketing;
  const id = newBookingId();
  assert.equal((await book(api, api.token('sse-carol', 'buyer'), { id, quantity: 1 })).status, 202);
  const other = await fetch(`${api.url}/bookings/${id}/stream`, { headers: { authorization: `Bearer ${api.token('sse-mallory', 'buyer')}`, accept: 'text/event-stream' } });
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'BOOKING_NOT_FOUND');
  const anonymous = await fetch(`${api.url}/bookings/${id}/stream`, { headers: { accept: 'text/event-stream' } });
  assert.equal(anonymous.status, 401);
});

test('the event stream starts with a snapshot and delivers coalesced seat deltas with counts', async () => {
  const { api } = ticketing;
  const created = await api.request('POST', '/events', {
    token: api.token('organizer-live', 'organizer'),
    body: { name: 'Live map', sections: [{ name: 'A', subsections: [{ number: 1, rows: 2, seatsPerRow: 5, priceCents: 100 }] }] },
  });
  const liveEventId: string = created.body.id;
  const stream = await openSse(`${api.url}/events/${liveEventId}/stream`);
  try {
    const snapshot = JSON.parse((await stream.next((message) => message.event === 'snapshot')).data);
    const before = snapshot.subsections[0];
    assert.equal(before.rowStates.length, 2);
    assert.equal(before.rowStates.join('').length, 10);
    const token = api.token('sse-dave', 'buyer');
    const id = newBookingId();
    const accepted = await api.request('POST', '/bookings', { token, body: { id, eventId: liveEventId, section: 'A', subsection: 1, quantity: 1, seats: [{ row: 1, seat: 1 }] } });
    assert.equal(accepted.status, 202);
    const delta = await stream.next((message) => message.event === 'delta' && JSON.parse(message.data).subsections.some((sub: { changes?: number[][] }) => sub.changes?.some((change) => change[0] === 1 && change[1] === 1)));
    const sub = JSON.parse(delta.data).subsections[0];
    assert.deepEqual(sub.changes.find((change: unknown[]) => change[0] === 1 && change[1] === 1), [1, 1, 'R']);
    assert.equal(sub.reserved + sub.available, sub.capacity);
    assert.ok(sub.reserved > before.reserved);
  } finally {
    stream.close();
  }
});

test('the event stream refuses unknown events and unknown subsections', async () => {
  const { api } = ticketing;
  const unknown = await fetch(`${api.url}/events/0190a6f0-0000-7000-8000-000000000000/stream`, { headers: { accept: 'text/event-stream' } });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'EVENT_NOT_FOUND');
  const badScope = await fetch(`${api.url}/events/${eventId}/stream?subsections=Z-9`, { headers: { accept: 'text/event-stream' } });
  assert.equal(badScope.status, 404);
  assert.equal(((await badScope.json()) as { error: { code: string } }).error.code, 'SUBSECTION_NOT_FOUND');
});
