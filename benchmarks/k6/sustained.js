// Sustained load for real deployments: a constant arrival rate RATE for DURATION against an
// event too big to sell out (at most 60% of its seats are asked for), with the issue's
// thresholds: fewer than 1% failed requests and accept p99 under 50 ms. To find the highest
// rate that passes, run it at increasing RATE (k6 stops at nothing on its own).
//
//   k6 run -e BASE_URL=https://tickets.example.com -e JWT_SECRET=... -e RATE=2000 -e DURATION=60s benchmarks/k6/sustained.js

import exec from 'k6/execution';
import { SUBSECTION_SEATS, bookingBody, createEvent, postBooking } from './lib.js';

const RATE = Number(__ENV.RATE || 2000);
const DURATION = __ENV.DURATION || '60s';
const durationS = Number.parseInt(DURATION, 10) * (DURATION.endsWith('m') ? 60 : 1);
const subsectionsMax = 1000;

export const options = {
  scenarios: {
    sustained: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Number(__ENV.VUS || Math.max(100, RATE / 10)),
      maxVUs: Number(__ENV.MAX_VUS || Math.max(1000, RATE)),
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:POST /bookings}': [`p(99)<${Number(__ENV.P99_MS || 50)}`],
    // k6 could not keep the schedule: the server is too slow (or k6 has too few VUs).
    dropped_iterations: ['count==0'],
  },
};

export function setup() {
  const seatsNeeded = (RATE * durationS * 2.5) / 0.6;
  return createEvent(`k6 sustained ${RATE}/s`, Math.min(subsectionsMax, Math.ceil(seatsNeeded / SUBSECTION_SEATS)));
}

export default function (data) {
  postBooking(bookingBody(data.eventId, data.targets[Math.floor(Math.random() * data.targets.length)]), exec.scenario.iterationInTest);
}
