import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { newBookingId, startTicketing, type Api } from '../../dev/testing/system.ts';
import { createTokenSigner } from '../src/plugins/tokens.ts';
import type { TicketingService } from '../src/service.ts';

// Hostile and malformed requests through the real HTTP interface. Each gets the right 4xx
// and stable code, never a 5xx, and none of them changes any state.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let eventId: string;
let buyer: string;
let ownedBookingId: string;

before(async () => {
  environment = await createTestEnvironment({ partitions: 2, env: { EVENT_SEATS_MAX: '5000' } });
  ticketing = await startTicketing(environment);
  const { api } = ticketing;
  const created = await api.request('POST', '/events', {
    token: api.token('organizer-bad', 'organizer'),
    body: { name: 'Hostile', sections: [{ name: 'A', subsections: [{ number: 1, rows: 3, seatsPerRow: 4, priceCents: 100 }] }] },
  });
  assert.equal(created.status, 201);
  eventId = created.body.id;
  buyer = api.token('bad-buyer', 'buyer');
  ownedBookingId = newBookingId();
  const owned = await api.request('POST', '/bookings', { token: buyer, body: { id: ownedBookingId, eventId, section: 'A', subsection: 1, quantity: 1 } });
  assert.equal(owned.status, 202);
});

after(async () => {
  await ticketing?.service.stop();
  await environment?.close();
});

interface Case {
  readonly name: string;
  readonly method?: string;
  readonly path?: string;
  readonly token?: string | null;
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly code: string;
}

const unsignedToken = (claims: object) =>
  `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

function cases(): Case[] {
  const booking = (overrides: Record<string, unknown> = {}) => ({ id: newBookingId(), eventId, section: 'A', subsection: 1, quantity: 1, ...overrides });
  const event = (sections: unknown) => ({ name: 'x', sections });
  const sub = (overrides: Record<string, unknown> = {}) => ({ number: 1, rows: 2, seatsPerRow: 2, priceCents: 100, ...overrides });
  const organizer = ticketing.api.token('organizer-bad', 'organizer');
  const otherSecret = createTokenSigner('a-completely-different-secret-0123456789abcdef');
  const expired = createTokenSigner(environment.config.auth.jwtSecret)({ sub: 'bad-buyer', role: 'buyer', expiresInS: -60 });
  return [
    { name: 'body is not JSON', rawBody: '{"id": ', headers: { 'content-type': 'application/json' }, status: 400, code: 'INVALID_JSON' },
    { name: 'empty JSON body', rawBody: '', headers: { 'content-type': 'application/json' }, status: 400, code: 'INVALID_JSON' },
    { name: 'body is an array', body: [booking()], status: 400, code: 'VALIDATION_FAILED' },
    { name: 'body is a string', body: 'book me', status: 400, code: 'VALIDATION_FAILED' },
    { name: 'text/plain body', rawBody: 'hello', headers: { 'content-type': 'text/plain' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'missing id', body: { ...booking(), id: undefined }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'id is not a UUID', body: booking({ id: 'not-a-uuid' }), status: 400, code: 'INVALID_BOOKING_ID' },
    { name: 'id is a UUIDv4', body: booking({ id: '9b2c5c8e-3f4a-4b7a-9c1d-2e3f4a5b6c7d' }), status: 400, code: 'INVALID_BOOKING_ID' },
    { name: 'id is a number', body: booking({ id: 42 }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'eventId is not a UUID', body: booking({ eventId: "1' or '1'='1" }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'unknown event', body: booking({ eventId: '0190a6f0-0000-7000-8000-000000000000' }), status: 404, code: 'EVENT_NOT_FOUND' },
    { name: 'unknown section (injection text)', body: booking({ section: "A'; drop table bookings;--" }), status: 404, code: 'SECTION_NOT_FOUND' },
    { name: 'unknown subsection', body: booking({ subsection: 9 }), status: 404, code: 'SUBSECTION_NOT_FOUND' },
    { name: 'quantity 0', body: booking({ quantity: 0 }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'quantity above the configured maximum', body: booking({ quantity: 5 }), status: 400, code: 'QUANTITY_OUT_OF_RANGE' },
    { name: 'quantity as a string', body: booking({ quantity: '2' }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'quantity as a boolean', body: booking({ quantity: true }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'fractional quantity', body: booking({ quantity: 1.5 }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'negative subsection', body: booking({ subsection: -1 }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'seats do not match quantity', body: booking({ quantity: 2, seats: [{ row: 1, seat: 1 }] }), status: 400, code: 'SEATS_QUANTITY_MISMATCH' },
    { name: 'seat outside the grid', body: booking({ seats: [{ row: 4, seat: 1 }] }), status: 400, code: 'SEAT_OUT_OF_RANGE' },
    { name: 'seat number 0', body: booking({ seats: [{ row: 1, seat: 0 }] }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'the same seat twice', body: booking({ quantity: 2, seats: [{ row: 1, seat: 1 }, { row: 1, seat: 1 }] }), status: 400, code: 'DUPLICATE_SEATS' },
    { name: 'seat with an extra field', body: booking({ seats: [{ row: 1, seat: 1, price: 0 }] }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'unknown top-level field', body: booking({ priceCents: 0 }), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'body over 4 KiB', body: booking({ section: 'A'.repeat(5000) }), status: 413, code: 'BODY_TOO_LARGE' },
    { name: 'deeply nested body', rawBody: `${'['.repeat(1000)}${']'.repeat(1000)}`, headers: { 'content-type': 'application/json' }, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'unicode section name', body: booking({ section: '\u0000\u202e🎟️' }), status: 404, code: 'SECTION_NOT_FOUND' },
    { name: 'no token', token: null, body: booking(), status: 401, code: 'UNAUTHENTICATED' },
    { name: 'Basic authorization', token: null, headers: { authorization: 'Basic YWxpY2U6c2VjcmV0' }, body: booking(), status: 401, code: 'TOKEN_INVALID' },
    { name: 'token signed with another secret', token: otherSecret({ sub: 'bad-buyer', role: 'buyer' }), body: booking(), status: 401, code: 'TOKEN_INVALID' },
    { name: 'expired token', token: expired, body: booking(), status: 401, code: 'TOKEN_EXPIRED' },
    { name: 'unsigned token (alg none)', token: unsignedToken({ sub: 'bad-buyer', role: 'buyer' }), body: booking(), status: 401, code: 'TOKEN_INVALID' },
    { name: 'token with an unknown role', token: createTokenSigner(environment.config.auth.jwtSecret)({ sub: 'x', role: 'admin' as 'buyer' }), body: booking(), status: 401, code: 'TOKEN_INVALID' },
    { name: 'organizer cannot book', token: organizer, body: booking(), status: 403, code: 'FORBIDDEN' },
    { name: 'same booking id, different request', body: { id: ownedBookingId, eventId, section: 'A', subsection: 1, quantity: 2 }, status: 409, code: 'BOOKING_ID_CONFLICT' },
    { name: 'same booking id, different user', token: ticketing.api.token('bad-other', 'buyer'), body: { id: ownedBookingId, eventId, section: 'A', subsection: 1, quantity: 1 }, status: 409, code: 'BOOKING_ID_CONFLICT' },
    { name: "someone else's booking", method: 'GET', path: `/bookings/${ownedBookingId}`, token: ticketing.api.token('bad-other', 'buyer'), status: 404, code: 'BOOKING_NOT_FOUND' },
    { name: 'booking id that is not a UUID', method: 'GET', path: "/bookings/1%20or%201=1", status: 404, code: 'BOOKING_NOT_FOUND' },
    { name: 'reading a booking without a token', method: 'GET', path: `/bookings/${ownedBookingId}`, token: null, status: 401, code: 'UNAUTHENTICATED' },
    { name: 'buyer cannot create events', path: '/events', body: event([{ name: 'A', subsections: [sub()] }]), status: 403, code: 'FORBIDDEN' },
    { name: 'event without sections', path: '/events', token: organizer, body: event([]), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'event with zero rows', path: '/events', token: organizer, body: event([{ name: 'A', subsections: [sub({ rows: 0 })] }]), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'event row too wide', path: '/events', token: organizer, body: event([{ name: 'A', subsections: [sub({ seatsPerRow: 2000 })] }]), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'negative price', path: '/events', token: organizer, body: event([{ name: 'A', subsections: [sub({ priceCents: -1 })] }]), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'section name with emoji', path: '/events', token: organizer, body: event([{ name: '🎟️', subsections: [sub()] }]), status: 400, code: 'VALIDATION_FAILED' },
    { name: 'duplicate section', path: '/events', token: organizer, body: event([{ name: 'A', subsections: [sub()] }, { name: 'A', subsections: [sub()] }]), status: 400, code: 'DUPLICATE_SUBSECTION' },
    { name: 'duplicate subsection number', path: '/events', token: organizer, body: event([{ name: 'A', subsections: [sub(), sub()] }]), status: 400, code: 'DUPLICATE_SUBSECTION' },
    { name: 'event above the seat limit', path: '/events', token: organizer, body: event([{ name: 'A', subsections: [sub({ rows: 100, seatsPerRow: 100 })] }]), status: 400, code: 'EVENT_LIMIT_EXCEEDED' },
    { name: 'event id that is not a UUID', method: 'GET', path: '/events/../../etc/passwd', status: 404, code: 'NOT_FOUND' },
    { name: 'unknown event id', method: 'GET', path: '/events/0190a6f0-0000-7000-8000-000000000000', status: 404, code: 'EVENT_NOT_FOUND' },
    { name: 'malformed event id', method: 'GET', path: '/events/zzz', status: 404, code: 'EVENT_NOT_FOUND' },
    { name: 'subsection number not numeric', method: 'GET', path: `/events/${eventId}/sections/A/subsections/one/seats`, status: 400, code: 'VALIDATION_FAILED' },
    { name: 'seat map of an unknown section', method: 'GET', path: `/events/${eventId}/sections/Z/subsections/1/seats`, status: 404, code: 'SECTION_NOT_FOUND' },
    { name: 'unknown route', method: 'DELETE', path: `/events/${eventId}`, status: 404, code: 'NOT_FOUND' },
  ];
}

test('every malformed or hostile request gets its 4xx and stable code, and changes nothing', async () => {
  const { api } = ticketing;
  const table = cases();
  assert.ok(table.length >= 30);
  const recordKeys = `${environment.env.REDIS_KEY_PREFIX}booking:*`;
  const keysBefore = await environment.redis.keys(recordKeys);
  for (const entry of table) {
    const response = await api.request(entry.method ?? 'POST', entry.path ?? '/bookings', {
      ...(entry.token === null ? {} : { token: entry.token ?? buyer }),
      ...(entry.body !== undefined ? { body: entry.body } : {}),
      ...(entry.rawBody !== undefined ? { rawBody: entry.rawBody } : {}),
      ...(entry.headers ? { headers: entry.headers } : {}),
    });
    assert.equal(response.status, entry.status, `${entry.name}: status ${response.status} ${JSON.stringify(response.body)}`);
    assert.equal(response.body?.error?.code, entry.code, `${entry.name}: ${JSON.stringify(response.body)}`);
    assert.equal(typeof response.body.error.message, 'string', entry.name);
  }
  const keysAfter = await environment.redis.keys(recordKeys);
  assert.deepEqual(keysAfter.sort(), keysBefore.sort(), 'no booking record was written');
  const events = await environment.pool.query('select count(*)::int as n from events');
  assert.equal(events.rows[0].n, 1, 'no event was created');
  const own = await api.request('GET', `/bookings/${ownedBookingId}`, { token: buyer });
  assert.deepEqual({ status: own.status, quantity: own.body.quantity }, { status: 200, quantity: 1 }, 'the conflicting requests did not alter the original booking');
});

test('a resend with the same id and body answers with the booking instead of a new one', async () => {
  const { api } = ticketing;
  const id = newBookingId();
  const body = { id, eventId, section: 'A', subsection: 1, quantity: 2, seats: [{ row: 3, seat: 4 }, { row: 3, seat: 3 }] };
  const first = await api.request('POST', '/bookings', { token: buyer, body });
  // Seats in another order are the same request.
  const again = await api.request('POST', '/bookings', { token: buyer, body: { ...body, seats: [...body.seats].reverse() } });
  assert.equal(first.status, 202);
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, { id, status: 'PENDING' });
  assert.equal(again.headers.get('location'), `/bookings/${id}`);
});
