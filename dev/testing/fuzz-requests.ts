import { createHmac } from 'node:crypto';
import http from 'node:http';
import { createPrng, type Prng } from './prng.ts';

// Seeded generator of malformed and hostile HTTP requests for the ticketing API
// (ticketing-service/test/fuzz.test.ts). Request `index` of seed `seed` is drawn from its own
// PRNG, so it is the same request whatever order or concurrency it is sent with, and a failure
// reproduces from the printed seed and index alone.
//
// Every request says what a correct server may answer:
//   rejected  a 4xx and nothing else: the request is malformed, hostile or unauthorized by
//             construction (its mutation cannot leave it valid)
//   accepted  a 2xx: deliberately valid; the test accounts for every state change it makes
//   either    a 2xx/3xx or a 4xx: reads and edge values where both answers are defensible
// A 5xx is wrong for all three.

export type Expectation = 'rejected' | 'accepted' | 'either';

export interface FuzzRequest {
  readonly index: number;
  readonly family: string;
  // The route the request aims at (its pattern), whatever its method or path became.
  readonly endpoint: Endpoint;
  readonly method: string;
  // Bytes 0x21–0x7e only: everything else is percent-encoded (raw bytes are the wire test's job).
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  readonly expect: Expectation;
  // What was done to the request, for the report.
  readonly why: string;
  // Logins are limited per client address; an address of its own lets each attempt reach the
  // handler instead of the limiter.
  readonly sourceAddress?: string;
}

export const endpoints = [
  'POST /users', 'POST /sessions', 'GET /me',
  'POST /events', 'GET /events', 'GET /events/:eventId', 'PATCH /events/:eventId', 'GET /events/:eventId/bookings',
  'GET /events/:eventId/sections/:section/subsections/:number/seats', 'GET /events/:eventId/stream',
  'POST /bookings', 'GET /bookings', 'GET /bookings/:id', 'POST /bookings/:id/payment', 'POST /bookings/:id/cancel', 'GET /bookings/:id/stream',
  'GET /health/live', 'GET /health/ready', 'GET /metrics', 'GET /docs',
] as const;

export type Endpoint = (typeof endpoints)[number];

export interface FuzzEvent {
  readonly id: string;
  readonly sections: ReadonlyArray<{ readonly name: string; readonly subsections: ReadonlyArray<{ readonly number: number; readonly rows: number; readonly seatsPerRow: number }> }>;
}

export interface FuzzBooking {
  readonly id: string;
  readonly eventId: string;
  readonly section: string;
  readonly subsection: number;
  readonly quantity: number;
}

// What the test set up before the storm. Users are token subjects.
export interface FuzzFixtures {
  readonly jwtSecret: string;
  readonly organizer: string;
  readonly otherOrganizer: string;
  readonly buyer: string;
  readonly otherBuyer: string;
  // open, closed and scratch belong to `organizer`, cancelled to `otherOrganizer`. Only
  // scratch may be changed by the storm.
  readonly events: { readonly open: FuzzEvent; readonly closed: FuzzEvent; readonly cancelled: FuzzEvent; readonly scratch: FuzzEvent };
  // `buyer` owns reserved (payable), rejected and pending; `otherBuyer` owns othersReserved.
  readonly bookings: { readonly reserved: FuzzBooking; readonly rejected: FuzzBooking; readonly pending: FuzzBooking; readonly othersReserved: FuzzBooking };
  readonly account: { readonly id: string; readonly email: string; readonly password: string };
  // A cursor the API issued, to mutate.
  readonly cursor: string;
  // Retries of one id are one booking: the valid family re-sends this many ids many times,
  // made at this time (a UUIDv7 carries its creation time).
  readonly retriedIdsMax: number;
  readonly epochMs: number;
}

// The seed of request `index`: a murmur3 finalizer over (seed, index).
export function requestSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const sqlInjection = [
  "' OR '1'='1", "'; DROP TABLE bookings;--", "1; SELECT pg_sleep(10)--", "' UNION SELECT password_hash FROM users--", "'); TRUNCATE events CASCADE;--",
  "$$; DROP TABLE events; $$", "%' AND 1=1 --", "\\'; COPY (SELECT '') TO PROGRAM 'id'--", "1' AND SLEEP(5)#", "admin'--", "' OR 1=1 LIMIT 1 OFFSET 0 --",
  "E'\\x27'", "'::text::uuid", "\"; DROP TABLE users; --",
];
const noSqlInjection = ['{"$gt": ""}', '{"$ne": null}', '[$ne]=1', "'; return true; var x='", '$where', 'this.password.match(/.*/)', '{"$regex": ".*"}'];
const pathTraversal = ['../../etc/passwd', '..%2f..%2fetc%2fpasswd', '....//....//etc/passwd', '%2e%2e%2f%2e%2e%2f', '..\\..\\windows\\win.ini', '/dev/zero', 'file:///etc/passwd', '..', '.', '~root', '%252e%252e%252f'];
const headerInjection = ['\r\nSet-Cookie: injected=1', '%0d%0aX-Injected: 1', '\nX-Injected: 1', 'a\r\n\r\n<html>', '\u2028X-Injected: 1', '\u0085', '%E5%98%8A%E5%98%8DX-Injected: 1'];
const templateInjection = ['{{7*7}}', '${7*7}', '<%= 7*7 %>', '#{7*7}', "{{constructor.constructor('return process')()}}", '${process.exit(1)}', '{{__proto__}}', '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', 'javascript:alert(1)', '%s%s%s%n', '%x%x', '{0}'];
const prototypeKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'];

// Strings that are hard to store, compare, print or route: NUL, bidi controls, combining marks,
// lone surrogates (JSON may carry them as \ud800 escapes), noncharacters, lookalikes.
const unicodeStrings = [
  '\u0000', 'a\u0000b', '\u202eevil', '\u200d', '\ufeffBOM', 'e\u0301', 'Z\u0337\u0328\u031b\u032e\u031ea\u0336l\u0338g\u0335o', '\ud800', '\udc00', '\udc00\ud800', 'a\ud83cb',
  '🎟️👨‍👩‍👧', '𝕏𝕐', 'ＡＢＣ１２３', '٣', '\u0085', '\u00a0', '\u3000', 'ı', 'ß', 'А', '\u0007\u001b[31mred', '\uffff', '\ufffe', '\u061c\u200f', 'ﷺ', '\u0301\u0301\u0301',
  '\u{10ffff}', 'é', '\u00e9', 'İ', 'ǅ', '\u2028\u2029', '\t', '\n', ' ', '',
];
const numberStrings = ['NaN', 'Infinity', '-0', '1e309', '0x10', '9007199254740993', '1_000', ' 1', '1 ', '+1', '０', '1.0', '-1', '00000001', '1e3'];
const nullish = ['null', 'undefined', 'None', 'nil', 'true', 'false', '[]', '{}'];

export const hostilePools = {
  injection: [...sqlInjection, ...noSqlInjection, ...pathTraversal, ...headerInjection, ...templateInjection, ...prototypeKeys, ...nullish],
  unicode: [...unicodeStrings, ...numberStrings],
} as const;

type Pool = keyof typeof hostilePools;

function hostileString(rng: Prng, pool: Pool): string {
  const base = rng.pick(hostilePools[pool]);
  if (rng.chance(0.15)) return base.repeat(1 + rng.below(40));
  if (rng.chance(0.15)) return `A${base}`;
  return base;
}

// Raw bytes that are not UTF-8: a server reading them as text sees U+FFFD or worse.
const invalidUtf8 = [
  Buffer.from([0xff]), Buffer.from([0xfe, 0xff]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]), Buffer.from([0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
];

// JSON values of every type, for slots that expect another one.
const anyValues: readonly unknown[] = [
  null, true, false, 0, -1, 1.5, -0.0, 1e308, -1e308, 2 ** 31, 2 ** 53 + 2, 5e-324, [], [null], [1, 2], {}, { $ne: null }, { $gt: '' }, { $where: 'sleep(1000)' },
  'x', '', '1', 'true', [[[]]], { a: { b: { c: {} } } },
];

type Kind = 'string' | 'integer' | 'array' | 'object' | 'nullableString' | 'nullableInteger';

function wrongTypeValue(rng: Prng, kind: Kind): unknown {
  for (;;) {
    const value = rng.pick(anyValues);
    if (!fitsKind(value, kind)) return value;
  }
}

function fitsKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string': return typeof value === 'string';
    case 'integer': return Number.isInteger(value);
    case 'array': return Array.isArray(value);
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'nullableString': return value === null || typeof value === 'string';
    case 'nullableInteger': return value === null || Number.isInteger(value);
  }
}

// UUIDs in every form a client might send: versions, case, braces, urn, nil, max, truncated.
function uuidVariant(rng: Prng, real: string): { value: string; sameAsReal: boolean } {
  const hex = (count: number) => Array.from({ length: count }, () => rng.below(16).toString(16)).join('');
  const v4 = `${hex(8)}-${hex(4)}-4${hex(3)}-${rng.pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
  const options: Array<[string, boolean]> = [
    [v4, false], [uuidV7(rng, Date.now()), false], [uuidV7(rng, 2 ** 48 - 1), false], ['00000000-0000-0000-0000-000000000000', false],
    ['ffffffff-ffff-ffff-ffff-ffffffffffff', false], [real.toUpperCase(), true], [`{${real}}`, true], [`urn:uuid:${real}`, true], [real.replaceAll('-', ''), true],
    [real.slice(0, 35), false], [`${real}0`, false], [`${real}\n`, true], [` ${real}`, true], [real.replace(/[0-9a-f]$/, 'g'), false],
  ];
  const [value, sameAsReal] = rng.pick(options);
  return { value, sameAsReal };
}

export function uuidV7(rng: Prng, timeMs: number): string {
  const hex = (count: number) => Array.from({ length: count }, () => rng.below(16).toString(16)).join('');
  const time = Math.max(0, Math.min(timeMs, 2 ** 48 - 1)).toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8)}-7${hex(3)}-${rng.pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
}

// Timestamps that pass a date-time format check, or nearly do, and may still surprise a
// database or Date.parse: leap seconds, year 0, 24:00, far offsets.
const edgeDates = [
  '2016-12-31T23:59:60Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T00:00:00+23:59',
  '2024-01-01T00:00:00-23:59', '1970-01-01T00:00:00Z', '2024-01-01T00:00:00.123456789Z', '2024-01-01t00:00:00z', '2024-01-01 00:00:00Z', '0001-01-01T00:00:00+01:00',
  '2024-01-01T24:00:00Z', '2024-13-01T00:00:00Z', '275760-09-13T00:00:00Z', '2024-01-01', '2999-01-01T00:00:00Z',
];

// Percent-encodes text (as UTF-8) or raw bytes, leaving unreserved characters and, when asked,
// the sub-delimiters that are legal in a path segment.
export function percentEncode(value: string | Buffer, keepSubDelims = false): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(char) || (keepSubDelims && /[!$&'()*+,;=:@]/.test(char))) out += char;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// A header value the HTTP client will send: UTF-8 bytes written as latin1, without the
// control characters no HTTP/1.1 header may carry (the wire test sends those raw).
export function headerValue(text: string): string {
  const sendable = (char: string) => char === '\t' || (char >= ' ' && char !== '\u007f');
  return [...Buffer.from(text, 'utf8').toString('latin1')].filter(sendable).join('');
}

interface TokenKit {
  valid(sub: string, role: string): string;
  hostile(rng: Prng): { authorization?: string; why: string };
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function jwt(header: unknown, payload: unknown, key: string, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): string {
  const signed = `${b64(header)}.${b64(payload)}`;
  return `${signed}.${createHmac(hash, key).update(signed).digest('base64url')}`;
}

function createTokenKit(fixtures: FuzzFixtures): TokenKit {
  const secret = fixtures.jwtSecret;
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => ({ sub: fixtures.buyer, role: 'buyer', exp: now() + 3600, ...extra });
  const hs256 = { alg: 'HS256', typ: 'JWT' };
  const valid = (sub: string, role: string) => jwt(hs256, { sub, role, iat: now(), exp: now() + 3600 }, secret);
  const tamper = () => {
    const [header, , signature] = valid(fixtures.buyer, 'buyer').split('.');
    return `${header}.${b64(claims({ role: 'organizer' }))}.${signature}`;
  };
  const variants: Array<() => [string | undefined, string]> = [
    () => [undefined, 'no Authorization'],
    () => ['', 'empty Authorization'],
    () => ['Bearer', 'Bearer without token'],
    () => ['Bearer ', 'Bearer and a space'],
    () => [`bearer ${valid(fixtures.buyer, 'buyer')}`, 'lower-case scheme'],
    () => [`Bearer  ${valid(fixtures.buyer, 'buyer')}`, 'two spaces'],
    () => [`Bearer ${valid(fixtures.buyer, 'buyer')} ${valid(fixtures.buyer, 'buyer')}`, 'two tokens'],
    () => ['Basic YWxhZGRpbjpvcGVuc2VzYW1l', 'Basic credentials'],
    () => ['Digest username="a", response="b"', 'Digest credentials'],
    () => [`Bearer ${jwt(hs256, claims({ exp: now() - 60 }), secret)}`, 'expired'],
    () => [`Bearer ${jwt(hs256, claims({ nbf: now() + 3600 }), secret)}`, 'not yet valid (nbf)'],
    () => [`Bearer ${jwt(hs256, claims({ exp: 'tomorrow' }), secret)}`, 'exp is a string'],
    () => [`Bearer ${jwt(hs256, claims({ exp: -1 }), secret)}`, 'negative exp'],
    () => [`Bearer ${jwt(hs256, claims(), 'a-completely-different-secret-0123456789abcdef')}`, 'signed with another secret'],
    () => [`Bearer ${jwt(hs256, claims(), '')}`, 'signed with an empty secret'],
    () => [`Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`, 'alg none, unsigned'],
    () => [`Bearer ${b64({ alg: 'none' })}.${b64(claims())}.${valid(fixtures.buyer, 'buyer').split('.')[2]}`, 'alg none with a signature'],
    () => [`Bearer ${b64({ alg: 'None' })}.${b64(claims())}.`, 'alg None'],
    () => [`Bearer ${jwt({ alg: 'HS512', typ: 'JWT' }, claims(), secret, 'sha512')}`, 'HS512 with the right secret'],
    () => [`Bearer ${jwt({ alg: 'HS384', typ: 'JWT' }, claims(), secret, 'sha384')}`, 'HS384 with the right secret'],
    () => [`Bearer ${jwt({ alg: 'RS256', typ: 'JWT' }, claims(), secret)}`, 'RS256 header, HMAC signature'],
    () => [`Bearer ${jwt({ typ: 'JWT' }, claims(), secret)}`, 'header without alg'],
    () => [`Bearer ${tamper()}`, 'payload changed after signing'],
    () => [`Bearer ${jwt(hs256, { role: 'buyer', exp: now() + 60 }, secret)}`, 'no sub'],
    () => [`Bearer ${jwt(hs256, { sub: fixtures.buyer, exp: now() + 60 }, secret)}`, 'no role'],
    () => [`Bearer ${jwt(hs256, claims({ role: 'admin' }), secret)}`, 'role admin'],
    () => [`Bearer ${jwt(hs256, claims({ role: 'Buyer' }), secret)}`, 'role in another case'],
    () => [`Bearer ${jwt(hs256, claims({ role: ['buyer', 'organizer'] }), secret)}`, 'role is an array'],
    () => [`Bearer ${jwt(hs256, claims({ sub: 42 }), secret)}`, 'sub is a number'],
    () => [`Bearer ${jwt(hs256, claims({ sub: '' }), secret)}`, 'empty sub'],
    () => [`Bearer ${jwt(hs256, claims({ sub: "' OR 1=1--" }), secret)}`, 'sub with SQL'],
    () => [`Bearer ${jwt(hs256, claims({ sub: '../../etc/passwd' }), secret)}`, 'sub with a path'],
    () => [`Bearer ${jwt(hs256, claims({ sub: 'x'.repeat(129) }), secret)}`, 'sub too long'],
    () => [`Bearer ${jwt(hs256, claims({ sub: 'é\u0000' }), secret)}`, 'sub with unicode and NUL'],
    () => [`Bearer ${jwt(hs256, claims({ sub: { $ne: null } }), secret)}`, 'sub is an object'],
    () => [`Bearer ${jwt(null, claims(), secret)}`, 'header is JSON null'],
    () => [`Bearer ${jwt([], claims(), secret)}`, 'header is an array'],
    () => [`Bearer ${jwt(hs256, 'not json', secret)}`, 'payload is not JSON'],
    () => [`Bearer ${jwt(hs256, null, secret)}`, 'payload is JSON null'],
    () => [`Bearer ${jwt(hs256, [claims()], secret)}`, 'payload is an array'],
    () => ['Bearer a.b.c', 'garbage segments'],
    () => ['Bearer a.b', 'two segments'],
    () => [`Bearer ${valid(fixtures.buyer, 'buyer')}.x`, 'four segments'],
    () => ['Bearer ...', 'dots only'],
    () => [`Bearer ${valid(fixtures.buyer, 'buyer')}==`, 'padded signature'],
    () => [`Bearer ${'A'.repeat(8000)}`, '8 KB token'],
    () => [`Bearer ${b64('{"alg":"HS256"'.padEnd(4000, ' '))}.${b64(claims())}.x`, 'huge header segment'],
    () => [`Bearer ${valid(fixtures.buyer, 'buyer').slice(0, -3)}`, 'truncated signature'],
    () => [headerValue(`Bearer ${valid(fixtures.buyer, 'buyer')}\u00e9`), 'latin1 byte after the token'],
  ];
  return {
    valid,
    hostile(rng) {
      const [authorization, why] = rng.pick(variants)();
      return authorization === undefined ? { why } : { authorization, why };
    },
  };
}

// ajv checks `pattern` with the u flag and counts lengths in code points; these mirror the
// route schemas so a generated value can be known valid or invalid before it is sent.
const sectionNamePattern = /^[\p{L}\p{N}][\p{L}\p{N} ._'-]*$/u;
export const isValidSectionName = (name: string) => sectionNamePattern.test(name) && [...name].length <= 32;

interface Draw {
  readonly rng: Prng;
  readonly fx: FuzzFixtures;
  readonly tokens: TokenKit;
  readonly index: number;
  readonly seed: number;
}

interface Part {
  readonly endpoint: Endpoint;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly json?: unknown;
  readonly expect: Expectation;
  readonly why: string;
  readonly sourceAddress?: string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function asBuyer(d: Draw) {
  return bearer(d.tokens.valid(d.fx.buyer, 'buyer'));
}

function asOrganizer(d: Draw) {
  return bearer(d.tokens.valid(d.fx.organizer, 'organizer'));
}

function pickSubsection(d: Draw, event: FuzzEvent) {
  const section = d.rng.pick(event.sections);
  const subsection = d.rng.pick(section.subsections);
  return { section: section.name, ...subsection };
}

function newBookingBody(d: Draw, event: FuzzEvent = d.fx.events.open): Record<string, unknown> {
  const target = pickSubsection(d, event);
  // At most the quantity limit (4 by default) and what the subsection holds.
  const quantity = 1 + d.rng.below(Math.min(4, target.rows * target.seatsPerRow));
  const body: Record<string, unknown> = { id: uuidV7(d.rng, Date.now()), eventId: event.id, section: target.section, subsection: target.number, quantity };
  if (d.rng.chance(0.4)) body.seats = distinctSeats(d.rng, target, quantity);
  return body;
}

function distinctSeats(rng: Prng, grid: { rows: number; seatsPerRow: number }, count: number) {
  const chosen = new Map<string, { row: number; seat: number }>();
  while (chosen.size < count) {
    const seat = { row: 1 + rng.below(grid.rows), seat: 1 + rng.below(grid.seatsPerRow) };
    chosen.set(`${seat.row}-${seat.seat}`, seat);
  }
  return [...chosen.values()];
}

function newEventBody(d: Draw, name = `fuzz ${d.index}`): Record<string, unknown> {
  return { name, sections: [{ name: 'A', subsections: [{ number: 1, rows: 1 + d.rng.below(5), seatsPerRow: 1 + d.rng.below(5), priceCents: d.rng.below(10_000) }] }] };
}

function signUpBody(d: Draw): Record<string, unknown> {
  return { email: `fuzz.${d.seed}.${d.index}@example.com`, password: 'correct horse battery staple' };
}

const bookingPath = (id: string, suffix = '') => `/bookings/${percentEncode(id)}${suffix}`;
const eventPath = (id: string, suffix = '') => `/events/${percentEncode(id)}${suffix}`;
const seatMapPath = (eventId: string, section: string, number: string) => `${eventPath(eventId)}/sections/${percentEncode(section)}/subsections/${percentEncode(number)}/seats`;

// Every route with a request that would be valid for it, when sent by the right user.
function validRequest(d: Draw, endpoint: Endpoint): Part {
  const { fx, rng } = d;
  const open = fx.events.open;
  const reserved = fx.bookings.reserved;
  switch (endpoint) {
    case 'POST /users': return { endpoint, method: 'POST', path: '/users', json: signUpBody(d), expect: 'accepted', why: 'sign up' };
    case 'POST /sessions': return { endpoint, method: 'POST', path: '/sessions', json: { email: fx.account.email, password: fx.account.password }, expect: 'accepted', why: 'log in' };
    case 'GET /me': return { endpoint, method: 'GET', path: '/me', headers: asBuyer(d), expect: 'accepted', why: 'who am I' };
    case 'POST /events': return { endpoint, method: 'POST', path: '/events', headers: asOrganizer(d), json: newEventBody(d), expect: 'accepted', why: 'create event' };
    case 'GET /events': return { endpoint, method: 'GET', path: '/events', expect: 'accepted', why: 'list events' };
    case 'GET /events/:eventId': return { endpoint, method: 'GET', path: eventPath(open.id), expect: 'accepted', why: 'read event' };
    case 'PATCH /events/:eventId':
      return { endpoint, method: 'PATCH', path: eventPath(fx.events.scratch.id), headers: asOrganizer(d), json: { name: `renamed ${d.index}` }, expect: 'accepted', why: 'rename scratch event' };
    case 'GET /events/:eventId/bookings': return { endpoint, method: 'GET', path: eventPath(open.id, '/bookings'), headers: asOrganizer(d), expect: 'accepted', why: "organizer's bookings" };
    case 'GET /events/:eventId/sections/:section/subsections/:number/seats': {
      const target = pickSubsection(d, open);
      return { endpoint, method: 'GET', path: seatMapPath(open.id, target.section, String(target.number)), expect: 'accepted', why: 'seat map' };
    }
    case 'GET /events/:eventId/stream': return { endpoint, method: 'GET', path: eventPath(open.id, '/stream'), expect: 'accepted', why: 'event stream' };
    case 'POST /bookings': return { endpoint, method: 'POST', path: '/bookings', headers: asBuyer(d), json: newBookingBody(d), expect: 'accepted', why: 'new booking' };
    case 'GET /bookings': return { endpoint, method: 'GET', path: '/bookings', headers: asBuyer(d), expect: 'accepted', why: 'my bookings' };
    case 'GET /bookings/:id': return { endpoint, method: 'GET', path: bookingPath(reserved.id), headers: asBuyer(d), expect: 'accepted', why: 'my booking' };
    case 'POST /bookings/:id/payment':
      return { endpoint, method: 'POST', path: bookingPath(reserved.id, '/payment'), headers: asBuyer(d), json: { paymentToken: `tok_${d.index}` }, expect: 'accepted', why: 'pay' };
    case 'POST /bookings/:id/cancel': return { endpoint, method: 'POST', path: bookingPath(reserved.id, '/cancel'), headers: asBuyer(d), expect: 'accepted', why: 'cancel' };
    case 'GET /bookings/:id/stream':
      return { endpoint, method: 'GET', path: `${bookingPath(reserved.id, '/stream')}?access_token=${d.tokens.valid(fx.buyer, 'buyer')}`, expect: 'accepted', why: 'booking stream' };
    case 'GET /health/live': return { endpoint, method: 'GET', path: '/health/live', expect: 'accepted', why: 'liveness' };
    case 'GET /health/ready': return { endpoint, method: 'GET', path: '/health/ready', expect: 'accepted', why: 'readiness' };
    case 'GET /metrics': return { endpoint, method: 'GET', path: '/metrics', expect: 'accepted', why: 'metrics' };
    case 'GET /docs': return { endpoint, method: 'GET', path: rng.pick(['/docs', '/docs/json', '/docs/yaml', '/docs/static/index.html']), expect: 'accepted', why: 'docs' };
  }
}

// Routes with a JSON body schema, with the kind of every field of their valid body.
const bodyFields: Partial<Record<Endpoint, Record<string, Kind>>> = {
  'POST /users': { email: 'string', password: 'string' },
  'POST /sessions': { email: 'string', password: 'string' },
  'POST /events': { name: 'string', sections: 'array' },
  'PATCH /events/:eventId': { name: 'string' },
  'POST /bookings': { id: 'string', eventId: 'string', section: 'string', subsection: 'integer', quantity: 'integer' },
  'POST /bookings/:id/payment': { paymentToken: 'string' },
};

const bodyEndpoints = Object.keys(bodyFields) as Endpoint[];
const protectedEndpoints = endpoints.filter((endpoint) => !['POST /users', 'POST /sessions', 'GET /events', 'GET /events/:eventId', 'GET /events/:eventId/sections/:section/subsections/:number/seats', 'GET /events/:eventId/stream', 'GET /health/live', 'GET /health/ready', 'GET /metrics', 'GET /docs'].includes(endpoint));

// A valid body as JSON text, mutated one edit at a time until it is not JSON any more.
function mutateText(rng: Prng, text: string): string {
  const edits = 1 + rng.below(3);
  let out = text;
  for (let edit = 0; edit < edits; edit++) {
    const at = rng.below(out.length + 1);
    const choice = rng.below(6);
    if (choice === 0) out = out.slice(0, at);
    else if (choice === 1) out = out.slice(0, at) + out.slice(at + 1);
    else if (choice === 2) out = out.slice(0, at) + rng.pick(['{', '}', '[', ']', ',', ':', '"', '\\', "'", '\u0000', '\n', '/*', 'NaN', 'undefined', '\ud800']) + out.slice(at);
    else if (choice === 3) out = out.replaceAll('"', "'");
    else if (choice === 4) out = `${out}${rng.pick(['x', '}', ',', ' {"a":1}', '\u0000', '//'])}`;
    else out = `${rng.pick(['\ufeff', ',', 'x', '[', ')]}\'\n'])}${out}`;
  }
  return out;
}

const brokenJson = [
  '', ' ', '{', '}', '[', ']', '{"a":', '{"a":1,}', "{'a':1}", '{a:1}', 'NaN', 'Infinity', '-', '01', '1e999999', '{"a":1}{"b":2}', '{"a":1} x', '\ufeff{"a":1}', '/* c */{}',
  '{"a":"\\x41"}', '{"a":"\\u12"}', '{"a":"\u0001"}', '"\\ud800"', 'null', 'true', '"str"', '[]', 'undefined', '{"a":1,"a":2}', '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}', '{"a":{"__proto__":{"polluted":1}}}', '[{"__proto__":[]}]', '{"\\u005f_proto__":{"polluted":1}}', '{"":""}', '\u0000', '{"a":"b"\u0000}',
];

interface Family {
  readonly name: string;
  readonly weight: number;
  make(d: Draw): Part;
}

const families: readonly Family[] = [
  { name: 'broken-json', weight: 10, make: brokenJsonRequest },
  { name: 'wrong-types', weight: 13, make: wrongTypeRequest },
  { name: 'injection', weight: 11, make: (d) => hostileSlotRequest(d, 'injection') },
  { name: 'unicode', weight: 8, make: (d) => (d.rng.chance(0.15) ? invalidUtf8Request(d) : hostileSlotRequest(d, 'unicode')) },
  { name: 'huge', weight: 4, make: hugeRequest },
  { name: 'auth', weight: 11, make: authRequest },
  { name: 'ownership', weight: 6, make: ownershipRequest },
  { name: 'paths', weight: 8, make: pathRequest },
  { name: 'queries', weight: 7, make: queryRequest },
  { name: 'methods', weight: 5, make: methodRequest },
  { name: 'content-types', weight: 4, make: contentTypeRequest },
  { name: 'headers', weight: 3, make: headerRequest },
  { name: 'sse', weight: 3, make: sseRequest },
  { name: 'ops', weight: 2, make: opsRequest },
  { name: 'valid', weight: 5, make: validFamilyRequest },
  { name: 'accounts', weight: 0.6, make: accountRequest },
];

export const familyNames = families.map((family) => family.name);
const weightTotal = families.reduce((sum, family) => sum + family.weight, 0);

function pickFamily(rng: Prng): Family {
  let roll = rng.next() * weightTotal;
  for (const family of families) {
    roll -= family.weight;
    if (roll < 0) return family;
  }
  return families[families.length - 1]!;
}

// Structurally broken bodies on every route that reads one. Authenticated routes get no token
// or a bad one, so a mutation that happens to leave valid JSON is still refused; sign-up keeps
// an unknown field and a short password, which no single edit can both repair.
function brokenJsonRequest(d: Draw): Part {
  const endpoint = d.rng.pick([...bodyEndpoints, 'POST /bookings/:id/cancel'] as Endpoint[]);
  const base = endpoint === 'POST /bookings/:id/cancel' ? { ...validRequest(d, endpoint), json: {} } : validRequest(d, endpoint);
  const templates: Partial<Record<Endpoint, unknown>> = {
    'POST /users': { email: 'a@example.com', password: 'short', fuzz: 0 },
    'POST /sessions': { email: d.fx.account.email, password: 'wrong password' },
  };
  const template = templates[endpoint] ?? base.json;
  const body = d.rng.chance(0.4) ? d.rng.pick(brokenJson) : mutateText(d.rng, JSON.stringify(template));
  const deep = d.rng.chance(0.05) ? nested(d.rng, endpoint === 'POST /events' ? 100_000 : 1000) : undefined;
  const auth = d.tokens.hostile(d.rng);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(auth.authorization === undefined ? {} : { authorization: auth.authorization }) };
  return { ...base, headers, body: deep ?? body, json: undefined, expect: 'rejected', why: deep ? 'deeply nested JSON' : `broken JSON (${auth.why})` };
}

function nested(rng: Prng, depth: number): string {
  const open = rng.chance(0.5) ? '[' : '{"a":';
  const close = open === '[' ? ']' : '}';
  return `${open.repeat(depth)}${rng.chance(0.5) ? '1' : ''}${close.repeat(rng.chance(0.8) ? depth : depth - 1)}`;
}

// Valid JSON that breaks the schema in a way no schema-valid body can: a wrong type, a missing
// required field, an unknown (often prototype-polluting) key, a value out of range.
function wrongTypeRequest(d: Draw): Part {
  const endpoint = d.rng.pick(bodyEndpoints);
  const base = validRequest(d, endpoint);
  const body = structuredClone(base.json) as Record<string, unknown>;
  const { why, value } = breakBody(d, endpoint, body);
  return { ...base, json: value, expect: 'rejected', why };
}

function breakBody(d: Draw, endpoint: Endpoint, body: Record<string, unknown>): { why: string; value: unknown } {
  const fields = bodyFields[endpoint]!;
  const field = d.rng.pick(Object.keys(fields));
  const roll = d.rng.below(6);
  if (roll === 0) {
    body[field] = wrongTypeValue(d.rng, fields[field]!);
    return { why: `${field} has the wrong type: ${short(body[field])}`, value: body };
  }
  if (roll === 1 && endpoint !== 'PATCH /events/:eventId') {
    delete body[field];
    return { why: `${field} is missing`, value: body };
  }
  if (roll === 2) {
    const key = d.rng.chance(0.6) ? d.rng.pick(prototypeKeys) : hostileString(d.rng, 'injection');
    Object.defineProperty(body, key, { value: d.rng.chance(0.5) ? { polluted: true, isAdmin: true } : wrongTypeValue(d.rng, 'string'), enumerable: true, configurable: true, writable: true });
    return { why: `unknown key ${JSON.stringify(key)}`, value: body };
  }
  if (roll === 3) return { why: 'body is not an object', value: wrongTypeValue(d.rng, 'object') };
  const outOfRange = outOfRangeValue(d, endpoint, body);
  if (outOfRange) return outOfRange;
  body[field] = wrongTypeValue(d.rng, fields[field]!);
  return { why: `${field} has the wrong type: ${short(body[field])}`, value: body };
}

// Right type, wrong value: each limit of the route schemas from just outside.
function outOfRangeValue(d: Draw, endpoint: Endpoint, body: Record<string, unknown>): { why: string; value: unknown } | undefined {
  const cases: Partial<Record<Endpoint, Array<[string, unknown]>>> = {
    'POST /users': [['password', 'short'], ['password', 'x'.repeat(129)], ['email', `${'a'.repeat(250)}@example.com`], ['email', 'not-an-email'], ['email', 'a@b']],
    'POST /sessions': [['email', 'a'.repeat(255)], ['password', 'x'.repeat(129)]],
    'POST /events': [['name', ''], ['name', 'n'.repeat(201)], ['sections', []], ['holdDurationS', 9], ['holdDurationS', 86_401], ['buyerSeatsMax', 0], ['buyerSeatsMax', 1001], ['startsAt', 'tomorrow'],
      ['sections', [{ name: 'A', subsections: [] }]], ['sections', [{ name: 'A', subsections: [{ number: 1, rows: 0, seatsPerRow: 1, priceCents: 0 }] }]],
      ['sections', [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1001, priceCents: 0 }] }]], ['sections', [{ name: 'A', subsections: [{ number: -1, rows: 1, seatsPerRow: 1, priceCents: 0 }] }]],
      ['sections', [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 100_000_001 }] }]], ['sections', [{ name: '-A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 0 }] }]],
      ['sections', [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 0 }] }, { name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 0 }] }]]],
    'PATCH /events/:eventId': [['name', ''], ['status', 'SOLD_OUT'], ['status', 'on_sale'], ['holdDurationS', 0], ['buyerSeatsMax', 1001], ['salesOpenAt', 'soon'],
      ['salesOpenAt', '2030-01-01T00:00:00Z'], ['cancelledAt', '2020-01-01T00:00:00Z']],
    'POST /bookings': [['id', 'x'.repeat(65)], ['id', ''], ['id', 'not-a-uuid'], ['id', '9b2c5c8e-3f4a-4b7a-9c1d-2e3f4a5b6c7d'], ['quantity', 0], ['quantity', 11], ['quantity', -1], ['quantity', 5],
      ['subsection', -1], ['subsection', 1_000_001], ['section', ''], ['section', 'S'.repeat(33)], ['seats', []], ['seats', [{ row: 0, seat: 1 }]], ['seats', [{ row: 1, seat: 1 }, { row: 1, seat: 1 }]],
      ['seats', Array.from({ length: 11 }, (_, seat) => ({ row: 1, seat: seat + 1 }))], ['eventId', d.fx.events.closed.id], ['eventId', d.fx.events.cancelled.id]],
    'POST /bookings/:id/payment': [['paymentToken', ''], ['paymentToken', 't'.repeat(513)]],
  };
  const list = cases[endpoint];
  if (!list) return undefined;
  const [field, value] = d.rng.pick(list);
  if (endpoint === 'PATCH /events/:eventId' && field === 'salesOpenAt') {
    // An opening alone may be valid; paired with an earlier closing it is not.
    body.salesCloseAt = '2029-01-01T00:00:00Z';
  }
  if (endpoint === 'POST /bookings' && field === 'seats') body.quantity = Array.isArray(value) && value.length > 0 && value.length <= 10 ? value.length : body.quantity;
  body[field] = value;
  return { why: `${field} out of range: ${short(value)}`, value: body };
}

// Slots 5 and 6 (a password, a login) each cost a ~50 ms scrypt hash on the server, so they
// are drawn less often: together about a hundred per 10,000 requests.
const slotWeights = [3, 2, 2, 2, 1, 0.25, 0.4, 1, 3, 2, 1, 1, 1];

function pickWeighted(rng: Prng, weights: readonly number[]): number {
  let roll = rng.next() * weights.reduce((sum, weight) => sum + weight, 0);
  for (let index = 0; index < weights.length; index++) {
    roll -= weights[index]!;
    if (roll < 0) return index;
  }
  return weights.length - 1;
}

// Hostile strings in every string slot the API has: body fields, path parameters, query values.
// A slot where almost any string is legal (an event name, a password, a payment token) makes a valid
// request the test accounts for; every other slot must refuse the string.
function hostileSlotRequest(d: Draw, pool: Pool): Part {
  const text = hostileString(d.rng, pool);
  const slot = pickWeighted(d.rng, slotWeights);
  const { fx } = d;
  const why = (where: string) => `${pool} in ${where}: ${short(text)}`;
  switch (slot) {
    case 0: {
      const field = d.rng.pick(['id', 'eventId', 'section']);
      return { ...validRequest(d, 'POST /bookings'), json: { ...newBookingBody(d), [field]: text }, expect: 'rejected', why: why(`booking ${field}`) };
    }
    case 1: {
      const body = newEventBody(d);
      (body.sections as Array<{ name: string }>)[0]!.name = text;
      return { ...validRequest(d, 'POST /events'), json: body, expect: isValidSectionName(text) ? 'accepted' : 'rejected', why: why('section name') };
    }
    case 2: return { ...validRequest(d, 'POST /events'), json: newEventBody(d, text || 'x'), expect: nameExpectation(text || 'x'), why: why('event name') };
    case 3: return { ...validRequest(d, 'PATCH /events/:eventId'), json: { name: text || 'x' }, expect: nameExpectation(text || 'x'), why: why('scratch event name') };
    case 4: return { ...validRequest(d, 'POST /users'), json: { email: `${text}@x`, password: 'correct horse battery staple' }, expect: 'rejected', why: why('email') };
    case 5: {
      const password = `${text}${'p'.repeat(8)}`.slice(0, 128);
      return { ...validRequest(d, 'POST /users'), json: { ...signUpBody(d), password }, expect: 'accepted', why: why('password') };
    }
    case 6: return { ...loginAttempt(d, { email: text.slice(0, 254), password: 'whatever password' }), why: why('login email') };
    case 7: {
      const token = text.slice(0, 512) || 't';
      // Provider tokens are printable ASCII; anything else is refused before it is queued.
      return { ...validRequest(d, 'POST /bookings/:id/payment'), json: { paymentToken: token }, expect: /^[\x21-\x7e]+$/.test(token) ? 'accepted' : 'rejected', why: why('payment token') };
    }
    case 8: return hostilePathRequest(d, text, why);
    case 9: {
      const endpoint = d.rng.pick(['GET /events', 'GET /bookings', 'GET /events/:eventId/bookings'] as Endpoint[]);
      const base = validRequest(d, endpoint);
      const param = d.rng.pick(['status', 'cursor', 'limit', endpoint === 'GET /bookings' ? 'eventId' : 'status']);
      return { ...base, path: `${base.path}?${param}=${percentEncode(text)}`, expect: text === '' ? 'either' : 'rejected', why: why(`query ${param}`) };
    }
    case 10: {
      const base = validRequest(d, 'GET /events/:eventId/stream');
      return { ...base, path: `${base.path}?subsections=${percentEncode(text)}`, expect: text === '' ? 'either' : 'rejected', why: why('stream subsections') };
    }
    case 11: {
      const base = validRequest(d, d.rng.pick(endpoints.filter((endpoint) => endpoint.startsWith('GET ') && !endpoint.endsWith('/stream'))));
      return { ...base, headers: { ...base.headers, 'x-request-id': headerValue(text) || 'x', 'user-agent': headerValue(text) || 'x' }, expect: 'either', why: why('request id and user agent') };
    }
    default: {
      const base = validRequest(d, 'GET /bookings/:id/stream');
      return { ...base, path: `${bookingPath(fx.bookings.reserved.id, '/stream')}?access_token=${percentEncode(text)}`, expect: 'rejected', why: why('access_token') };
    }
  }
}

// Any text is a valid event name up to 200 code points.
// Any text up to 200 characters, except U+0000, which Postgres cannot store.
const nameExpectation = (name: string): Expectation => ([...name].length <= 200 && !name.includes('\u0000') ? 'accepted' : 'rejected');

function hostilePathRequest(d: Draw, text: string, why: (where: string) => string): Part {
  const { fx } = d;
  const segment = percentEncode(text, d.rng.chance(0.3)) || '%20';
  const options: Part[] = [
    { endpoint: 'GET /bookings/:id', method: 'GET', path: `/bookings/${segment}`, headers: asBuyer(d), expect: 'rejected', why: why('booking id') },
    { endpoint: 'POST /bookings/:id/payment', method: 'POST', path: `/bookings/${segment}/payment`, headers: asBuyer(d), json: { paymentToken: 't' }, expect: 'rejected', why: why('booking id') },
    { endpoint: 'POST /bookings/:id/cancel', method: 'POST', path: `/bookings/${segment}/cancel`, headers: asBuyer(d), expect: 'rejected', why: why('booking id') },
    { endpoint: 'GET /bookings/:id/stream', method: 'GET', path: `/bookings/${segment}/stream`, headers: asBuyer(d), expect: 'rejected', why: why('booking id') },
    { endpoint: 'GET /events/:eventId', method: 'GET', path: `/events/${segment}`, expect: 'rejected', why: why('event id') },
    { endpoint: 'PATCH /events/:eventId', method: 'PATCH', path: `/events/${segment}`, headers: asOrganizer(d), json: { name: 'x' }, expect: 'rejected', why: why('event id') },
    { endpoint: 'GET /events/:eventId/bookings', method: 'GET', path: `/events/${segment}/bookings`, headers: asOrganizer(d), expect: 'rejected', why: why('event id') },
    { endpoint: 'GET /events/:eventId/stream', method: 'GET', path: `/events/${segment}/stream`, expect: 'rejected', why: why('event id') },
    { endpoint: 'GET /events/:eventId/sections/:section/subsections/:number/seats', method: 'GET', path: seatMapPath(fx.events.open.id, text, '1'), expect: text === 'A' ? 'either' : 'rejected', why: why('section') },
    { endpoint: 'GET /events/:eventId/sections/:section/subsections/:number/seats', method: 'GET', path: seatMapPath(fx.events.open.id, 'A', text), expect: /^[0-9]{1,7}$/.test(text) ? 'either' : 'rejected', why: why('subsection number') },
  ];
  return d.rng.pick(options);
}

// Raw bytes that are not UTF-8 inside JSON strings.
function invalidUtf8Request(d: Draw): Part {
  const bytes = d.rng.pick(invalidUtf8);
  const asBody = (prefix: string, suffix: string) => Buffer.concat([Buffer.from(prefix), bytes, Buffer.from(suffix)]);
  const booking = newBookingBody(d);
  const options: Part[] = [
    { ...validRequest(d, 'POST /bookings'), json: undefined, body: asBody(`{"id":"${booking.id}","eventId":"${d.fx.events.open.id}","section":"A`, '","subsection":1,"quantity":1}'), expect: 'rejected', why: 'invalid UTF-8 in section' },
    { ...validRequest(d, 'POST /events'), json: undefined, body: asBody('{"name":"', `","sections":[{"name":"A","subsections":[{"number":1,"rows":1,"seatsPerRow":1,"priceCents":1}]}]}`), expect: 'accepted', why: 'invalid UTF-8 in event name' },
    { ...validRequest(d, 'POST /sessions'), ...loginAttempt(d, {}), json: undefined, body: asBody('{"email":"', '@example.com","password":"whatever password"}'), why: 'invalid UTF-8 in login email' },
    { ...validRequest(d, 'POST /users'), json: undefined, body: asBody('{"email":"', '@example.com","password":"correct horse battery staple"}'), expect: 'rejected', why: 'invalid UTF-8 in email' },
    { ...validRequest(d, 'POST /bookings'), json: undefined, body: asBody('{', ':1}'), expect: 'rejected', why: 'invalid UTF-8 as a key' },
  ];
  const chosen = d.rng.pick(options);
  return { ...chosen, headers: { ...chosen.headers, 'content-type': 'application/json' } };
}

function loginAttempt(d: Draw, body: Record<string, unknown>): Part {
  return { endpoint: 'POST /sessions', method: 'POST', path: '/sessions', json: body, expect: 'rejected', why: 'login', sourceAddress: addressFor(d.index) };
}

// 127.0.0.0/8 is all loopback: each login attempt gets an address, so none shares a limit.
function addressFor(index: number): string {
  return `127.${100 + ((index >> 16) & 0x3f)}.${(index >> 8) & 0xff}.${index & 0xff}`;
}

// Sizes at and past every limit: bodies past the route's body limit (413), strings past their
// maxLength, arrays past maxItems, thousands of keys, URLs and headers of several KB (Node's
// parser takes 16 KiB of request head; this stays inside it).
function hugeRequest(d: Draw): Part {
  const { rng } = d;
  const kb = (count: number) => 'A'.repeat(count * 1024);
  const choice = rng.below(11);
  if (choice === 0) return { ...validRequest(d, 'POST /bookings'), json: { ...newBookingBody(d), section: kb(5) }, expect: 'rejected', why: 'booking body over 4 KiB' };
  if (choice === 1) return { ...validRequest(d, 'POST /users'), json: { ...signUpBody(d), password: kb(20) }, expect: 'rejected', why: 'sign-up body over 16 KiB' };
  if (choice === 2) return { ...validRequest(d, 'POST /events'), json: newEventBody(d, kb(600)), expect: 'rejected', why: 'event body over 512 KiB' };
  if (choice === 3) return { ...validRequest(d, 'POST /events'), json: manySubsections(rng), expect: 'rejected', why: 'thousands of subsections' };
  if (choice === 4) return { ...validRequest(d, 'POST /events'), json: manyKeys(rng, 5000), expect: 'rejected', why: '5,000 keys' };
  if (choice === 5) return { ...validRequest(d, 'PATCH /events/:eventId'), json: { name: 'n'.repeat(201 + rng.below(10_000)) }, expect: 'rejected', why: 'name past maxLength' };
  if (choice === 6) {
    const base = validRequest(d, rng.pick(['GET /events', 'GET /bookings'] as Endpoint[]));
    return { ...base, path: `${base.path}?cursor=${'c'.repeat(1024 + rng.below(10_000))}`, expect: 'rejected', why: 'cursor of many KB' };
  }
  if (choice === 7) return { endpoint: 'GET /events/:eventId', method: 'GET', path: `/events/${'e'.repeat(4000 + rng.below(8000))}`, expect: 'rejected', why: 'event id of many KB' };
  if (choice === 8) {
    const base = validRequest(d, rng.pick(endpoints));
    return { ...base, headers: { ...base.headers, 'x-fuzz': 'h'.repeat(4000 + rng.below(8000)) }, expect: base.expect === 'accepted' ? 'either' : base.expect, why: 'one header of many KB' };
  }
  if (choice === 9) {
    const base = validRequest(d, rng.pick(endpoints));
    const headers: Record<string, string> = { ...base.headers };
    for (let header = 0; header < 150; header++) headers[`x-fuzz-${header}`] = 'v'.repeat(40);
    return { ...base, headers, expect: base.expect === 'accepted' ? 'either' : base.expect, why: '150 extra headers' };
  }
  return { ...validRequest(d, 'POST /bookings'), json: { ...newBookingBody(d), seats: Array.from({ length: 200 }, (_, seat) => ({ row: 1, seat: seat + 1 })) }, expect: 'rejected', why: '200 seats' };
}

// Past one of the layout limits: 200 subsections per section, 200 sections, 2,000 subsections.
function manySubsections(rng: Prng): unknown {
  const [sectionCount, perSection] = rng.pick([[40, 201], [5, 201], [40, 60], [201, 1]] as const);
  const sections = Array.from({ length: sectionCount }, (_, section) => ({
    name: `S${section}`,
    subsections: Array.from({ length: perSection }, (_, number) => ({ number, rows: 1, seatsPerRow: 1, priceCents: 1 })),
  }));
  return { name: 'big', sections };
}

function manyKeys(rng: Prng, count: number): unknown {
  const body: Record<string, unknown> = { name: 'keys', sections: [{ name: 'A', subsections: [{ number: 1, rows: 1, seatsPerRow: 1, priceCents: 1 }] }] };
  for (let key = 0; key < count; key++) body[`k${key}${rng.below(10)}`] = key;
  return body;
}

// Every protected route, with a valid body and parameters, so only the credentials are wrong:
// no token, a malformed, expired, forged or unsigned one, or a valid one of the wrong role.
function authRequest(d: Draw): Part {
  const endpoint = d.rng.pick(protectedEndpoints);
  const base = validRequest(d, endpoint);
  const wrongRoles: Partial<Record<Endpoint, 'buyer' | 'organizer'>> = {
    'POST /events': 'buyer', 'PATCH /events/:eventId': 'buyer', 'GET /events/:eventId/bookings': 'buyer', 'POST /bookings': 'organizer', 'POST /bookings/:id/payment': 'organizer',
  };
  const wrongRole = wrongRoles[endpoint];
  const path = base.path.replace(/[?&]access_token=[^&]*/, '');
  if (wrongRole && d.rng.chance(0.25)) {
    const sub = wrongRole === 'buyer' ? d.fx.buyer : d.fx.organizer;
    return { ...base, path, headers: bearer(d.tokens.valid(sub, wrongRole)), expect: 'rejected', why: `valid token of the wrong role (${wrongRole})` };
  }
  const auth = d.tokens.hostile(d.rng);
  if (endpoint === 'GET /bookings/:id/stream' && auth.authorization?.startsWith('Bearer ') && d.rng.chance(0.5)) {
    return { ...base, path: `${path}?access_token=${percentEncode(auth.authorization.slice(7))}`, headers: {}, expect: 'rejected', why: `${auth.why}, as access_token` };
  }
  const headers: Record<string, string> = auth.authorization === undefined ? {} : { authorization: auth.authorization };
  if (!endpoint.endsWith('/stream') && d.rng.chance(0.1)) {
    return { ...base, path: `${path}?access_token=${d.tokens.valid(d.fx.buyer, 'buyer')}`, headers, expect: 'rejected', why: `${auth.why}; a valid access_token where only headers count` };
  }
  return { ...base, path, headers, expect: 'rejected', why: auth.why };
}

// Valid credentials, someone else's resource: the other buyer's bookings, the other
// organizer's events, random and look-alike ids.
function ownershipRequest(d: Draw): Part {
  const { fx, rng } = d;
  const other = bearer(d.tokens.valid(fx.otherBuyer, 'buyer'));
  const otherOrganizer = bearer(d.tokens.valid(fx.otherOrganizer, 'organizer'));
  const mine = rng.pick([fx.bookings.reserved, fx.bookings.pending, fx.bookings.rejected]);
  const choice = rng.below(10);
  if (choice === 0) return { endpoint: 'GET /bookings/:id', method: 'GET', path: bookingPath(mine.id), headers: other, expect: 'rejected', why: "another buyer's booking" };
  if (choice === 1) return { endpoint: 'POST /bookings/:id/payment', method: 'POST', path: bookingPath(mine.id, '/payment'), headers: other, json: { paymentToken: 'tok' }, expect: 'rejected', why: "paying another buyer's booking" };
  if (choice === 2) {
    const headers = rng.chance(0.5) ? other : otherOrganizer;
    return { endpoint: 'POST /bookings/:id/cancel', method: 'POST', path: bookingPath(mine.id, '/cancel'), headers, expect: 'rejected', why: "cancelling another's booking" };
  }
  if (choice === 3) return { endpoint: 'GET /bookings/:id/stream', method: 'GET', path: `${bookingPath(mine.id, '/stream')}?access_token=${d.tokens.valid(fx.otherBuyer, 'buyer')}`, expect: 'rejected', why: "another buyer's stream" };
  if (choice === 4) {
    const event = rng.pick([fx.events.open, fx.events.closed, fx.events.scratch]);
    return { endpoint: 'PATCH /events/:eventId', method: 'PATCH', path: eventPath(event.id), headers: otherOrganizer, json: rng.pick([{ status: 'CANCELLED' }, { name: 'mine now' }, { status: 'CLOSED' }]), expect: 'rejected', why: "changing another organizer's event" };
  }
  if (choice === 5) return { endpoint: 'GET /events/:eventId/bookings', method: 'GET', path: eventPath(fx.events.open.id, '/bookings'), headers: otherOrganizer, expect: 'rejected', why: "another organizer's bookings" };
  if (choice === 6) {
    const original = rng.pick([fx.bookings.pending, fx.bookings.reserved, fx.bookings.othersReserved]);
    const headers = original === fx.bookings.othersReserved ? asBuyer(d) : other;
    return { ...validRequest(d, 'POST /bookings'), headers, json: { ...original }, expect: 'rejected', why: "re-sending another buyer's booking id" };
  }
  if (choice === 7) {
    const original = rng.pick([fx.bookings.pending, fx.bookings.reserved]);
    return { ...validRequest(d, 'POST /bookings'), json: { ...original, quantity: original.quantity === 1 ? 2 : 1 }, expect: 'rejected', why: 'own booking id, different request' };
  }
  return lookAlikeIdRequest(d);
}

// Random ids and the real ones written differently (upper case, braces, urn:, no dashes):
// a look-alike may be found or not, but must never break anything.
function lookAlikeIdRequest(d: Draw): Part {
  const { fx, rng } = d;
  const booking = uuidVariant(rng, fx.bookings.reserved.id);
  const event = uuidVariant(rng, fx.events.open.id);
  const expect = (same: boolean): Expectation => (same ? 'either' : 'rejected');
  const options: Part[] = [
    { endpoint: 'GET /bookings/:id', method: 'GET', path: bookingPath(booking.value), headers: asBuyer(d), expect: expect(booking.sameAsReal), why: `booking id ${short(booking.value)}` },
    { endpoint: 'GET /bookings/:id/stream', method: 'GET', path: bookingPath(booking.value, '/stream'), headers: asBuyer(d), expect: expect(booking.sameAsReal), why: `booking id ${short(booking.value)}` },
    { endpoint: 'GET /events/:eventId', method: 'GET', path: eventPath(event.value), expect: expect(event.sameAsReal), why: `event id ${short(event.value)}` },
    { endpoint: 'GET /events/:eventId/bookings', method: 'GET', path: eventPath(event.value, '/bookings'), headers: asOrganizer(d), expect: expect(event.sameAsReal), why: `event id ${short(event.value)}` },
    { endpoint: 'GET /events/:eventId/stream', method: 'GET', path: eventPath(event.value, '/stream'), expect: expect(event.sameAsReal), why: `event id ${short(event.value)}` },
    { endpoint: 'GET /events/:eventId/sections/:section/subsections/:number/seats', method: 'GET', path: seatMapPath(event.value, 'A', '1'), expect: expect(event.sameAsReal), why: `event id ${short(event.value)}` },
    { endpoint: 'GET /bookings', method: 'GET', path: `/bookings?eventId=${percentEncode(event.value)}`, headers: asBuyer(d), expect: 'either', why: `eventId filter ${short(event.value)}` },
    { ...validRequest(d, 'POST /bookings'), json: { ...newBookingBody(d), eventId: event.value }, expect: 'rejected', why: `booking for event ${short(event.value)}` },
  ];
  const chosen = rng.pick(options);
  // The look-alike of a real id in a new booking is still that event: valid, unless the id is not a UUID at all.
  if (chosen.endpoint === 'POST /bookings' && event.sameAsReal) return { ...chosen, expect: 'either' };
  return chosen;
}

// Paths that are almost routes: traversal, doubled and trailing slashes, case, bad and
// overlong escapes, encoded CR/LF, matrix parameters.
function pathRequest(d: Draw): Part {
  const { rng, fx } = d;
  const shapes = [
    '/events/', '//events', '/events//bookings', '/./events', '/events/%2e%2e/', '/events/..%2f..%2fetc%2fpasswd', '/EVENTS', '/Events', '/events;jsessionid=1', '/events%00', '/events%2fabc',
    '/%zz', '/events/%', '/events/%u0041', '/events/%C0%AF', '/events/%ED%A0%80', '/events/%FF', '/bookings/%0d%0aX-Injected:%201', '/bookings/%0AX-Injected:1/cancel',
    `/events/${fx.events.open.id}/`, `/events/${fx.events.open.id}/sections/A/subsections/1/seats/`, `/events/${fx.events.open.id}/sections//subsections/1/seats`,
    `/events/${fx.events.open.id}/sections/A/subsections//seats`, `/events/${fx.events.open.id}/sections/%2e%2e/subsections/1/seats`, '/bookings/../events', '/health/../metrics',
    '/health', '/health/', '/health/live/', '/metrics/', '/metrics/../docs', '/me/', '/users/1', '/sessions/1', '/bookings/', '/bookings/%20', '/docs/static/../../../package.json',
    '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/', '/docs/%00', '/\\events', '/events\\..\\bookings', '/*', '/%2a', '/events?', '/events#frag', '/events/%23', '/..',
    `/events/${fx.events.open.id}/sections/A/subsections/1/seats?`, `/bookings/${fx.bookings.reserved.id}/payment/`, `/bookings/${fx.bookings.reserved.id}/CANCEL`,
  ];
  const methods = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'PUT'];
  const method = rng.pick(methods);
  const path = rng.pick(shapes);
  const endpoint = endpointOfPath(path);
  // Writes carry a bad token: whatever a path resolves to, it must not change anything.
  const auth = d.tokens.hostile(rng);
  const headers: Record<string, string> = auth.authorization === undefined ? {} : { authorization: auth.authorization };
  const body = method === 'GET' || method === 'HEAD' ? undefined : '{}';
  return { endpoint, method, path, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}), expect: method === 'GET' || method === 'HEAD' ? 'either' : 'rejected', why: `path ${path.slice(0, 80)}` };
}

function endpointOfPath(path: string): Endpoint {
  if (path.includes('/seats')) return 'GET /events/:eventId/sections/:section/subsections/:number/seats';
  if (path.includes('/payment')) return 'POST /bookings/:id/payment';
  if (/cancel/i.test(path)) return 'POST /bookings/:id/cancel';
  if (path.startsWith('/bookings')) return 'GET /bookings/:id';
  if (path.startsWith('/health')) return 'GET /health/live';
  if (path.startsWith('/metrics')) return 'GET /metrics';
  if (path.startsWith('/docs')) return 'GET /docs';
  if (path.startsWith('/me')) return 'GET /me';
  if (path.startsWith('/users')) return 'POST /users';
  if (path.startsWith('/sessions')) return 'POST /sessions';
  return 'GET /events';
}

// Query strings of list and stream routes: forged cursors (including timestamps that pass the
// cursor's pattern but not a calendar), odd limits, repeated and unknown parameters.
function queryRequest(d: Draw): Part {
  const { rng, fx } = d;
  const endpoint = rng.pick(['GET /events', 'GET /bookings', 'GET /events/:eventId/bookings', 'GET /events/:eventId/stream', 'GET /bookings/:id/stream'] as Endpoint[]);
  const base = validRequest(d, endpoint);
  const [path, existing] = base.path.split('?') as [string, string | undefined];
  const params: string[] = existing ? [existing] : [];
  // Half the time one parameter the route knows, so the value (not a stray parameter beside
  // it) decides the answer: forged cursors and odd ids reach the handler.
  const known = endpoint === 'GET /bookings' ? ['status', 'cursor', 'limit', 'eventId'] : ['status', 'cursor', 'limit'];
  const count = rng.chance(0.5) ? 0 : 1 + rng.below(3);
  if (count === 0) params.push(queryParam(d, endpoint, rng.pick(known)));
  for (let param = 0; param < count; param++) params.push(queryParam(d, endpoint));
  const subsections = endpoint === 'GET /events/:eventId/stream' && rng.chance(0.5) ? [`subsections=${percentEncode(streamScope(rng, fx.events.open))}`] : [];
  return { ...base, path: `${path}?${[...params, ...subsections].join('&')}`, expect: 'either', why: `query ${[...params, ...subsections].join('&').slice(0, 100)}` };
}

function queryParam(d: Draw, endpoint: Endpoint, known?: string): string {
  const { rng } = d;
  const name = known ?? rng.pick(['status', 'cursor', 'limit', 'eventId', '__proto__', 'constructor', 'status[]', 'a[b]', '$where', '', 'subsections', 'access_token', 'limit']);
  const values: Record<string, () => string> = {
    status: () => rng.pick(['SCHEDULED', 'ON_SALE', 'SOLD_OUT', 'CLOSED', 'CANCELLED', 'RESERVED', 'PAID', 'on_sale', 'PENDING', '', "ON_SALE' OR 1=1--"]),
    cursor: () => forgedCursor(d),
    limit: () => rng.pick(['0', '000', '1', '200', '201', '999', '1000', '-1', '1e3', '٣', '１', '', ' 1', '0x10', '1.5', 'NaN']),
    eventId: () => rng.pick([d.fx.events.open.id, d.fx.events.open.id.toUpperCase(), `urn:uuid:${d.fx.events.open.id}`, `{${d.fx.events.open.id}}`, 'not-a-uuid', '00000000-0000-0000-0000-000000000000']),
    access_token: () => d.tokens.valid(d.fx.buyer, 'buyer'),
  };
  const value = Object.hasOwn(values, name) ? values[name]!() : hostileString(rng, rng.chance(0.5) ? 'injection' : 'unicode');
  if (endpoint.endsWith('/stream') && name === 'status') return `Last-Event-ID=${percentEncode(value)}`;
  return rng.chance(0.1) && !known ? name : `${percentEncode(name)}=${percentEncode(value)}`;
}

// Cursors are base64url JSON [time, id]; these keep the shape and break the meaning.
function forgedCursor(d: Draw): string {
  const { rng } = d;
  const id = rng.chance(0.5) ? d.fx.events.open.id : uuidV7(rng, Date.now());
  const times = ['2024-13-01T00:00:00.000000Z', '2024-02-30T00:00:00.000000Z', '0000-01-01T00:00:00.000000Z', '9999-12-31T24:00:00.000000Z', '2024-01-01T99:99:99.999999Z',
    '2024-01-01T00:00:00.000000Z', '1900-01-01T00:00:00.000000Z', '2024-06-30T23:59:60.000000Z'];
  const payloads: unknown[] = [[rng.pick(times), id], [rng.pick(times), 'not-a-uuid'], [rng.pick(times)], { at: rng.pick(times), id }, [1, 2], 'x', null, [[rng.pick(times), id]], [rng.pick(times), id, 'extra']];
  const choice = rng.below(5);
  if (choice === 0) return d.fx.cursor;
  if (choice === 1) return mutateText(rng, d.fx.cursor);
  if (choice === 2) return Buffer.from(JSON.stringify(rng.pick(payloads))).toString('base64');
  if (choice === 3) return rng.pick(['', '=', '%%%', 'eyJ9', 'W10', 'bnVsbA', '__proto__']);
  return Buffer.from(JSON.stringify(rng.pick(payloads))).toString('base64url');
}

function streamScope(rng: Prng, event: FuzzEvent): string {
  const real = event.sections.flatMap((section) => section.subsections.map((sub) => `${section.name}-${sub.number}`));
  const odd = ['-', 'A-', '-1', 'A--1', 'A-1e0', 'A-0x1', 'A- 1', 'A-1.0', 'A-01', ' A-1', 'A-99999999999999999999', 'A-NaN', 'A-Infinity', '__proto__-1', 'constructor-1', 'A-1,', ',', ',,,', 'Ä-1', 'A-1,A-1'];
  const items = Array.from({ length: 1 + rng.below(rng.chance(0.1) ? 600 : 4) }, () => (rng.chance(0.5) ? rng.pick(real) : rng.pick(odd)));
  return items.join(',').slice(0, rng.chance(0.9) ? 4096 : 5000);
}

// Paths that more than one route shares: another method on them is another route, not an error.
const routeMethods: Partial<Record<Endpoint, string[]>> = {
  'GET /events': ['GET', 'POST'], 'POST /events': ['GET', 'POST'], 'GET /bookings': ['GET', 'POST'], 'POST /bookings': ['GET', 'POST'],
  'GET /events/:eventId': ['GET', 'PATCH'], 'PATCH /events/:eventId': ['GET', 'PATCH'],
};

// Every method Node's parser knows, on every route except the methods the route takes (HEAD on
// a GET route is a read, and CONNECT is a tunnel, not a request).
function methodRequest(d: Draw): Part {
  const { rng } = d;
  const endpoint = rng.pick(endpoints);
  const base = validRequest(d, endpoint);
  const routed = routeMethods[endpoint] ?? [endpoint.split(' ')[0]!];
  const candidates = http.METHODS.filter((method) => !routed.includes(method) && method !== 'CONNECT' && !(routed.includes('GET') && method === 'HEAD'));
  const method = rng.pick(candidates);
  const body = rng.chance(0.5) ? JSON.stringify(base.json ?? {}) : undefined;
  const auth = d.tokens.hostile(rng);
  const headers: Record<string, string> = { ...(auth.authorization === undefined ? {} : { authorization: auth.authorization }), ...(body ? { 'content-type': rng.pick(contentTypes) } : {}) };
  return { endpoint, method, path: base.path.split('?')[0]!, headers, ...(body ? { body } : {}), expect: 'rejected', why: `${method} on ${endpoint}` };
}

const contentTypes = [
  'application/json', 'text/plain', 'text/html', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream',
  'application/json; charset=utf-16le', 'application/json; charset=iso-8859-1', 'application/json; charset="utf-8"', 'APPLICATION/JSON', 'application/jsonp', 'application/json-patch+json',
  'application/merge-patch+json', 'application/vnd.api+json', 'application/json, text/plain', ';', '*/*', 'application/*', 'json', `application/json; boundary=${'x'.repeat(2000)}`,
  'application/json\t;\tcharset=utf-8', 'application/json; __proto__=1', headerValue('application/jsön'), 'application/json; charset=utf-8; charset=utf-16', 'text/event-stream',
];

// Bodies under every media type. The body breaks the route's schema (or the request has no
// valid token), so whichever parser takes it, the answer is a refusal.
function contentTypeRequest(d: Draw): Part {
  const { rng } = d;
  const endpoint = rng.pick(bodyEndpoints);
  const base = validRequest(d, endpoint);
  const broken = structuredClone(base.json) as Record<string, unknown>;
  const { why, value } = breakBody(d, endpoint, broken);
  const contentType = rng.pick([...contentTypes, '']);
  const text = JSON.stringify(value);
  const body = contentType.includes('utf-16') ? Buffer.from(text, 'utf16le') : text;
  const headers: Record<string, string> = { ...base.headers };
  if (contentType) headers['content-type'] = contentType;
  return { ...base, json: undefined, body, headers, expect: 'rejected', why: `content-type ${JSON.stringify(contentType.slice(0, 60))}, ${why}` };
}

// Odd values in the headers the service or its plugins read or echo.
function headerRequest(d: Draw): Part {
  const { rng } = d;
  const base = validRequest(d, rng.pick(endpoints.filter((endpoint) => endpoint.startsWith('GET '))));
  const name = rng.pick(['x-request-id', 'accept', 'accept-encoding', 'accept-language', 'cookie', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'origin', 'host',
    'if-none-match', 'range', 'last-event-id', 'referer', 'content-type', 'x-http-method-override', 'te']);
  const value = rng.pick([
    () => headerValue(hostileString(rng, rng.chance(0.5) ? 'injection' : 'unicode')),
    () => rng.pick(['gzip;q=1e999', '*/*;q=-1', 'text/event-stream', '__proto__=1; constructor=2', '127.0.0.1, 10.0.0.1, ::1', 'for="_gazonk";proto=javascript', 'null',
      'evil.example', 'bytes=0-1,2-3,-1', 'bytes=99999999999999999999-', 'DELETE', 'trailers', 'W/"x", *', 'x'.repeat(8000)]),
  ])();
  const headers: Record<string, string> = { ...base.headers, [name]: value };
  return { ...base, headers, expect: 'either', why: `${name}: ${short(value)}` };
}

// The two SSE routes: scopes, Last-Event-ID, Accept, tokens by header and by query.
function sseRequest(d: Draw): Part {
  const { rng, fx } = d;
  const choice = rng.below(5);
  if (choice === 0) {
    const base = validRequest(d, 'GET /events/:eventId/stream');
    return { ...base, path: `${base.path}?subsections=${percentEncode(streamScope(rng, fx.events.open))}`, expect: 'either', why: 'stream scope' };
  }
  if (choice === 1) {
    const base = validRequest(d, rng.pick(['GET /events/:eventId/stream', 'GET /bookings/:id/stream'] as Endpoint[]));
    const headers = { ...base.headers, 'last-event-id': headerValue(rng.pick(['-1', '99999999999999999999', 'NaN', '0', "1' OR 1=1", '\u00e9\u202e', 'x'.repeat(4000)])), accept: rng.pick(['text/event-stream', 'application/json', '*/*', 'text/html']) };
    return { ...base, headers, expect: 'either', why: `Last-Event-ID ${short(headers['last-event-id'])}` };
  }
  if (choice === 2) {
    const event = rng.pick([fx.events.closed, fx.events.cancelled, fx.events.scratch]);
    return { endpoint: 'GET /events/:eventId/stream', method: 'GET', path: eventPath(event.id, '/stream'), expect: 'either', why: 'stream of a closed, cancelled or changing event' };
  }
  if (choice === 3) {
    const booking = rng.pick([fx.bookings.rejected, fx.bookings.pending, fx.bookings.reserved]);
    const token = d.tokens.valid(fx.buyer, 'buyer');
    const both: Record<string, string> = rng.chance(0.5) ? { authorization: `Bearer ${d.tokens.valid(fx.otherBuyer, 'buyer')}` } : {};
    const expect: Expectation = Object.keys(both).length > 0 ? 'rejected' : 'either';
    return { endpoint: 'GET /bookings/:id/stream', method: 'GET', path: `${bookingPath(booking.id, '/stream')}?access_token=${token}`, headers: both, expect, why: Object.keys(both).length > 0 ? "another buyer's header beats the owner's access_token" : 'stream of my booking' };
  }
  const auth = d.tokens.hostile(rng);
  const token = auth.authorization?.replace(/^Bearer /, '') ?? '';
  return { endpoint: 'GET /bookings/:id/stream', method: 'GET', path: `${bookingPath(fx.bookings.reserved.id, '/stream')}?access_token=${percentEncode(token)}`, expect: 'rejected', why: `access_token: ${auth.why}` };
}

// Health, metrics and docs: odd paths under /docs, methods, queries.
function opsRequest(d: Draw): Part {
  const { rng } = d;
  const endpoint = rng.pick(['GET /health/live', 'GET /health/ready', 'GET /metrics', 'GET /docs'] as Endpoint[]);
  const base = validRequest(d, endpoint);
  const choice = rng.below(4);
  if (choice === 0) return { ...base, path: `${base.path}?${percentEncode(hostileString(rng, 'injection'))}=${percentEncode(hostileString(rng, 'unicode'))}`, expect: 'either', why: 'query on an ops route' };
  if (choice === 1) {
    const file = rng.pick(['index.html', 'swagger-ui.css', 'nope.js', '../../../package.json', '..%2f..%2fpackage.json', '%00', 'index.html%00.js', 'a'.repeat(3000), '.env', '..', '%2e%2e%2fREADME.md']);
    return { endpoint: 'GET /docs', method: rng.pick(['GET', 'HEAD']), path: `/docs/static/${file}`, expect: 'either', why: `docs file ${file.slice(0, 40)}` };
  }
  if (choice === 2) return { ...base, method: 'HEAD', expect: 'either', why: `HEAD ${base.path}` };
  return { ...base, headers: { accept: rng.pick(['application/openmetrics-text', 'text/html', 'application/json', '*/*;q=0', headerValue('text/ħtml')]) }, expect: 'either', why: 'accept header on an ops route' };
}

// Deliberately valid requests, so the storm also holds the API to saying yes: every route once
// in a while, retries of the same booking ids, valid edge values.
function validFamilyRequest(d: Draw): Part {
  const { rng, fx } = d;
  const choice = rng.below(10);
  if (choice <= 2) return validRequest(d, rng.pick(endpoints.filter((endpoint) => endpoint !== 'POST /users' && endpoint !== 'POST /sessions')));
  if (choice === 3) return retriedBooking(d);
  if (choice === 4) {
    // The same UUID written in upper case is the same booking id (Postgres compares UUIDs, not text).
    const upper = rng.chance(0.3);
    const original = rng.pick([fx.bookings.reserved, fx.bookings.pending]);
    const json = { ...original, id: upper ? original.id.toUpperCase() : original.id };
    return { ...validRequest(d, 'POST /bookings'), json, expect: 'accepted', why: `resend of my booking${upper ? ', id in upper case' : ''} (no new booking)` };
  }
  if (choice === 5) return { ...validRequest(d, 'POST /bookings'), headers: bearer(d.tokens.valid(oddButValidSubject(rng), 'buyer')), expect: 'accepted', why: 'new booking by an odd but valid user id' };
  if (choice === 6) return { ...validRequest(d, 'POST /events'), json: edgeEvent(d), expect: 'either', why: 'event with edge values' };
  if (choice === 7) return { ...validRequest(d, 'PATCH /events/:eventId'), json: edgePatch(rng), expect: 'either', why: 'scratch event with edge values' };
  if (choice === 8) {
    // A pending booking may not be cancellable yet (its reserve may still be on its way).
    const target = rng.pick([fx.bookings.reserved, fx.bookings.pending]);
    const expect: Expectation = target === fx.bookings.reserved ? 'accepted' : 'either';
    return { endpoint: 'POST /bookings/:id/cancel', method: 'POST', path: bookingPath(target.id, '/cancel'), headers: rng.chance(0.5) ? asOrganizer(d) : asBuyer(d), expect, why: 'cancel by owner or organizer' };
  }
  return { endpoint: 'POST /bookings/:id/cancel', method: 'POST', path: bookingPath(fx.bookings.rejected.id, '/cancel'), headers: asBuyer(d), expect: 'rejected', why: 'cancelling a rejected booking' };
}

// The same ids sent many times across the storm, each always with the same body and user:
// however the copies race, one booking per id.
function retriedBooking(d: Draw): Part {
  const k = d.rng.below(d.fx.retriedIdsMax);
  const own = createPrng(requestSeed(d.seed ^ 0x5eed, k));
  const event = d.fx.events.open;
  const section = event.sections[k % event.sections.length]!;
  const body = { id: uuidV7(own, d.fx.epochMs + k), eventId: event.id, section: section.name, subsection: section.subsections[0]!.number, quantity: 1 + (k % 3) };
  return { ...validRequest(d, 'POST /bookings'), headers: bearer(d.tokens.valid(`fuzz-retry-${k % 5}`, 'buyer')), json: body, expect: 'accepted', why: `retry of booking ${k}` };
}

function oddButValidSubject(rng: Prng): string {
  return rng.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x'.repeat(128), 'a.b@c:d-e_f', '0', '-', '...', 'null', 'undefined']);
}

function edgeEvent(d: Draw): unknown {
  const { rng } = d;
  const body = newEventBody(d, hostileString(rng, 'unicode') || 'x') as Record<string, unknown>;
  const field = rng.pick(['startsAt', 'salesOpenAt', 'salesCloseAt']);
  body[field] = rng.pick(edgeDates);
  if (rng.chance(0.3)) body.sections = [{ name: rng.pick(['Zürich', "O'Neil", 'A.B-C', '١٢٣', '東', 'Ω 1', 'x'.repeat(32)]), subsections: [{ number: 1_000_000, rows: 100, seatsPerRow: 1000, priceCents: 100_000_000 }] }];
  return body;
}

function edgePatch(rng: Prng): unknown {
  return rng.pick<unknown>([
    { salesOpenAt: rng.pick(edgeDates), salesCloseAt: null }, { salesOpenAt: null, salesCloseAt: rng.pick(edgeDates) }, { salesOpenAt: null, salesCloseAt: null },
    { holdDurationS: rng.pick([10, 86_400, null]) }, { buyerSeatsMax: rng.pick([1, 1000, null]) }, { status: rng.pick(['ON_SALE', 'CLOSED']) },
    { salesOpenAt: '2020-01-01T00:00:00Z', salesCloseAt: '2031-01-01T00:00:00Z' },
  ]);
}

// Sign-ups and logins outside the generic slots: each login from an address of its own, and
// now and then a burst from one address that the login limiter must cut off with a clean 429.
function accountRequest(d: Draw): Part {
  const { rng, fx } = d;
  const choice = rng.below(6);
  if (choice === 5) {
    // Not the whitespace that trimming the address removes on purpose (U+FEFF, U+00A0).
    const control = rng.pick(['\u0000', '\u0001', '\u001b', '\u007f', '\u0085']);
    return { ...loginAttempt(d, { email: `${control}${fx.account.email}`, password: fx.account.password }), why: `login, control character ${JSON.stringify(control)} in the email` };
  }
  if (choice === 0) return { ...loginAttempt(d, { email: fx.account.email, password: 'wrong password' }), why: 'wrong password' };
  if (choice === 1) return { ...loginAttempt(d, { email: fx.account.email, password: 'wrong password' }), sourceAddress: '127.99.0.1', why: 'login burst from one address' };
  if (choice === 2) return { ...loginAttempt(d, { email: fx.account.email.toUpperCase(), password: fx.account.password }), expect: 'accepted', why: 'login, email in upper case' };
  if (choice === 3) return { ...validRequest(d, 'POST /users'), json: { email: fx.account.email.toUpperCase(), password: 'another password' }, expect: 'rejected', why: 'sign up with a taken email' };
  const local = rng.pick(["admin'--", '{{7*7}}', '$where', "o'reilly+x", 'a.b.c', '_', '%27', '~root', '*']);
  return { ...validRequest(d, 'POST /users'), json: { email: `${local}.${d.seed}.${d.index}@example.com`, password: 'correct horse battery staple' }, expect: 'accepted', why: `sign up as ${local}@…` };
}

function short(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}


export interface FuzzGenerator {
  generate(index: number): FuzzRequest;
}

export function createFuzzGenerator(fixtures: FuzzFixtures, seed: number): FuzzGenerator {
  const tokens = createTokenKit(fixtures);
  return {
    generate(index) {
      const rng = createPrng(requestSeed(seed, index));
      const family = pickFamily(rng);
      return finish(index, family.name, family.make({ rng, fx: fixtures, tokens, index, seed }));
    },
  };
}

// The request as text a person can read and re-send: long parts are cut, bytes escaped.
export function describeRequest(request: FuzzRequest, limit = 600): string {
  const cut = (text: string) => (text.length > limit ? `${text.slice(0, limit)}… (${text.length} chars)` : text);
  const body = request.body === undefined ? '' : typeof request.body === 'string' ? JSON.stringify(request.body) : `<bytes ${request.body.toString('hex')}>`;
  const headers = Object.entries(request.headers).map(([name, value]) => `${name}: ${cut(JSON.stringify(value))}`).join('; ');
  return [`#${request.index} [${request.family}] ${request.why}`, `${request.method} ${cut(request.path)}`, headers && `headers ${headers}`, body && `body ${cut(body)}`,
    request.sourceAddress && `from ${request.sourceAddress}`].filter(Boolean).join('\n    ');
}

// POST /bookings from a few users against the normal per-user limit: valid bookings (202 until
// the limit, then 429), broken ones (400 before the limiter counts them), bad tokens (401),
// and reads, which the limit does not cover.
export function createRateLimitGenerator(fixtures: FuzzFixtures, seed: number): FuzzGenerator {
  const tokens = createTokenKit(fixtures);
  return {
    generate(index) {
      const rng = createPrng(requestSeed(seed ^ 0x429, index));
      const d: Draw = { rng, fx: fixtures, tokens, index, seed };
      const user = bearer(tokens.valid(`fuzz-limited-${index % 4}`, 'buyer'));
      const roll = rng.below(10);
      let part: Part;
      if (roll < 6) part = { ...validRequest(d, 'POST /bookings'), headers: user, expect: 'either', why: 'valid booking, maybe past the limit' };
      else if (roll < 8) part = { ...validRequest(d, 'POST /bookings'), headers: user, json: { ...newBookingBody(d), quantity: rng.pick(['2', 0, null, 1.5]) }, expect: 'rejected', why: 'broken booking' };
      else if (roll < 9) {
        const auth = tokens.hostile(rng);
        part = { ...validRequest(d, 'POST /bookings'), headers: auth.authorization === undefined ? {} : { authorization: auth.authorization }, expect: 'rejected', why: `bad token: ${auth.why}` };
      } else part = { ...validRequest(d, 'GET /bookings'), headers: user, expect: 'accepted', why: 'reading is not limited' };
      return finish(index, 'rate-limited', part);
    },
  };
}

function finish(index: number, family: string, part: Part): FuzzRequest {
  const headers: Record<string, string> = { ...part.headers };
  let body = part.body;
  if (part.json !== undefined) {
    body = JSON.stringify(part.json);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  return {
    index, family, endpoint: part.endpoint, method: part.method, path: part.path, headers, expect: part.expect, why: part.why,
    ...(body === undefined ? {} : { body }), ...(part.sourceAddress ? { sourceAddress: part.sourceAddress } : {}),
  };
}

export interface WireRequest {
  readonly index: number;
  readonly name: string;
  readonly method: string;
  readonly bytes: Buffer;
  // Broken framing may be answered by closing the connection without a response.
  readonly mayClose: boolean;
  // Send EOF after the bytes, as a client that gave up would.
  readonly halfClose: boolean;
}

interface WireTemplate {
  readonly name: string;
  readonly mayClose?: boolean;
  readonly halfClose?: boolean;
  make(rng: Prng, fx: FuzzFixtures): string | Buffer;
}

const close = 'Connection: close\r\n';

// Heads of the wire test: each a complete request (or a few, pipelined), ending the connection
// so the answer is whatever arrived before the server closed it.
const wireTemplates: readonly WireTemplate[] = [
  { name: 'unknown method', make: (rng) => `${unknownMethod(rng)} /events HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'CR/LF inside a header value', make: () => `GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: a\r\nX-Injected: 1\r\n${close}\r\n` },
  { name: 'request smuggled after a header', make: () => 'GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\r\nPOST /bookings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n' + `${close}\r\n{}` },
  { name: 'bare LF line ends', make: () => `GET /events HTTP/1.1\nHost: x\n${close.replace('\r', '')}\n` },
  { name: 'folded header', make: () => `GET /events HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n${close}\r\n` },
  { name: 'NUL in a header value', make: () => `GET /events HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n${close}\r\n` },
  { name: 'NUL in a header name', make: () => `GET /events HTTP/1.1\r\nHost: x\r\nX\u0000A: b\r\n${close}\r\n` },
  { name: 'NUL in the path', make: () => `GET /events/\u0000 HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'space before the colon', make: () => `GET /events HTTP/1.1\r\nHost : x\r\n${close}\r\n` },
  { name: 'header name with a space', make: () => `GET /events HTTP/1.1\r\nHost: x\r\nX A: b\r\n${close}\r\n` },
  { name: 'Content-Length and Transfer-Encoding', make: () => `POST /bookings HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n${close}\r\n0\r\n\r\n` },
  { name: 'two Content-Lengths', make: () => `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n${close}\r\n{}` },
  { name: 'negative Content-Length', make: () => `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n${close}\r\n{}` },
  { name: 'Content-Length is not a number', make: () => `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2x\r\n${close}\r\n{}` },
  { name: 'Content-Length past the body, then EOF', mayClose: true, halfClose: true, make: () => `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n${close}\r\n{}` },
  { name: 'bad chunk size', make: () => `POST /bookings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n${close}\r\nzz\r\n{}\r\n0\r\n\r\n` },
  { name: 'chunked JSON body', make: () => `POST /bookings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n${close}\r\n1\r\n{\r\n1\r\n}\r\n0\r\n\r\n` },
  { name: 'Transfer-Encoding gzip', make: () => `POST /bookings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Type: application/json\r\n${close}\r\n{}` },
  { name: 'odd HTTP version', make: (rng) => `GET /events ${rng.pick(['HTTP/1.2', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', 'http/1.1', 'HTTP/1', 'HTTP/01.1'])}\r\nHost: x\r\n${close}\r\n` },
  { name: 'HTTP/0.9 request', mayClose: true, make: () => 'GET /events\r\n\r\n' },
  { name: 'HTTP/2 preface', mayClose: true, make: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' },
  { name: 'absolute-form target', make: () => `GET http://evil.example/events HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'raw bytes in the path', make: (rng) => Buffer.concat([Buffer.from('GET /events/'), rng.pick(invalidUtf8), Buffer.from(`é HTTP/1.1\r\nHost: x\r\n${close}\r\n`)]) },
  { name: 'control character in the path', make: (rng) => `GET /events/${rng.pick(['\u0001', '\u007f', '\t', '\u001b'])}x HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'bad percent-escape in the path', make: (rng, fx) => `GET ${rng.pick(['/events/%zz', '/%', `/bookings/%G0`, `/events/${fx.events.open.id}/sections/%/subsections/1/seats`, '/events?status=%zz'])} HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'head past 16 KiB', make: () => `GET /events HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(17 * 1024)}\r\n${close}\r\n` },
  { name: 'path past 16 KiB', make: () => `GET /events/${'e'.repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'HTTP/1.1 without Host', make: () => `GET /events HTTP/1.1\r\n${close}\r\n` },
  { name: 'two Host headers', make: () => `GET /events HTTP/1.1\r\nHost: x\r\nHost: y\r\n${close}\r\n` },
  { name: 'Expect: 100-continue', make: () => `POST /bookings HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${close}\r\n{}` },
  { name: 'unknown expectation', make: () => `POST /bookings HTTP/1.1\r\nHost: x\r\nExpect: fuzz\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${close}\r\n{}` },
  { name: 'WebSocket upgrade of a stream', mayClose: true, make: (_rng, fx) => `GET /events/${fx.events.open.id}/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n` },
  { name: 'CONNECT', mayClose: true, make: () => 'CONNECT 127.0.0.1:5432 HTTP/1.1\r\nHost: 127.0.0.1:5432\r\n\r\n' },
  { name: 'pipelined burst', make: (rng) => `${'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(1 + rng.below(20))}GET /health/live HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'tabs in the request line', make: () => `GET\t/events\tHTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'two spaces in the request line', make: () => `GET  /events HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: 'CR/LF in the path', make: () => `GET /events\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n${close}\r\n` },
  { name: '1,500 headers', make: () => `GET /events HTTP/1.1\r\nHost: x\r\n${'a: b\r\n'.repeat(1500)}${close}\r\n` },
  { name: 'latin1 bytes in a token header', make: (_rng, fx) => Buffer.concat([Buffer.from(`GET /bookings/${fx.bookings.reserved.id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer `), Buffer.from([0xe9, 0xff]), Buffer.from(`\r\n${close}\r\n`)]) },
];

function unknownMethod(rng: Prng): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (;;) {
    const method = rng.chance(0.3)
      ? rng.pick(['get', 'G ET', 'POST/', 'FOO', 'DELETE2', 'HEAD\u0000', 'GET\u00e9', '*', '-'])
      : Array.from({ length: 3 + rng.below(10) }, () => letters[rng.below(letters.length)]).join('');
    if (!http.METHODS.includes(method)) return method;
  }
}

export interface WireGenerator {
  generate(index: number): WireRequest;
}

export function createWireGenerator(fixtures: FuzzFixtures, seed: number): WireGenerator {
  return {
    generate(index) {
      const rng = createPrng(requestSeed(seed ^ 0x3172e, index));
      const template = rng.pick(wireTemplates);
      const made = template.make(rng, fixtures);
      const bytes = typeof made === 'string' ? Buffer.from(made, 'latin1') : made;
      return { index, name: template.name, method: bytes.toString('latin1').split(' ')[0]!, bytes, mayClose: template.mayClose ?? false, halfClose: template.halfClose ?? false };
    },
  };
}
