import { planBookings } from '../../dev/testing/workload.ts';
import { buyerOf, describeBuyers, type BuyerPolicy } from '../lib/buyers.ts';
import { createBookingWatcher } from '../lib/booking-watch.ts';
import { checkTargetInvariants } from '../lib/check-invariants.ts';
import type { RunContext } from '../lib/context.ts';
import { createEvent, planEvent } from '../lib/event-setup.ts';
import { isAccepted, runHerd } from '../lib/load.ts';
import { collectOutcomes } from '../lib/outcomes.ts';
import { startServerStats, statsPerBooking } from '../lib/server-stats.ts';
import { startCpuMeter } from '../lib/processes.ts';
import { machineCpuOf, perBooking, type ScenarioResult, type TargetCheck } from '../lib/report.ts';
import { createSamples, round, roundSummary, summarize } from '../lib/stats.ts';
import { warmUp } from './warm-up.ts';

// The on-sale rush: an event of N seats, M booking attempts (best available, 1–4 seats, with
// a share of manual picks colliding on the same front-row seats) from U buyers who each keep
// one request in flight, until every attempt is answered and every accepted booking decided.
// Then the invariants: no seat sold twice, every accepted booking decided, API = Postgres.

export interface SelloutParameters {
  readonly seats: number;
  readonly attempts: number;
  readonly buyers: BuyerPolicy;
  readonly concurrency: number;
  readonly subsectionSeats: number;
  readonly manualShare: number;
  readonly singlesShare: number;
  readonly sseSample: number;
  readonly seed: number;
  readonly decideTimeoutMs: number;
}

// A booking that holds its seats (PAID once the product has payments).
function holdsSeats(status: string): boolean {
  return status === 'RESERVED' || status === 'PAID';
}

// Issue 7's target for this scenario.
const decidedPerSTarget = 5000;
const decidedTargetSeatsMin = 20_000;

export async function runSellout(context: RunContext, parameters: SelloutParameters): Promise<ScenarioResult> {
  const { say } = context;
  const failures: string[] = [];
  const notes: string[] = [];
  const plan = planEvent({ name: `benchmark sellout ${parameters.seats}`, seats: parameters.seats, subsectionSeats: parameters.subsectionSeats });
  say(`sellout: creating an event of ${plan.seats} seats (${plan.targets.length} subsections of ${plan.rows} × ${plan.seatsPerRow})`);
  const event = await createEvent(context.http, context.tokens, plan);
  say(`  event ${event.id} created in ${event.createMs.toFixed(0)} ms`);

  const planned = planBookings({
    eventId: event.id,
    subsections: plan.targets,
    count: parameters.attempts,
    users: 1,
    manualShare: parameters.manualShare,
    singlesAtEnd: Math.round(parameters.attempts * parameters.singlesShare),
    seed: parameters.seed,
  }).map((booking, index) => ({ ...booking, user: buyerOf(parameters.buyers, event.id, index) }));
  for (const booking of planned) context.tokens.buyer(booking.user);
  await warmUp(context, event.id, parameters.concurrency);

  const sampleEvery = Math.max(1, Math.floor(parameters.attempts / Math.max(1, parameters.sseSample)));
  const sampled = new Set(planned.filter((_, index) => index % sampleEvery === 0).slice(0, parameters.sseSample).map((booking) => booking.body.id));
  const watcher = createBookingWatcher(context.target.url);
  // A synchronous system answers with the decision itself: its end-to-end is the answer.
  const syncLatencies = createSamples();

  say(`sellout: ${parameters.attempts} attempts from ${describeBuyers(parameters.buyers, parameters.attempts)} buyers, ${parameters.concurrency} in flight`);
  const cpu = startCpuMeter(context.target.cpuGroups);
  const work = await startServerStats({ pool: context.pool, redisUrl: context.target.redisUrl });
  const load = await runHerd({
    http: context.http,
    tokens: context.tokens,
    planned,
    concurrency: parameters.concurrency,
    attemptsMax: 10,
    retryDelayMsMax: 1000,
    progress: say,
    onAnswer(answer) {
      if (!sampled.has(answer.booking.body.id)) return;
      if (answer.status === 202) watcher.watch(answer.booking.body.id, context.tokens.buyer(answer.booking.user), answer.sentAt);
      else if (answer.status === 200) syncLatencies.push(answer.answeredAt - answer.sentAt);
    },
  });
  const accepted = load.answers.filter((answer) => isAccepted(answer.status));
  const acceptDurationS = (load.lastAnsweredAt - load.firstSentAt) / 1000;
  say(`  all ${planned.length} attempts answered in ${acceptDurationS.toFixed(2)} s; ${accepted.length} accepted; waiting for decisions`);

  const outcomes = await collectOutcomes({
    eventId: event.id,
    accepted: accepted.map((answer) => ({ id: answer.booking.body.id, user: answer.booking.user })),
    pool: context.pool,
    http: context.http,
    tokens: context.tokens,
    timeoutMs: parameters.decideTimeoutMs,
    progress: say,
  });
  const cpuUse = cpu.stop();
  const workDone = await work.stop();
  const sse = await watcher.finish(10_000);

  const firstSentEpochMs = performance.timeOrigin + load.firstSentAt;
  const endToEnd = createSamples(accepted.length);
  let lastDecidedEpochMs = 0;
  let reserved = 0;
  let seatsSold = 0;
  const reasons = new Map<string, number>();
  for (const answer of accepted) {
    const outcome = outcomes.outcomes.get(answer.booking.body.id);
    if (!outcome) continue;
    endToEnd.push(outcome.decidedAtMs - (performance.timeOrigin + answer.sentAt));
    lastDecidedEpochMs = Math.max(lastDecidedEpochMs, outcome.decidedAtMs);
    if (holdsSeats(outcome.status)) {
      reserved++;
      seatsSold += outcome.seats.length;
    } else {
      reasons.set(outcome.reason ?? '?', (reasons.get(outcome.reason ?? '?') ?? 0) + 1);
    }
  }
  const decided = outcomes.outcomes.size;
  const decideDurationS = (lastDecidedEpochMs - firstSentEpochMs) / 1000;
  const decidedPerS = decided / decideDurationS;

  say('sellout: checking invariants');
  let violations: string[] | undefined;
  if (context.pool) {
    const report = await checkTargetInvariants(context, event.id, accepted.map((answer) => answer.booking.body.id));
    violations = report.violations;
    if (report.seatsTaken !== seatsSold) violations.push(`seats sold: Postgres says ${report.seatsTaken}, outcomes say ${seatsSold}`);
  } else {
    notes.push('no database access: only I2 (every accepted booking decided, through the API) was checked');
    violations = outcomes.undecided > 0 ? [`I2: ${outcomes.undecided} accepted bookings not decided`] : [];
  }
  for (const violation of violations) failures.push(`invariant: ${violation}`);
  if (outcomes.undecided > 0) failures.push(`${outcomes.undecided} accepted bookings were not decided within ${parameters.decideTimeoutMs} ms`);
  if (accepted.length === 0) failures.push('no booking was accepted');
  if (sse.failed > 0) failures.push(`${sse.failed} booking streams of the SSE sample failed`);
  if (sse.timedOut > 0) failures.push(`${sse.timedOut} booking streams of the SSE sample never showed a decision`);
  const errors = load.answers.length - accepted.length;
  if (errors > 0) notes.push(`${errors} attempts were refused after ${10} tries; see statuses`);

  const sseSummary = syncLatencies.length > 0 ? summarize(syncLatencies.values()) : sse.summary;
  const targets: TargetCheck[] = [];
  // The throughput target is for the size; smaller events finish before the JIT warms.
  if (plan.seats >= decidedTargetSeatsMin) {
    targets.push({ name: `decided ≥ ${decidedPerSTarget.toLocaleString('en-US')} bookings/s`, met: decidedPerS >= decidedPerSTarget, detail: `${Math.round(decidedPerS)} bookings/s` });
  }
  targets.push({ name: 'zero oversell, zero undecided', met: (violations?.length ?? 0) === 0 && outcomes.undecided === 0, detail: `${violations?.length ?? 0} violations, ${outcomes.undecided} undecided` });

  return {
    scenario: 'sellout',
    target: { label: context.target.label, url: context.target.url, settingsSource: context.target.settingsSource, settings: context.target.settings },
    machine: context.machine,
    parameters: {
      seats: plan.seats,
      layout: `${plan.targets.length} subsections of ${plan.rows} rows × ${plan.seatsPerRow} seats`,
      attempts: parameters.attempts,
      buyers: describeBuyers(parameters.buyers, parameters.attempts),
      'in flight': parameters.concurrency,
      'manual picks': `${Math.round(parameters.manualShare * 100)}% (front-row seats 1–4, colliding on purpose)`,
      'single-seat attempts at the end': `${Math.round(parameters.singlesShare * 100)}%`,
      'SSE sample': sampled.size,
      seed: parameters.seed,
    },
    results: {
      'event creation ms': round(event.createMs),
      'attempts answered': load.answers.length,
      accepted: accepted.length,
      statuses: Object.fromEntries(load.statuses),
      retries: load.retries,
      'accepted per s (first POST → last answer)': round(accepted.length / acceptDurationS),
      'accept latency': roundSummary(summarize(load.latenciesMs.values())),
      decided,
      reserved,
      rejected: Object.fromEntries(reasons),
      'seats sold': `${seatsSold} of ${plan.seats}${seatsSold === plan.seats ? ' (sold out)' : ''}`,
      'decided per s (first POST → last decidedAt)': round(decidedPerS),
      'seats sold per s': round(seatsSold / decideDurationS),
      'sellout duration s': round(decideDurationS, 2),
      'end-to-end, all (POST → decidedAt)': roundSummary(summarize(endToEnd.values())),
      [syncLatencies.length > 0 ? 'end-to-end, sample (the synchronous answer)' : 'end-to-end, SSE sample (POST → decided message)']: roundSummary(sseSummary),
      'outcomes read from': outcomes.source,
    },
    cpuSeconds: cpuUse.seconds,
    idleCpuPerS: context.idleCpuPerS,
    idleMachineBusyPercent: context.idleMachineBusyPercent,
    machineCpu: machineCpuOf(cpuUse),
    cpuUsPerBooking: perBooking(cpuUse, context.idleCpuPerS, decided),
    workPerBooking: statsPerBooking(workDone, decided),
    invariantViolations: violations,
    targets,
    failures,
    notes,
  };
}
