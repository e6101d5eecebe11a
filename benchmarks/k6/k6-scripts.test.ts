import assert from 'node:assert/strict';
import { register } from 'node:module';
import { test } from 'node:test';
import { Value } from 'typebox/value';
import { isUuidV7 } from '@ticketing/shared/domain/ids';
import { createBookingBody } from '../../ticketing-service/src/bookings/schemas.ts';
import { createAuthenticator } from '../../ticketing-service/src/plugins/auth.ts';

// k6 cannot run on this machine, so the scripts are checked here: every script loads (its
// options and imports are valid JavaScript that runs), and the parts that must agree with the
// API do — the HS256 tokens it signs pass the product's verifier, its booking ids are UUIDv7,
// its booking bodies pass the product's request schema.

register(new URL('./testing/k6-hooks.js', import.meta.url));
(globalThis as { __ENV?: Record<string, string> }).__ENV = {};

test('every k6 script loads and defines its options and entry points', async () => {
  for (const script of ['sellout', 'sustained', 'fanout']) {
    const module = await import(`./${script}.js`);
    assert.ok(module.options?.scenarios, `${script}: options.scenarios`);
    assert.ok(module.options?.thresholds, `${script}: options.thresholds`);
    assert.equal(typeof module.setup, 'function', `${script}: setup()`);
  }
});

test('the k6 library signs tokens the API accepts and makes valid booking requests', async () => {
  // A computed specifier: the k6 library is plain JavaScript without type declarations.
  const lib = (await import(['.', 'lib.js'].join('/'))) as {
    token(sub: string, role: string): string;
    bookingBody(eventId: string, target: { section: string; number: number }): { id: string; eventId: string; quantity: number; seats?: unknown[] };
    postBooking(body: unknown, iteration: number): unknown;
  };
  const authenticate = createAuthenticator({ secret: 'local-development-secret-change-me-0123456789' })(['buyer']);
  const request = { headers: { authorization: `Bearer ${lib.token('k6-user-1', 'buyer')}` }, query: {} } as never as Parameters<typeof authenticate>[0];
  await authenticate(request, {} as never);
  assert.deepEqual((request as unknown as { principal: unknown }).principal, { id: 'k6-user-1', role: 'buyer' });

  for (let index = 0; index < 1000; index++) {
    const body = lib.bookingBody('01a2035f-c888-7006-b81c-8a001c907cff', { section: 'S001', number: 1 });
    assert.ok(isUuidV7(body.id), body.id);
    assert.ok(Value.Check(createBookingBody, body), JSON.stringify(body));
    assert.ok(body.quantity >= 1 && body.quantity <= 4);
    if (body.seats) assert.equal(body.seats.length, body.quantity);
  }

  // Two attempts per buyer, buyer names valid for the API (`sub` pattern) and tied to the event.
  // The same module instance the hooks give the scripts for `k6/http`.
  const stubs = (await import(`./testing/k6-stubs.js?module=${encodeURIComponent('k6/http')}`)) as { requests: Array<{ params: { headers: { authorization: string } } }> };
  stubs.requests.length = 0;
  const body = lib.bookingBody('01a2035f-c888-7006-b81c-8a001c907cff', { section: 'S001', number: 1 });
  for (const iteration of [0, 1, 2]) lib.postBooking(body, iteration);
  const subs = stubs.requests.map((request) => JSON.parse(Buffer.from(request.params.headers.authorization.split('.')[1]!, 'base64url').toString()).sub as string);
  assert.equal(subs.length, 3);
  assert.equal(subs[0], subs[1]);
  assert.notEqual(subs[1], subs[2]);
  for (const sub of subs) assert.match(sub, /^[A-Za-z0-9._@:-]{1,128}$/);
});
