import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createLogger } from '@ticketing/shared/telemetry/logger';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api, type ApiResponse } from '../../dev/testing/system.ts';
import type { ReservationService } from '../../reservation-service/src/service.ts';
import { createTokenSigner } from '../src/plugins/tokens.ts';
import type { TicketingService } from '../src/service.ts';

// Sign-up, login and the token they give, organizer rights from the CLI, and the paginated
// booking lists, through the real HTTP interface. Every log line the service writes is kept,
// to show that no password, token or payment token ever reaches it.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;
const logLines: string[] = [];

before(async () => {
  environment = await createTestEnvironment({ partitions: 2 });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  // Debug level: the most a production operator could turn on.
  ticketing = await startTicketing(environment, {}, createLogger({ name: 'ticketing', level: 'debug', destination: sink }));
  reservation = await startReservation(environment);
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  await environment?.close();
});

const password = 'correct horse battery staple';

test('sign-up, login, /me, and the token books like any other', async () => {
  const { api } = ticketing;
  const signUp = await api.request('POST', '/users', { body: { email: 'Alice@Example.com', password } });
  assert.equal(signUp.status, 201, JSON.stringify(signUp.body));
  assert.deepEqual([signUp.body.email, signUp.body.role], ['alice@example.com', 'buyer']);
  assert.equal(JSON.stringify(signUp.body).includes(password), false);

  const duplicate = await api.request('POST', '/users', { body: { email: 'alice@EXAMPLE.com', password: 'another password' } });
  assert.deepEqual([duplicate.status, duplicate.body.error.code], [409, 'EMAIL_TAKEN']);
  const short = await api.request('POST', '/users', { body: { email: 'bob@example.com', password: 'short' } });
  assert.deepEqual([short.status, short.body.error.code], [400, 'VALIDATION_FAILED']);

  for (const attempt of [{ email: 'alice@example.com', password: 'wrong password!' }, { email: 'nobody@example.com', password }]) {
    const refused = await api.request('POST', '/sessions', { body: attempt });
    assert.deepEqual([refused.status, refused.body.error.code], [401, 'INVALID_CREDENTIALS']);
  }
  const session = await api.request('POST', '/sessions', { body: { email: 'ALICE@example.com', password } });
  assert.equal(session.status, 200, JSON.stringify(session.body));
  assert.equal(session.body.tokenType, 'Bearer');
  assert.ok(Date.parse(session.body.expiresAt) > Date.now());
  const token: string = session.body.token;

  const me = await api.request('GET', '/me', { token });
  assert.deepEqual([me.body.id, me.body.email, me.body.role], [signUp.body.id, 'alice@example.com', 'buyer']);

  // A buyer token from a login can book; it cannot create events.
  const forbidden = await api.request('POST', '/events', { token, body: { name: 'x', sections: [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 1 }] }] } });
  assert.deepEqual([forbidden.status, forbidden.body.error.code], [403, 'FORBIDDEN']);
});

test('organizer rights come from the CLI and take effect at the next login', async () => {
  const { api } = ticketing;
  assert.equal((await api.request('POST', '/users', { body: { email: 'olga@example.com', password } })).status, 201);
  const run = promisify(execFile);
  const cli = new URL('../src/accounts/grant-organizer-cli.ts', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, [cli, '--email', 'olga@example.com'], { env: { ...process.env, ...environment.env } });
  assert.match(stdout, /olga@example.com is now organizer/);
  const missing = await run(process.execPath, [cli, '--email', 'nobody@example.com'], { env: { ...process.env, ...environment.env } }).catch((error: { code: number; stderr: string }) => error);
  assert.equal((missing as { code: number }).code, 1);

  const session = await api.request('POST', '/sessions', { body: { email: 'olga@example.com', password } });
  assert.equal(session.body.user.role, 'organizer');
  const created = await api.request('POST', '/events', {
    token: session.body.token,
    body: { name: 'Olga presents', sections: [{ name: 'A', subsections: [{ number: 1, rows: 2, seatsPerRow: 5, priceCents: 900 }] }] },
  });
  assert.equal(created.status, 201);
});

test('expired and forged tokens are refused', async () => {
  const { api } = ticketing;
  const expired = createTokenSigner(environment.config.auth.jwtSecret)({ sub: 'someone', role: 'buyer', expiresInS: -1 });
  const forged = createTokenSigner('x'.repeat(40))({ sub: 'someone', role: 'buyer' });
  assert.equal((await api.request('GET', '/me', { token: expired })).body.error.code, 'TOKEN_EXPIRED');
  assert.equal((await api.request('GET', '/me', { token: forged })).body.error.code, 'TOKEN_INVALID');
  assert.equal((await api.request('GET', '/me')).body.error.code, 'UNAUTHENTICATED');
});

test('my bookings and the organizer view list decided bookings newest first, by status, page by page', async () => {
  const { api } = ticketing;
  const organizer = api.token('list-organizer', 'organizer');
  const created = await api.request('POST', '/events', {
    token: organizer,
    body: { name: 'Listed', buyerSeatsMax: 100, sections: [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 5, priceCents: 100 }] }] },
  });
  const eventId: string = created.body.id;
  const buyer = api.token('list-buyer', 'buyer');
  const ids: string[] = [];
  for (let index = 0; index < 7; index++) {
    const id = newBookingId();
    ids.push(id);
    assert.equal((await api.request('POST', '/bookings', { token: buyer, body: { id, eventId, section: 'A', subsection: 1, quantity: 1 } })).status, 202);
    // One at a time, so creation order is the order they were sent.
    await waitFor(async () => (await api.request('GET', `/bookings/${id}`, { token: buyer })).body.status !== 'PENDING' || undefined, { timeoutMs: 10_000, what: 'decision' });
  }
  const collect = async (path: string, token: string) => {
    const items: Array<{ id: string; status: string; userId?: string }> = [];
    let cursor: string | null = null;
    do {
      const response: ApiResponse = await api.request('GET', `${path}${path.includes('?') ? '&' : '?'}limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      items.push(...response.body.items);
      cursor = response.body.next;
    } while (cursor);
    return items;
  };
  const mine = await collect(`/bookings?eventId=${eventId}`, buyer);
  assert.deepEqual(mine.map((item) => item.id), [...ids].reverse());
  const rejected = await collect(`/bookings?eventId=${eventId}&status=REJECTED`, buyer);
  assert.deepEqual(rejected.map((item) => item.id), [ids[6], ids[5]]);
  const organizerView = await collect(`/events/${eventId}/bookings?status=RESERVED`, organizer);
  assert.deepEqual(organizerView.map((item) => [item.id, item.userId]), ids.slice(0, 5).reverse().map((id) => [id, 'list-buyer']));
  // Nobody else sees them.
  assert.deepEqual(await collect(`/bookings?eventId=${eventId}`, api.token('someone-else', 'buyer')), []);
  assert.equal((await api.request('GET', `/events/${eventId}/bookings`, { token: api.token('other-organizer', 'organizer') })).status, 404);
});

test('no password, bearer token or payment token ever reaches the logs', async () => {
  const { api } = ticketing;
  const token = api.token('log-watcher', 'buyer');
  const id = newBookingId();
  // A booking that fails (unknown event) and a payment for a booking that is not the caller's:
  // both paths log, neither may log secrets.
  await api.request('POST', '/bookings', { token, body: { id, eventId: '0190a6f0-0000-7000-8000-000000000000', section: 'A', subsection: 1, quantity: 1 } });
  await api.request('POST', `/bookings/${id}/payment`, { token, body: { paymentToken: 'tok_secret_4242' } });
  await api.request('POST', '/sessions', { body: { email: 'alice@example.com', password: 'wrong but secret!' } });
  const logs = logLines.join('');
  assert.ok(logLines.length > 0, 'the service logged something to check');
  for (const secret of [password, 'wrong but secret!', 'tok_secret_4242', token, token.split('.')[2]!]) {
    assert.equal(logs.includes(secret), false, `a secret reached the logs: ${secret.slice(0, 8)}…`);
  }
});
