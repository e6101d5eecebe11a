// Shared pieces of the k6 scenarios: tokens, booking ids, the event, the booking request.
// Plain k6 JavaScript (no build step); the same workload as benchmarks/run.ts: best-available
// bookings of 1–4 seats spread over the event's subsections, a share of manual picks on the
// front row's first seats (colliding on purpose), each buyer making ATTEMPTS_PER_BUYER attempts
// (2: within the product's per-buyer seat cap and request rate limit).

import http from 'k6/http';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import { check, sleep } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
// Must be the deployment's JWT_SECRET; the default is the one `npm start` uses.
const JWT_SECRET = __ENV.JWT_SECRET || 'local-development-secret-change-me-0123456789';
export const ATTEMPTS_PER_BUYER = Number(__ENV.ATTEMPTS_PER_BUYER || 2);
export const MANUAL_SHARE = Number(__ENV.MANUAL_SHARE || 0.05);
export const SUBSECTION_SEATS = Number(__ENV.SUBSECTION_SEATS || 1000);
const SEATS_PER_ROW = 40;

// HS256, the claims the API expects (sub, role, exp); signed here because k6 has no JWT module.
export function token(sub, role) {
  const now = Math.floor(Date.now() / 1000);
  const header = encoding.b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const payload = encoding.b64encode(JSON.stringify({ sub, role, iat: now, exp: now + 6 * 3600 }), 'rawurl');
  const signature = crypto.hmac('sha256', JWT_SECRET, `${header}.${payload}`, 'base64rawurl');
  return `${header}.${payload}.${signature}`;
}

const hex = (bytes) => Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('');

// RFC 9562 UUIDv7: 48-bit millisecond time, version 7, variant 10, random rest. The API
// requires client-made v7 ids, so a retry can resend the same one.
export function uuidv7() {
  const time = Date.now().toString(16).padStart(12, '0');
  const random = hex(crypto.randomBytes(10));
  const variant = ((parseInt(random[3], 16) & 0x3) | 0x8).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(0, 3)}-${variant}${random.slice(4, 7)}-${random.slice(7, 19)}`;
}

// `subsections` subsections of SUBSECTION_SEATS seats (rows of 40), ten per section.
export function createEvent(name, subsections) {
  const sections = [];
  const targets = [];
  for (let index = 0; index < subsections; index++) {
    const section = `S${String(Math.floor(index / 10) + 1).padStart(3, '0')}`;
    const number = (index % 10) + 1;
    if (number === 1) sections.push({ name: section, subsections: [] });
    sections[sections.length - 1].subsections.push({ number, rows: SUBSECTION_SEATS / SEATS_PER_ROW, seatsPerRow: SEATS_PER_ROW, priceCents: 5000 });
    targets.push({ section, number });
  }
  const response = http.post(`${BASE_URL}/events`, JSON.stringify({ name, sections }), {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token('k6-organizer', 'organizer')}` },
    tags: { name: 'POST /events' },
  });
  if (!check(response, { 'event created (201)': (r) => r.status === 201 })) {
    throw new Error(`creating the event failed: ${response.status} ${response.body}`);
  }
  return { eventId: response.json('id'), targets };
}

// Tokens are made once per VU and user, as a browser keeps its session.
const tokens = {};
function buyerToken(user) {
  if (!tokens[user]) tokens[user] = token(user, 'buyer');
  return tokens[user];
}

export function bookingBody(eventId, target, options = {}) {
  const body = { id: uuidv7(), eventId, section: target.section, subsection: target.number, quantity: 1 + Math.floor(Math.random() * 4) };
  if (options.single) body.quantity = 1;
  else if (Math.random() < MANUAL_SHARE) {
    const first = 1 + Math.floor(Math.random() * 4);
    body.quantity = Math.random() < 0.5 ? 2 : 1;
    body.seats = Array.from({ length: body.quantity }, (_, offset) => ({ row: 1, seat: first + offset }));
  }
  return body;
}

// 202 (queued, the product) and 200 (decided, a synchronous system) are both accepted;
// anything else is an error for http_req_failed.
export const acceptedStatuses = http.expectedStatuses(200, 202);

// `iteration` (the scenario's iteration number) picks the buyer; buyer names carry the event so
// no buyer spans two runs.
export function postBooking(body, iteration) {
  const user = `k6${body.eventId.replace(/-/g, '').slice(-10)}-${Math.floor(iteration / ATTEMPTS_PER_BUYER)}`;
  const response = http.post(`${BASE_URL}/bookings`, JSON.stringify(body), {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${buyerToken(user)}` },
    responseCallback: acceptedStatuses,
    tags: { name: 'POST /bookings' },
  });
  check(response, { 'booking accepted (202/200)': (r) => r.status === 202 || r.status === 200 });
  return response;
}

// Polls the event's counts until every accepted booking could have been decided: reserved
// seats stop changing for `quietS` seconds (or the event is sold out).
export function waitForDecisions(eventId, capacity, quietS = 3, timeoutS = 300) {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline) {
    const response = http.get(`${BASE_URL}/events/${eventId}`, { tags: { name: 'GET /events/:id' } });
    const taken = response.json('reserved') + response.json('sold');
    if (taken === capacity) return { taken, soldOut: true };
    if (taken !== last) {
      last = taken;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > quietS * 1000) {
      return { taken, soldOut: false };
    }
    sleep(0.2);
  }
  return { taken: last, soldOut: false };
}
