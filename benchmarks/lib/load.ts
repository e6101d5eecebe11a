import { setTimeout as sleep } from 'node:timers/promises';
import type { PlannedBooking } from '../../dev/testing/workload.ts';
import type { HttpClient, Tokens } from './http.ts';
import { createSamples, type Samples } from './stats.ts';

// The two ways the scenarios send bookings.
//
// Herd (closed loop): `concurrency` buyers each send their next attempt as soon as the last
// one is answered: the on-sale rush, where the measure is how fast the system drains it.
//
// Open loop: request i is due at t0 + i / rate whatever happened to earlier ones, and its
// latency is measured from that due time, not from when the generator got round to sending
// it. A stalled server therefore shows up as latency of every request that should have been
// sent meanwhile, instead of silently lowering the rate (coordinated omission). The send lag
// (actual send − due time) is reported too, so a generator that fell behind is visible.

export interface Answer {
  readonly booking: PlannedBooking;
  // performance.now() when the request was due (open loop) or first sent (herd).
  readonly sentAt: number;
  readonly answeredAt: number;
  readonly status: number;
  readonly code: string | undefined;
  readonly attempts: number;
}

export interface LoadResult {
  readonly answers: Answer[];
  readonly statuses: Map<string, number>;
  readonly latenciesMs: Samples;
  readonly sendLagMs: Samples;
  readonly firstSentAt: number;
  readonly lastAnsweredAt: number;
  readonly retries: number;
  readonly droppedByGenerator: number;
}

export function isAccepted(status: number): boolean {
  return status === 202 || status === 200;
}

function statusKey(status: number, code: string | undefined): string {
  return status === 0 ? `network error${code ? ` (${code})` : ''}` : code ? `${status} ${code}` : String(status);
}

async function sendOnce(http: HttpClient, tokens: Tokens, booking: PlannedBooking): Promise<{ status: number; code: string | undefined; retryAfterS: number | undefined }> {
  try {
    return await http.postForStatus('/bookings', booking.body, tokens.buyer(booking.user));
  } catch (error) {
    return { status: 0, code: (error as { code?: string }).code, retryAfterS: undefined };
  }
}

function createRecorder(onAnswer: ((answer: Answer) => void) | undefined) {
  const answers: Answer[] = [];
  const statuses = new Map<string, number>();
  const latenciesMs = createSamples(1 << 16);
  let lastAnsweredAt = 0;
  let accepted = 0;
  return {
    answers,
    statuses,
    latenciesMs,
    get accepted() {
      return accepted;
    },
    record(answer: Answer) {
      answers.push(answer);
      if (isAccepted(answer.status)) accepted++;
      const key = statusKey(answer.status, answer.code);
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      latenciesMs.push(answer.answeredAt - answer.sentAt);
      if (answer.answeredAt > lastAnsweredAt) lastAnsweredAt = answer.answeredAt;
      onAnswer?.(answer);
    },
    get lastAnsweredAt() {
      return lastAnsweredAt;
    },
  };
}

function startProgress(progress: (line: string) => void, line: () => string, intervalMs = 1000) {
  const timer = setInterval(() => progress(line()), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

// A 503 (overload, Kafka unavailable) or a lost connection is retried with the same id, as
// the API asks, after Retry-After (capped so a herd keeps its pace); each booking's latency
// runs from its first send to its final answer.
export async function runHerd(options: {
  http: HttpClient;
  tokens: Tokens;
  planned: readonly PlannedBooking[];
  concurrency: number;
  attemptsMax: number;
  retryDelayMsMax: number;
  onAnswer?: (answer: Answer) => void;
  progress: (line: string) => void;
}): Promise<LoadResult> {
  const recorder = createRecorder(options.onAnswer);
  let next = 0;
  let retries = 0;
  const firstSentAt = performance.now();
  const stopProgress = startProgress(options.progress, () => {
    const elapsedS = (performance.now() - firstSentAt) / 1000;
    return `  ${elapsedS.toFixed(1)} s: ${recorder.answers.length}/${options.planned.length} answered, ${recorder.accepted} accepted, ${retries} retries, ${Math.round(recorder.answers.length / elapsedS)}/s`;
  });
  const worker = async () => {
    while (next < options.planned.length) {
      const booking = options.planned[next++]!;
      const sentAt = performance.now();
      let attempts = 0;
      for (;;) {
        attempts++;
        const result = await sendOnce(options.http, options.tokens, booking);
        const retriable = result.status === 503 || result.status === 0;
        if (!retriable || attempts >= options.attemptsMax) {
          recorder.record({ booking, sentAt, answeredAt: performance.now(), status: result.status, code: result.code, attempts });
          break;
        }
        retries++;
        await sleep(Math.min(options.retryDelayMsMax, (result.retryAfterS ?? 0.1) * 1000));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  stopProgress();
  return { answers: recorder.answers, statuses: recorder.statuses, latenciesMs: recorder.latenciesMs, firstSentAt, lastAnsweredAt: recorder.lastAnsweredAt, retries, sendLagMs: createSamples(1), droppedByGenerator: 0 };
}

// Open loop at `rate` per second for `durationS`. Requests beyond `inFlightMax` unanswered
// ones are not sent and count as errors ("dropped by the generator"): the server was not
// keeping up, and queueing them without bound would only move the stall into the generator.
export async function runOpenLoop(options: {
  http: HttpClient;
  tokens: Tokens;
  rate: number;
  durationS: number;
  booking: (index: number) => PlannedBooking;
  inFlightMax: number;
  onAnswer?: (answer: Answer) => void;
  progress: (line: string) => void;
}): Promise<LoadResult> {
  const recorder = createRecorder(options.onAnswer);
  const sendLagMs = createSamples(1 << 16);
  const total = Math.round(options.rate * options.durationS);
  const intervalMs = 1000 / options.rate;
  const startAt = performance.now() + 20;
  let index = 0;
  let inFlight = 0;
  let dropped = 0;
  const inFlightRequests = new Set<Promise<void>>();
  const stopProgress = startProgress(options.progress, () => {
    const elapsedS = Math.max(0.001, (performance.now() - startAt) / 1000);
    const errors = recorder.answers.length - recorder.accepted;
    return `  ${elapsedS.toFixed(1)} s: ${index}/${total} sent (${Math.round(index / elapsedS)}/s), ${recorder.answers.length} answered, ${errors} errors, ${inFlight} in flight`;
  });

  const fire = (dueAt: number, booking: PlannedBooking) => {
    sendLagMs.push(performance.now() - dueAt);
    inFlight++;
    const request = sendOnce(options.http, options.tokens, booking).then((result) => {
      inFlight--;
      recorder.record({ booking, sentAt: dueAt, answeredAt: performance.now(), status: result.status, code: result.code, attempts: 1 });
    });
    inFlightRequests.add(request);
    void request.finally(() => inFlightRequests.delete(request));
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (index < total && startAt + index * intervalMs <= now) {
        const dueAt = startAt + index * intervalMs;
        const booking = options.booking(index);
        index++;
        if (inFlight >= options.inFlightMax) {
          dropped++;
          recorder.record({ booking, sentAt: dueAt, answeredAt: dueAt, status: 0, code: 'GENERATOR_IN_FLIGHT_LIMIT', attempts: 0 });
          continue;
        }
        fire(dueAt, booking);
      }
      if (index >= total) return resolve();
      setTimeout(tick, Math.max(0, startAt + index * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, startAt - performance.now()));
  });
  await Promise.all(inFlightRequests);
  stopProgress();
  // Dropped requests are errors, not latencies: take them out of the latency sample.
  const latencies = createSamples(recorder.answers.length);
  for (const answer of recorder.answers) if (answer.attempts > 0) latencies.push(answer.answeredAt - answer.sentAt);
  return { answers: recorder.answers, statuses: recorder.statuses, latenciesMs: latencies, sendLagMs, firstSentAt: startAt, lastAnsweredAt: recorder.lastAnsweredAt, retries: 0, droppedByGenerator: dropped };
}
