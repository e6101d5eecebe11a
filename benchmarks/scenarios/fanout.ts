import { setTimeout as sleep } from 'node:timers/promises';
import { planBookings, type PlannedBooking } from '../../dev/testing/workload.ts';
import { buyerOf, type BuyerPolicy } from '../lib/buyers.ts';
import type { RunContext } from '../lib/context.ts';
import { createEvent, planEvent } from '../lib/event-setup.ts';
import { frameChanges, openEventStream, type StreamClient, type StreamClientStats } from '../lib/event-stream-clients.ts';
import { isAccepted, runOpenLoop } from '../lib/load.ts';
import { collectOutcomes } from '../lib/outcomes.ts';
import { mebibytes, rssBytesOf, sampleRss, startCpuMeter } from '../lib/processes.ts';
import { startServerStats, statsPerBooking } from '../lib/server-stats.ts';
import { machineCpuOf, perBooking, type ScenarioResult, type TargetCheck } from '../lib/report.ts';
import { createHistogram, createSamples, round, roundSummary, summarize } from '../lib/stats.ts';
import { warmUp } from './warm-up.ts';

// K live seat-map viewers (GET /events/:id/stream) on one ticketing process while bookings
// flow at R per second. Delivery lag of a seat change = when the delta frame carrying it
// reached a client − the booking's decidedAt (stamped by the reservation service just before
// its Postgres write), so it includes the write, the Redis Pub/Sub hop, the coalescing window
// (SSE_DELTA_FLUSH_MS) and the time to write the frame to every socket. Every client's every
// frame is measured; per frame, 16 of its changes (evenly spaced in decision time, weighted
// by the frame's change count) stand for all of them, which keeps the arithmetic at
// clients × frames × 16 instead of × changes.

export interface FanoutParameters {
  readonly clients: number;
  readonly rate: number;
  readonly durationS: number;
  readonly seats: number;
  readonly subsectionSeats: number;
  readonly subsectionsPerClient: number;
  readonly connectPerS: number;
  readonly buyers: BuyerPolicy;
  readonly seed: number;
  readonly connections: number;
  readonly decideTimeoutMs: number;
}

const referencesPerScope = 2;
const changesPerFrameSampled = 16;
const rssIntervalMs = 250;
const snapshotTimeoutMs = 180_000;
// Issue 7's targets for this scenario.
const lagP99TargetMs = 250;
const rssTargetMiB = 600;

export async function runFanout(context: RunContext, parameters: FanoutParameters): Promise<ScenarioResult> {
  const { say } = context;
  const failures: string[] = [];
  const notes: string[] = [];
  const plan = planEvent({ name: `benchmark fanout ${parameters.clients}`, seats: parameters.seats, subsectionSeats: parameters.subsectionSeats });
  const seatsAskedFor = parameters.rate * parameters.durationS * 2.5;
  if (seatsAskedFor > plan.seats * 0.9) notes.push(`the bookings ask for about ${Math.round(seatsAskedFor)} seats of ${plan.seats}: the event may sell out and the tail of the run carry no seat changes`);
  const event = await createEvent(context.http, context.tokens, plan);
  say(`fanout: event ${event.id} of ${plan.seats} seats (${plan.targets.length} subsections)`);
  await warmUp(context, event.id, Math.min(parameters.connections, 64));

  const pid = context.target.servicePid;
  if (pid === undefined) notes.push('the ticketing process was not found on this machine (pass --pid): its memory is not reported');
  const rssBefore = pid === undefined ? undefined : rssBytesOf(pid);
  const rss = pid === undefined ? undefined : sampleRss(pid, rssIntervalMs);

  const url = new URL(context.target.url);
  const scopes = scopeQueries(plan.targets.map((target) => `${target.section}-${target.number}`), parameters.subsectionsPerClient, parameters.clients);
  const clients: StreamClient[] = [];
  const seenPerScope = new Map<string, number>();
  let closedDuringRun = 0;
  say(`fanout: opening ${parameters.clients} event streams at ${parameters.connectPerS}/s (${scopes.distinct} distinct scopes)`);
  const connectStartedAt = performance.now();
  const batchIntervalMs = 10;
  const perBatch = Math.max(1, Math.round((parameters.connectPerS * batchIntervalMs) / 1000));
  for (let index = 0; index < parameters.clients; index++) {
    const scope = scopes.of(index);
    const seen = seenPerScope.get(scope.key) ?? 0;
    seenPerScope.set(scope.key, seen + 1);
    clients.push(openEventStream({
      host: url.hostname,
      port: Number(url.port || 80),
      path: `/events/${event.id}/stream${scope.query}`,
      scopeKey: scope.key,
      reference: seen < referencesPerScope,
      onClosed: () => closedDuringRun++,
    }));
    if ((index + 1) % perBatch === 0) await sleep(batchIntervalMs);
  }
  const snapshots = await Promise.race([
    Promise.allSettled(clients.map((client) => client.snapshot)),
    sleep(snapshotTimeoutMs).then(() => undefined),
  ]);
  const connectSeconds = (performance.now() - connectStartedAt) / 1000;
  const connected = snapshots ? snapshots.filter((outcome) => outcome.status === 'fulfilled').length : clients.filter((client) => client.stats().snapshotAt !== undefined).length;
  const statusCounts = new Map<string, number>();
  for (const client of clients) {
    const stats = client.stats();
    const key = stats.snapshotAt !== undefined ? 'snapshot received' : stats.error ?? (stats.status ? `HTTP ${stats.status}` : 'no answer');
    statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
  }
  say(`  ${connected}/${parameters.clients} streams have their snapshot after ${connectSeconds.toFixed(1)} s`);
  const rssConnected = pid === undefined ? undefined : rssBytesOf(pid);
  const closedBeforeBookings = closedDuringRun;

  say(`fanout: booking at ${parameters.rate}/s for ${parameters.durationS} s`);
  const cpu = startCpuMeter(context.target.cpuGroups);
  const work = await startServerStats({ pool: context.pool, redisUrl: context.target.redisUrl });
  const bookingsFor = bookingSource(event.id, plan.targets, parameters);
  const load = await runOpenLoop({ http: context.http, tokens: context.tokens, rate: parameters.rate, durationS: parameters.durationS, booking: bookingsFor, inFlightMax: 10_000, progress: say });
  const accepted = load.answers.filter((answer) => isAccepted(answer.status));
  const outcomes = await collectOutcomes({
    eventId: event.id,
    accepted: accepted.map((answer) => ({ id: answer.booking.body.id, user: answer.booking.user })),
    pool: context.pool,
    http: context.http,
    tokens: context.tokens,
    timeoutMs: parameters.decideTimeoutMs,
    progress: say,
  });
  // Let the last coalescing windows reach every client.
  const flushMs = Number.parseInt(String(context.target.settings.SSE_DELTA_FLUSH_MS ?? '100'), 10) || 100;
  await sleep(Math.max(2000, 5 * flushMs));
  const cpuUse = cpu.stop();
  const workDone = await work.stop();
  rss?.stop();
  const closedDuringBookings = closedDuringRun - closedBeforeBookings;
  for (const client of clients) client.close();

  const decidedAt = new Map<string, number>();
  for (const outcome of outcomes.outcomes.values()) {
    for (const seat of outcome.seats) decidedAt.set(`${outcome.subsectionKey}|${seat}`, outcome.decidedAtMs);
  }
  const lag = measureLag(clients, decidedAt);
  const totalBytes = clients.reduce((sum, client) => sum + client.stats().bytes, 0);

  if (connected < parameters.clients) failures.push(`${parameters.clients - connected} of ${parameters.clients} event streams never delivered a snapshot: ${JSON.stringify(Object.fromEntries(statusCounts))}`);
  if (lag.framesMeasured === 0 && accepted.length > 0) failures.push('no delta frame was measured although bookings were accepted');
  if (lag.unknownChanges > 0) failures.push(`${lag.unknownChanges} seat changes in frames match no decided booking`);
  if (outcomes.undecided > 0) failures.push(`${outcomes.undecided} accepted bookings were not decided`);
  if (lag.outOfStep > 0) notes.push(`${lag.outOfStep} clients received frames different from their scope's reference client from some point on (slow-client drops or resyncs); their later frames are not counted`);
  if (closedDuringBookings > 0) notes.push(`${closedDuringBookings} streams were closed by the server during the bookings (too slow to keep up: its write buffer limit)`);

  const lagSummary = lag.histogram.summary();
  const rssPeakMiB = mebibytes(rss?.peakBytes);
  const atIssueSize = parameters.clients >= 10_000 && parameters.rate >= 1000;
  const targets: TargetCheck[] = !atIssueSize ? [] : [
    { name: `delivery lag p99 ≤ ${lagP99TargetMs} ms with ${parameters.clients.toLocaleString('en-US')} clients at ${parameters.rate}/s`, met: lagSummary.count > 0 && lagSummary.p99 <= lagP99TargetMs, detail: `${lagSummary.p99.toFixed(1)} ms` },
    { name: `ticketing RSS ≤ ${rssTargetMiB} MB`, met: rssPeakMiB !== undefined && rssPeakMiB <= rssTargetMiB, detail: rssPeakMiB === undefined ? 'not measured' : `peak ${rssPeakMiB} MiB` },
  ];

  return {
    scenario: 'fanout',
    target: { label: context.target.label, url: context.target.url, settingsSource: context.target.settingsSource, settings: context.target.settings },
    machine: context.machine,
    parameters: {
      clients: parameters.clients,
      'scope per client': parameters.subsectionsPerClient === 0 ? "the API's default (every seat map when the event has at most SSE_SEAT_MAP_SEATS_MAX seats)" : `${parameters.subsectionsPerClient} subsection(s), round robin`,
      'connect rate per s': parameters.connectPerS,
      'booking rate per s': parameters.rate,
      'duration s': parameters.durationS,
      'event seats': plan.seats,
      layout: `${plan.targets.length} subsections of ${plan.rows} rows × ${plan.seatsPerRow} seats`,
      'ticketing pid': pid ?? null,
      seed: parameters.seed,
    },
    results: {
      'streams with snapshot': `${connected} of ${parameters.clients} after ${round(connectSeconds)} s`,
      'stream outcomes': Object.fromEntries(statusCounts),
      'bookings accepted': accepted.length,
      'booking errors': load.answers.length - accepted.length,
      'booking statuses': Object.fromEntries(load.statuses),
      'booking accept latency': roundSummary(summarize(load.latenciesMs.values())),
      'seat changes decided': decidedAt.size,
      'delivery lag (decidedAt → frame at client)': roundSummary(lagSummary),
      'frame fan-out spread (first → last client, per frame)': roundSummary(lag.spread),
      'delta frames per client (reference)': lag.referenceFrames,
      'bytes received by all clients MiB': mebibytes(totalBytes) ?? null,
      'ticketing RSS MiB before streams / with streams / peak during bookings': `${mebibytes(rssBefore) ?? '?'} / ${mebibytes(rssConnected) ?? '?'} / ${rssPeakMiB ?? '?'}`,
      'lag samples below 0 (clock rounding, clamped)': lagSummary.negative,
    },
    cpuSeconds: cpuUse.seconds,
    idleCpuPerS: context.idleCpuPerS,
    idleMachineBusyPercent: context.idleMachineBusyPercent,
    machineCpu: machineCpuOf(cpuUse),
    cpuUsPerBooking: perBooking(cpuUse, context.idleCpuPerS, accepted.length),
    workPerBooking: statsPerBooking(workDone, accepted.length),
    targets,
    failures,
    notes,
  };
}

function scopeQueries(subsections: readonly string[], perClient: number, clients: number) {
  if (perClient === 0) return { distinct: 1, of: (_index: number) => ({ key: 'default', query: '' }) };
  const count = Math.min(perClient, subsections.length);
  const distinct = Math.min(clients, subsections.length);
  return {
    distinct,
    of(index: number) {
      const first = index % subsections.length;
      const names = Array.from({ length: count }, (_, offset) => subsections[(first + offset) % subsections.length]!);
      return { key: names.join(','), query: `?subsections=${encodeURIComponent(names.join(','))}` };
    },
  };
}

function bookingSource(eventId: string, targets: Parameters<typeof planBookings>[0]['subsections'], parameters: FanoutParameters): (index: number) => PlannedBooking {
  const chunkBookings = 1000;
  let chunk: PlannedBooking[] = [];
  let chunkStart = -chunkBookings;
  return (index) => {
    if (index >= chunkStart + chunkBookings) {
      chunkStart = Math.floor(index / chunkBookings) * chunkBookings;
      const offset = (chunkStart / chunkBookings) % targets.length;
      chunk = planBookings({ eventId, subsections: [...targets.slice(offset), ...targets.slice(0, offset)], count: chunkBookings, users: 1, manualShare: 0, singlesAtEnd: 0, seed: parameters.seed + chunkStart })
        .map((booking, offsetInChunk) => ({ ...booking, user: buyerOf(parameters.buyers, eventId, chunkStart + offsetInChunk) }));
    }
    return chunk[index - chunkStart]!;
  };
}

function measureLag(clients: readonly StreamClient[], decidedAt: ReadonlyMap<string, number>) {
  const histogram = createHistogram({ resolutionMs: 0.5, rangeMs: 120_000 });
  const spread = createSamples();
  let outOfStep = 0;
  let unknownChanges = 0;
  let framesMeasured = 0;
  let referenceFrames = 0;
  const byScope = new Map<string, Array<{ client: StreamClient; stats: StreamClientStats }>>();
  for (const client of clients) {
    const stats = client.stats();
    if (stats.snapshotAt === undefined) continue;
    const group = byScope.get(client.scopeKey) ?? [];
    group.push({ client, stats });
    byScope.set(client.scopeKey, group);
  }
  for (const group of byScope.values()) {
    const references = group.filter((member) => member.stats.frameTexts !== undefined);
    const reference = references.sort((a, b) => b.stats.frameCount - a.stats.frameCount)[0];
    if (!reference) continue;
    referenceFrames = Math.max(referenceFrames, reference.stats.frameCount);
    // Per frame: sampled decision times and the weight each stands for.
    const frames = reference.stats.frameTexts!.map((text) => {
      const times: number[] = [];
      for (const key of frameChanges(text)) {
        const at = decidedAt.get(key);
        if (at === undefined) unknownChanges++;
        else times.push(at);
      }
      times.sort((a, b) => a - b);
      const picked = times.length <= changesPerFrameSampled ? times : Array.from({ length: changesPerFrameSampled }, (_, i) => times[Math.floor(((i + 0.5) * times.length) / changesPerFrameSampled)]!);
      return { picked, weight: picked.length === 0 ? 0 : times.length / picked.length };
    });
    const firstArrival = new Float64Array(frames.length).fill(Infinity);
    const lastArrival = new Float64Array(frames.length).fill(-Infinity);
    for (const { stats } of group) {
      const frameCount = Math.min(stats.frameCount, frames.length);
      for (let frame = 0; frame < frameCount; frame++) {
        if (stats.lengths[frame] !== reference.stats.lengths[frame]) {
          outOfStep++;
          break;
        }
        const arrival = stats.arrivals[frame]!;
        if (arrival < firstArrival[frame]!) firstArrival[frame] = arrival;
        if (arrival > lastArrival[frame]!) lastArrival[frame] = arrival;
        const { picked, weight } = frames[frame]!;
        for (const decided of picked) histogram.add(arrival - decided, weight);
        framesMeasured++;
      }
    }
    for (let frame = 0; frame < frames.length; frame++) {
      if (Number.isFinite(firstArrival[frame]!)) spread.push(lastArrival[frame]! - firstArrival[frame]!);
    }
  }
  return { histogram, spread: summarize(spread.values()), outOfStep, unknownChanges, framesMeasured, referenceFrames };
}
