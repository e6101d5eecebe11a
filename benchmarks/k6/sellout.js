// Sellout (the on-sale spike) for real deployments: an event of SEATS seats, ATTEMPTS booking
// attempts arriving at a rate that ramps to PEAK_RATE per second, the last tenth asking for one
// seat each so the leftovers sell; then the event's counts are watched until nothing changes.
//
//   k6 run -e BASE_URL=https://tickets.example.com -e JWT_SECRET=... -e SEATS=20000 benchmarks/k6/sellout.js
//
// k6 sees what a client sees: accepted requests (202, or 200 from a synchronous system) and
// the event's seat counts. The sellout duration is from the first request to the moment the
// event is sold out (or its counts stop moving). Correctness (no seat sold twice, every
// accepted booking decided) needs the database: run benchmarks/run.ts for that.

import exec from 'k6/execution';
import { Gauge } from 'k6/metrics';
import { SUBSECTION_SEATS, bookingBody, createEvent, postBooking, waitForDecisions } from './lib.js';

const SEATS = Number(__ENV.SEATS || 20000);
const ATTEMPTS = Number(__ENV.ATTEMPTS || 2 * SEATS);
const PEAK_RATE = Number(__ENV.PEAK_RATE || 5000);
const RAMP_S = Number(__ENV.RAMP_S || 2);
// Long enough at the peak that the stages offer ATTEMPTS iterations (the ramp offers half its
// peak rate on average); iterations beyond ATTEMPTS return at once.
const HOLD_S = Math.max(1, Math.ceil((ATTEMPTS - (PEAK_RATE * RAMP_S) / 2) / PEAK_RATE));

const selloutSeconds = new Gauge('sellout_duration_s');
const seatsTaken = new Gauge('sellout_seats_taken');

export const options = {
  scenarios: {
    onsale: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Number(__ENV.VUS || 2000),
      maxVUs: Number(__ENV.MAX_VUS || 5000),
      stages: [
        { target: PEAK_RATE, duration: `${RAMP_S}s` },
        { target: PEAK_RATE, duration: `${HOLD_S}s` },
      ],
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // In a herd the accept queue is the latency; this bounds it, it does not expect 50 ms.
    'http_req_duration{name:POST /bookings}': ['p(99)<1000'],
  },
};

export function setup() {
  const event = createEvent(`k6 sellout ${SEATS}`, Math.ceil(SEATS / SUBSECTION_SEATS));
  return { ...event, startedAt: Date.now() };
}

export default function (data) {
  const iteration = exec.scenario.iterationInTest;
  if (iteration >= ATTEMPTS) return;
  const target = data.targets[iteration % data.targets.length];
  postBooking(bookingBody(data.eventId, target, { single: iteration >= ATTEMPTS * 0.9 }), iteration);
}

export function teardown(data) {
  const outcome = waitForDecisions(data.eventId, data.targets.length * SUBSECTION_SEATS);
  const durationS = (Date.now() - data.startedAt) / 1000 - (outcome.soldOut ? 0 : 3);
  selloutSeconds.add(durationS);
  seatsTaken.add(outcome.taken);
  console.log(`event ${data.eventId}: ${outcome.taken} seats taken${outcome.soldOut ? ' (sold out)' : ''} after ${durationS.toFixed(2)} s`);
}
