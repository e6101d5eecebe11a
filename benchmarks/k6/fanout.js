// Fan-out for real deployments: CLIENTS live seat-map viewers (GET /events/:id/stream) while
// bookings flow at RATE per second, and a probe that books one seat at a time in a subsection
// of its own and times how long until the seat shows up in its event stream.
//
// Needs the SSE extension (https://github.com/phymbert/xk6-sse): with k6 ≥ 1.0 the import
// below is resolved automatically; otherwise build k6 with `xk6 build --with github.com/phymbert/xk6-sse`.
//
//   k6 run -e BASE_URL=https://tickets.example.com -e JWT_SECRET=... -e CLIENTS=10000 -e RATE=1000 benchmarks/k6/fanout.js
//
// The probe's time runs from its POST to the delta carrying its seat, so it includes accepting
// and deciding the booking: an upper bound of benchmarks/run.ts's delivery lag, which starts at
// the decision. Put viewers on several load-generator machines for 10,000 clients.

import exec from 'k6/execution';
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import sse from 'k6/x/sse';
import { BASE_URL, SUBSECTION_SEATS, bookingBody, createEvent, postBooking, token, uuidv7 } from './lib.js';

const CLIENTS = Number(__ENV.CLIENTS || 10000);
const RATE = Number(__ENV.RATE || 1000);
const CONNECT_S = Number(__ENV.CONNECT_S || 20);
const DURATION_S = Number(__ENV.DURATION_S || 30);
const SUBSECTIONS = Number(__ENV.SUBSECTIONS || 50);

const snapshotMs = new Trend('sse_snapshot_ms', true);
const deltas = new Counter('sse_deltas');
const seatVisibleMs = new Trend('probe_seat_visible_ms', true);

export const options = {
  scenarios: {
    viewers: { executor: 'ramping-vus', exec: 'viewer', startVUs: 0, stages: [{ target: CLIENTS, duration: `${CONNECT_S}s` }, { target: CLIENTS, duration: `${DURATION_S + 5}s` }], gracefulRampDown: '0s' },
    bookings: { executor: 'constant-arrival-rate', exec: 'book', rate: RATE, timeUnit: '1s', duration: `${DURATION_S}s`, startTime: `${CONNECT_S + 2}s`, preAllocatedVUs: Math.max(50, RATE / 10), maxVUs: Math.max(500, RATE) },
    probe: { executor: 'per-vu-iterations', exec: 'probe', vus: 1, iterations: 1, startTime: `${CONNECT_S + 2}s`, maxDuration: `${DURATION_S + 10}s` },
  },
  thresholds: {
    probe_seat_visible_ms: ['p(99)<250'],
    'http_req_failed{scenario:bookings}': ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

export function setup() {
  // The last subsection is the probe's alone; bookings go to the others.
  const event = createEvent(`k6 fanout ${CLIENTS}`, SUBSECTIONS + 1);
  return { eventId: event.eventId, targets: event.targets.slice(0, -1), probe: event.targets[event.targets.length - 1], endAt: Date.now() + (CONNECT_S + DURATION_S + 5) * 1000 };
}

export function viewer(data) {
  const openedAt = Date.now();
  let first = true;
  const response = sse.open(`${BASE_URL}/events/${data.eventId}/stream`, { headers: { accept: 'text/event-stream' } }, (client) => {
    client.on('event', (event) => {
      if (first && event.name === 'snapshot') {
        snapshotMs.add(Date.now() - openedAt);
        first = false;
      } else if (event.name === 'delta') {
        deltas.add(1);
      }
      if (Date.now() > data.endAt) client.close();
    });
  });
  check(response, { 'event stream opened (200)': (r) => r && r.status === 200 });
}

export function book(data) {
  postBooking(bookingBody(data.eventId, data.targets[Math.floor(Math.random() * data.targets.length)]), exec.scenario.iterationInTest);
}

export function probe(data) {
  const { section, number } = data.probe;
  const seatsPerRow = 40;
  const rows = SUBSECTION_SEATS / seatsPerRow;
  const buyer = token('k6-probe', 'buyer');
  let next = 0;
  let pending = null;
  const bookNext = () => {
    if (next >= rows * seatsPerRow) return;
    const seat = { row: Math.floor(next / seatsPerRow) + 1, seat: (next % seatsPerRow) + 1 };
    next++;
    const sentAt = Date.now();
    http.post(`${BASE_URL}/bookings`, JSON.stringify({ id: uuidv7(), eventId: data.eventId, section, subsection: number, quantity: 1, seats: [seat] }), {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${buyer}` },
      tags: { name: 'POST /bookings (probe)' },
    });
    pending = { seat, sentAt };
  };
  sse.open(`${BASE_URL}/events/${data.eventId}/stream?subsections=${encodeURIComponent(`${section}-${number}`)}`, {}, (client) => {
    client.on('event', (event) => {
      if (event.name === 'snapshot') bookNext();
      if (event.name === 'delta' && pending) {
        const payload = JSON.parse(event.data);
        const mine = payload.subsections.find((sub) => sub.section === section && sub.subsection === number);
        if (mine && (mine.changes || []).some(([row, seat]) => row === pending.seat.row && seat === pending.seat.seat)) {
          seatVisibleMs.add(Date.now() - pending.sentAt);
          pending = null;
          bookNext();
        }
      }
      if (Date.now() > data.endAt - 5000) client.close();
    });
  });
}
