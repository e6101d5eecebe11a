import { setTimeout as sleep } from 'node:timers/promises';
import { planBookings, type PlannedBooking } from '../../dev/testing/workload.ts';
import { buyerOf, describeBuyers, type BuyerPolicy } from '../lib/buyers.ts';
import { createBookingWatcher } from '../lib/booking-watch.ts';
import { checkTargetInvariants } from '../lib/check-invariants.ts';
import type { RunContext } from '../lib/context.ts';
import { createEvent, planEvent, seatsFor, type CreatedEvent } from '../lib/event-setup.ts';
import { isAccepted, runOpenLoop, type LoadResult } from '../lib/load.ts';
import { collectOutcomes, type OutcomeReport } from '../lib/outcomes.ts';
import { startServerStats, statsPerBooking } from '../lib/server-stats.ts';
import { startCpuMeter, type CpuUse } from '../lib/processes.ts';
import { machineCpuOf, perBooking, type ScenarioResult, type TargetCheck } from '../lib/report.ts';
import { createSamples, round, roundSummary, summarize, type Summary } from '../lib/stats.ts';
import { warmUp } from './warm-up.ts';

// Steady traffic: an open-loop arrival rate R for a duration against an event too big to sell
// out (at most `fillMax` of its seats are asked for), so every booking is a real seat search
// and none is a cheap sold-out rejection. Then a search for the highest R whose accept p99
// stays within the target with zero errors, in short steps of increasing R.

export interface SustainedParameters {
  readonly rate: number;
  readonly durationS: number;
  readonly buyers: BuyerPolicy;
  readonly subsectionSeats: number;
  readonly manualShare: number;
  readonly sseSample: number;
  readonly seed: number;
  readonly connections: number;
  readonly inFlightMax: number;
  readonly acceptP99TargetMs: number;
  readonly search: { readonly from: number; readonly step: number; readonly to: number; readonly durationS: number } | undefined;
  readonly decideTimeoutMs: number;
  readonly checkInvariants: boolean;
  // Overrides the automatic size (for the event-size scaling runs).
  readonly eventSeats: number | undefined;
}

const fillMax = 0.6;
const eventSeatsMax = 1_000_000;
const chunkBookings = 1000;
// Issue 7's targets for this scenario.
const targetRate = 2000;
const endToEndP99TargetMs = 200;
const searchTargetRate = 8000;

interface StepResult {
  readonly rate: number;
  readonly durationS: number;
  readonly event: CreatedEvent;
  readonly load: LoadResult;
  readonly accepted: number;
  readonly errors: number;
  readonly accept: Summary;
  readonly endToEnd: Summary;
  readonly sse: Summary;
  readonly sseProblems: number;
  readonly outcomes: OutcomeReport;
  readonly cpu: CpuUse;
  readonly work: Record<string, number>;
  readonly violations: string[] | undefined;
  readonly passed: boolean;
}

// Bookings are planned a thousand at a time as the run needs them, so an hour-long run does
// not hold every request in memory before it starts.
function bookingSource(event: CreatedEvent, parameters: SustainedParameters): (index: number) => PlannedBooking {
  const eventId = event.id;
  let chunk: PlannedBooking[] = [];
  let chunkStart = -chunkBookings;
  return (index) => {
    if (index >= chunkStart + chunkBookings) {
      chunkStart = Math.floor(index / chunkBookings) * chunkBookings;
      // Rotate the start subsection per chunk so every subsection gets its share.
      const offset = (chunkStart / chunkBookings) % event.plan.targets.length;
      const subsections = [...event.plan.targets.slice(offset), ...event.plan.targets.slice(0, offset)];
      chunk = planBookings({ eventId, subsections, count: chunkBookings, users: 1, manualShare: parameters.manualShare, singlesAtEnd: 0, seed: parameters.seed + chunkStart })
        .map((booking, offsetInChunk) => ({ ...booking, user: buyerOf(parameters.buyers, eventId, chunkStart + offsetInChunk) }));
    }
    return chunk[index - chunkStart]!;
  };
}

async function runStep(context: RunContext, parameters: SustainedParameters, rate: number, durationS: number, options: { invariants: boolean }): Promise<StepResult> {
  const { say } = context;
  const bookings = Math.round(rate * durationS);
  const seats = parameters.eventSeats ?? seatsFor(bookings, { fillMax, subsectionSeats: parameters.subsectionSeats, seatsMax: eventSeatsMax });
  if (bookings * 2.5 > seats * 0.9) context.say(`  note: ${bookings} bookings ask for about ${Math.round(bookings * 2.5)} seats of ${seats}: the event may sell out`);
  const plan = planEvent({ name: `benchmark sustained ${rate}/s`, seats, subsectionSeats: parameters.subsectionSeats });
  const event = await createEvent(context.http, context.tokens, plan);
  say(`sustained ${rate}/s for ${durationS} s: event of ${plan.seats} seats (${plan.targets.length} subsections) created in ${event.createMs.toFixed(0)} ms`);
  await warmUp(context, event.id, Math.min(parameters.connections, 256));

  const next = bookingSource(event, parameters);
  const sampleEvery = Math.max(1, Math.floor(bookings / Math.max(1, parameters.sseSample)));
  const watcher = createBookingWatcher(context.target.url);
  const syncLatencies = createSamples();
  const cpu = startCpuMeter(context.target.cpuGroups);
  const work = await startServerStats({ pool: context.pool, redisUrl: context.target.redisUrl });
  let answered = 0;
  const load = await runOpenLoop({
    http: context.http,
    tokens: context.tokens,
    rate,
    durationS,
    booking: next,
    inFlightMax: parameters.inFlightMax,
    progress: say,
    onAnswer(answer) {
      if (answered++ % sampleEvery !== 0) return;
      if (answer.status === 202) watcher.watch(answer.booking.body.id, context.tokens.buyer(answer.booking.user), answer.sentAt);
      else if (answer.status === 200) syncLatencies.push(answer.answeredAt - answer.sentAt);
    },
  });
  const acceptedAnswers = load.answers.filter((answer) => isAccepted(answer.status));
  const outcomes = await collectOutcomes({
    eventId: event.id,
    accepted: acceptedAnswers.map((answer) => ({ id: answer.booking.body.id, user: answer.booking.user })),
    pool: context.pool,
    http: context.http,
    tokens: context.tokens,
    timeoutMs: parameters.decideTimeoutMs,
    progress: say,
  });
  const cpuUse = cpu.stop();
  const workDone = await work.stop();
  const sse = await watcher.finish(10_000);
  const endToEnd = createSamples(acceptedAnswers.length);
  for (const answer of acceptedAnswers) {
    const outcome = outcomes.outcomes.get(answer.booking.body.id);
    if (outcome) endToEnd.push(outcome.decidedAtMs - (performance.timeOrigin + answer.sentAt));
  }
  let violations: string[] | undefined;
  if (options.invariants && context.pool) {
    say('  checking invariants');
    violations = (await checkTargetInvariants(context, event.id, acceptedAnswers.map((answer) => answer.booking.body.id))).violations;
  }
  const accept = summarize(load.latenciesMs.values());
  const errors = load.answers.length - acceptedAnswers.length;
  const result: StepResult = {
    rate,
    durationS,
    event,
    load,
    accepted: acceptedAnswers.length,
    errors,
    accept,
    endToEnd: summarize(endToEnd.values()),
    sse: syncLatencies.length > 0 ? summarize(syncLatencies.values()) : sse.summary,
    sseProblems: sse.failed + sse.timedOut,
    outcomes,
    cpu: cpuUse,
    work: workDone,
    violations,
    passed: errors === 0 && accept.p99 <= parameters.acceptP99TargetMs && outcomes.undecided === 0,
  };
  say(`  ${rate}/s: accept p99 ${accept.p99.toFixed(1)} ms, ${errors} errors, end-to-end p99 ${result.endToEnd.p99.toFixed(1)} ms → ${result.passed ? 'within' : 'outside'} the target`);
  return result;
}

export async function runSustained(context: RunContext, parameters: SustainedParameters): Promise<ScenarioResult[]> {
  const main = await runStep(context, parameters, parameters.rate, parameters.durationS, { invariants: parameters.checkInvariants });
  const steps: StepResult[] = [];
  if (parameters.search) {
    const { from, step, to, durationS } = parameters.search;
    context.say(`sustained: searching for the highest rate with accept p99 ≤ ${parameters.acceptP99TargetMs} ms and zero errors (${from} to ${to} by ${step}, ${durationS} s each)`);
    for (let rate = from; rate <= to; rate += step) {
      await sleep(1000);
      const result = await runStep(context, parameters, rate, durationS, { invariants: false });
      steps.push(result);
      if (!result.passed) break;
    }
  }
  const results: ScenarioResult[] = [toResult(context, parameters, main, steps)];
  return results;
}

function toResult(context: RunContext, parameters: SustainedParameters, main: StepResult, steps: readonly StepResult[]): ScenarioResult {
  const failures: string[] = [];
  const notes: string[] = [];
  const sendLag = summarize(main.load.sendLagMs.values());
  for (const violation of main.violations ?? []) failures.push(`invariant: ${violation}`);
  if (main.outcomes.undecided > 0) failures.push(`${main.outcomes.undecided} accepted bookings were not decided within ${parameters.decideTimeoutMs} ms`);
  if (main.accepted === 0) failures.push('no booking was accepted');
  if (main.sseProblems > 0) failures.push(`${main.sseProblems} booking streams of the SSE sample failed or never showed a decision`);
  if (sendLag.p99 > 5) notes.push(`the load generator fell behind its schedule (send lag p99 ${sendLag.p99.toFixed(1)} ms); latencies still count from the due time`);
  if (main.load.droppedByGenerator > 0) notes.push(`${main.load.droppedByGenerator} requests were not sent because ${parameters.inFlightMax} were already unanswered (counted as errors)`);
  const passing = steps.filter((step) => step.passed);
  const highest = passing.length > 0 ? Math.max(...passing.map((step) => step.rate)) : undefined;
  const firstFailure = steps.find((step) => !step.passed);
  const targets: TargetCheck[] = [];
  if (main.rate >= targetRate) {
    targets.push({ name: `accept p99 ≤ ${parameters.acceptP99TargetMs} ms at ${main.rate}/s`, met: main.accept.p99 <= parameters.acceptP99TargetMs, detail: `${main.accept.p99.toFixed(1)} ms` });
    targets.push({ name: `end-to-end p99 ≤ ${endToEndP99TargetMs} ms at ${main.rate}/s`, met: main.endToEnd.p99 <= endToEndP99TargetMs, detail: `${main.endToEnd.p99.toFixed(1)} ms (KAFKA_MAX_WAIT_MS ${context.target.settings.KAFKA_MAX_WAIT_MS ?? 'n/a'})` });
  }
  if (parameters.search) {
    targets.push({ name: `highest zero-error rate with accept p99 ≤ ${parameters.acceptP99TargetMs} ms ≥ ${searchTargetRate}/s`, met: (highest ?? 0) >= searchTargetRate, detail: highest === undefined ? 'no step passed' : `${highest}/s${highest === parameters.search.to ? ' (search ceiling)' : ''}` });
  }
  return {
    scenario: 'sustained',
    target: { label: context.target.label, url: context.target.url, settingsSource: context.target.settingsSource, settings: context.target.settings },
    machine: context.machine,
    parameters: {
      rate: main.rate,
      'duration s': main.durationS,
      'event seats': main.event.plan.seats,
      layout: `${main.event.plan.targets.length} subsections of ${main.event.plan.rows} rows × ${main.event.plan.seatsPerRow} seats, ${Math.round((main.rate * main.durationS * 250) / main.event.plan.seats)}% of the seats asked for`,
      buyers: describeBuyers(parameters.buyers, main.rate * main.durationS),
      'manual picks': `${Math.round(parameters.manualShare * 100)}%`,
      connections: parameters.connections,
      'SSE sample': parameters.sseSample,
      search: parameters.search ? `${parameters.search.from} to ${parameters.search.to} by ${parameters.search.step}, ${parameters.search.durationS} s each, stops at the first failing step` : 'off',
      seed: parameters.seed,
    },
    results: {
      'event creation ms': round(main.event.createMs),
      sent: main.load.answers.length,
      accepted: main.accepted,
      errors: main.errors,
      statuses: Object.fromEntries(main.load.statuses),
      'accept latency (from due time)': roundSummary(main.accept),
      'end-to-end, all (due time → decidedAt)': roundSummary(main.endToEnd),
      [main.sse.count > 0 && main.load.statuses.has('200') ? 'end-to-end, sample (the synchronous answer)' : 'end-to-end, SSE sample (due time → decided message)']: roundSummary(main.sse),
      'generator send lag': roundSummary(sendLag),
      'decisions drained after the last send ms': round(main.outcomes.waitedMs),
      ...(parameters.search ? {
        'search steps': steps.map((step) => `${step.rate}/s: p99 ${step.accept.p99.toFixed(1)} ms, ${step.errors} errors, e2e p99 ${step.endToEnd.p99.toFixed(1)} ms ${step.passed ? '✓' : '✗'}`),
        'highest passing rate': highest ?? null,
        'first failing step': firstFailure ? `${firstFailure.rate}/s (${firstFailure.errors > 0 ? `${firstFailure.errors} errors: ${JSON.stringify(Object.fromEntries(firstFailure.load.statuses))}` : `p99 ${firstFailure.accept.p99.toFixed(1)} ms`}); CPU s ${JSON.stringify(firstFailure.cpu.seconds)}` : null,
      } : {}),
    },
    cpuSeconds: main.cpu.seconds,
    idleCpuPerS: context.idleCpuPerS,
    idleMachineBusyPercent: context.idleMachineBusyPercent,
    machineCpu: machineCpuOf(main.cpu),
    cpuUsPerBooking: perBooking(main.cpu, context.idleCpuPerS, main.accepted),
    workPerBooking: statsPerBooking(main.work, main.accepted),
    ...(main.violations ? { invariantViolations: main.violations } : {}),
    targets,
    failures,
    notes,
  };
}
