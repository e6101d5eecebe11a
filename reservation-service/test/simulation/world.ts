import type { BookingStatus } from '@ticketing/shared/domain/booking';
import { encodeCommand } from '@ticketing/shared/messaging/codec';
import type { Command, ReserveCommand } from '@ticketing/shared/messaging/messages';
import type { Logger } from '@ticketing/shared/telemetry/logger';
import { createDecideBatch, type DecideBatch } from '../../src/reservations/decide-batch.ts';
import type { Plan, SubsectionInfo } from '../../src/reservations/plan-batch.ts';
import { createMemoryBookingStore, type MemoryBookingStore } from './memory-booking-store.ts';
import { createMemorySeatProjection, type MemorySeatProjection } from './memory-seat-projection.ts';
import { createPartitionLog, type PartitionLog } from './partition-log.ts';
import { createSimPaymentWorker, createSimProvider, type SimPaymentWorker, type SimProvider } from './payments.ts';
import { createPrng, type Prng } from '../../../dev/testing/prng.ts';
import { createTaskRunner, type ReservationProcess, type Task } from './processes.ts';
import { createSimClock, type SimClock } from './sim-clock.ts';

// One simulated deployment of the reservation core, built from a seed: one event with a few
// small subsections, a few buyers, one to three reservation processes running the real
// createDecideBatch over the in-memory store and projection, the command topic, the payment
// worker and provider, and the expiry sweeper. The world holds the state; schedule.ts decides
// what happens next and invariants.ts judges it.

export const faultKinds = ['crash', 'rebalance', 'zombie', 'redis-loss', 'redis-error', 'duplicate', 'worker-crash', 'sweeper-crash', 'clock-jump', 'cancel-event'] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface Settings {
  readonly eventId: string;
  readonly subsections: readonly SubsectionInfo[];
  readonly users: readonly string[];
  readonly buyerSeatsMax: number;
  readonly holdDurationS: number;
  readonly processCount: number;
  readonly partitionCount: number;
  readonly sliceMax: number;
  readonly fetchMax: number;
  readonly parkChance: number;
  // How long other ticketing processes keep accepting bookings after the event was cancelled.
  readonly catalogLagMs: number;
  readonly leaseMs: number;
  readonly chaosSteps: number;
  readonly faults: ReadonlySet<FaultKind>;
}

export interface AcceptedBooking {
  readonly command: ReserveCommand;
  readonly name: string;
}

export interface Unprojected {
  readonly taskId: number;
  readonly storeVersion: number;
  readonly subsectionId: number;
  readonly seats: ReadonlySet<number>;
}

export interface World {
  readonly seed: number;
  readonly prng: Prng;
  readonly clock: SimClock;
  readonly settings: Settings;
  readonly memory: MemoryBookingStore;
  readonly redis: MemorySeatProjection;
  readonly log: PartitionLog;
  readonly provider: SimProvider;
  readonly worker: SimPaymentWorker;
  readonly processes: ReservationProcess[];
  // Every booking id the ticketing service answered 202, with its request.
  readonly accepted: Map<string, AcceptedBooking>;
  // Seats tasks wrote to the store and have not yet written to the projection, with the store
  // version of the write (a rebuild from a read at or after it covers them).
  readonly unprojected: Unprojected[];
  // The store version each task last read seat allocations at.
  readonly allocationReads: Map<number, number>;
  // Unusual writes to each subsection's bitmap since it was last rebuilt from a fresh read, to
  // tell the causes of a wrong bitmap apart.
  readonly bitmapEvents: Map<number, string[]>;
  // Subsections whose cancel-event command has been decided.
  readonly cancelDecided: Set<number>;
  readonly names: Map<string, string>;
  readonly trace: string[];
  // Product assertions that stopped a process, and anything the simulation did not expect.
  readonly fatal: string[];
  phase: 'chaos' | 'drain';
  step: number;
  cancelledAtMs: number | null;
  // Sequences for names and ids, per world so a seed alone decides them.
  readonly sequence: { member: number; task: number; booking: number; payment: number };
}

export const epochMs = 1_800_000_000_000;
const defaults = { holdDurationS: 600, buyerSeatsMax: 8 };
const eventId = '01900000-0000-7000-a000-000000000001';

export function chooseSettings(prng: Prng): Settings {
  const subsectionCount = prng.between(1, 3);
  const subsections = Array.from({ length: subsectionCount }, (_, index): SubsectionInfo => {
    const rows = prng.between(1, 3);
    const seatsPerRow = prng.between(2, 5);
    return { id: index + 1, eventId, section: 'A', number: index + 1, rows, seatsPerRow, capacity: rows * seatsPerRow, priceCents: 1000 * (index + 1) };
  });
  const sliceMax = prng.between(1, 4);
  return {
    eventId,
    subsections,
    users: Array.from({ length: prng.between(2, 6) }, (_, index) => `u${index + 1}`),
    buyerSeatsMax: prng.between(2, 8),
    holdDurationS: prng.between(1, 6),
    processCount: prng.between(1, 3),
    partitionCount: prng.between(1, subsectionCount),
    sliceMax,
    fetchMax: prng.between(sliceMax, 8),
    parkChance: 0.05 + prng.next() * 0.25,
    catalogLagMs: prng.between(0, 1500),
    leaseMs: prng.between(1000, 5000),
    chaosSteps: prng.between(60, 220),
    faults: new Set(faultKinds.filter(() => prng.chance(0.5))),
  };
}

export function createWorld(seed: number): World {
  const prng = createPrng(seed);
  const settings = chooseSettings(prng);
  const clock = createSimClock(epochMs);
  const memory = createMemoryBookingStore({
    events: [{ id: settings.eventId, holdDurationS: settings.holdDurationS, buyerSeatsMax: settings.buyerSeatsMax, salesOpenAtMs: null, salesCloseAtMs: null, closedAtMs: null, cancelledAtMs: null }],
    subsections: settings.subsections,
  });
  const provider = createSimProvider(clock);
  return {
    seed, prng, clock, settings, memory, provider,
    redis: createMemorySeatProjection(),
    log: createPartitionLog(settings.partitionCount),
    worker: createSimPaymentWorker({ memory, provider, clock, leaseMs: settings.leaseMs }),
    processes: [],
    accepted: new Map(),
    unprojected: [],
    allocationReads: new Map(),
    bitmapEvents: new Map(),
    cancelDecided: new Set(),
    names: new Map(),
    trace: [],
    fatal: [],
    phase: 'chaos',
    step: 0,
    cancelledAtMs: null,
    sequence: { member: 0, task: 0, booking: 0, payment: 0 },
  };
}

export type Runner = ReturnType<typeof createTaskRunner>;

// The gates between the store write and Redis, and between Redis and the commit, are where a
// crash or a stall does the most harm, so tasks stop there more often.
const handoffPoints = new Set(['before project', 'before commit']);
const handoffParkFactor = 1.5;
// Per projection write, in seeds with the fault on; half fail before applying, half after.
const redisErrorChance = 0.08;

// The scheduler's side of the gates, and the bookkeeping the invariants need.
export function createRunner(world: World): Runner {
  const runner = createTaskRunner({
    park: (_task, point) => world.phase === 'chaos' && world.prng.chance(handoffPoints.has(point) ? world.settings.parkChance * handoffParkFactor : world.settings.parkChance),
    projectionFault: () => {
      if (world.phase !== 'chaos' || !world.settings.faults.has('redis-error') || !world.prng.chance(redisErrorChance)) return 'none';
      return world.prng.chance(0.5) ? 'before' : 'after';
    },
    onCommitted: (task, plan) => {
      const storeVersion = world.memory.version();
      for (const subsectionId of new Set(plan.seats.map((write) => write.subsectionId))) {
        const seats = new Set(plan.seats.filter((write) => write.subsectionId === subsectionId).map((write) => write.seat));
        world.unprojected.push({ taskId: task.id, storeVersion, subsectionId, seats });
      }
      for (const command of task.commands) if (command.type === 'cancel-event') world.cancelDecided.add(command.subsectionId);
      note(world, `  ${task.process.name} T${task.id} wrote ${describePlan(world, plan)}`);
    },
    onAllocationsRead: (task) => {
      world.allocationReads.set(task.id, world.memory.version());
    },
    onProjected: (task, subsectionIds) => {
      removeUnprojected(world, (entry) => entry.taskId === task.id);
      const event = superseded(world, task) ? 'a superseded writer projected a slice' : task.retries > 0 && task.lastError?.includes('redis') ? 'a slice was projected again after a failed Redis write' : null;
      if (event) for (const id of subsectionIds) noteBitmap(world, id, event);
    },
    onRebuilt: (task, subsectionIds) => {
      const readAt = (task && world.allocationReads.get(task.id)) ?? world.memory.version();
      const rebuilt = new Set(subsectionIds);
      removeUnprojected(world, (entry) => rebuilt.has(entry.subsectionId) && entry.storeVersion <= readAt);
      for (const id of subsectionIds) {
        if (task && superseded(world, task)) noteBitmap(world, id, 'a superseded writer rebuilt it');
        else if (readAt < world.memory.version()) noteBitmap(world, id, 'rebuilt from a read that a later store write outdated');
        else world.bitmapEvents.delete(id);
      }
    },
    onRetry: (task, error) => {
      note(world, `  ${task.process.name} T${task.id} failed, retries: ${error instanceof Error ? error.message : String(error)}`);
    },
  });
  return runner;
}

// A writer whose partition the group has since given to someone else.
function superseded(world: World, task: Task): boolean {
  return world.log.generation() !== task.generation || world.log.owner(task.partition) !== task.member;
}

function removeUnprojected(world: World, matches: (entry: Unprojected) => boolean) {
  const kept = world.unprojected.filter((entry) => !matches(entry));
  world.unprojected.splice(0, world.unprojected.length, ...kept);
}

function noteBitmap(world: World, subsectionId: number, event: string) {
  const events = world.bitmapEvents.get(subsectionId) ?? [];
  if (!events.includes(event)) world.bitmapEvents.set(subsectionId, [...events, event]);
}

export function note(world: World, line: string) {
  world.trace.push(line);
}

export function nameOf(world: World, id: string): string {
  return world.names.get(id) ?? id.slice(-4);
}

// The decide batch's logger: the core does not log on its hot path; its warnings go to the trace.
function traceLogger(world: World, processName: string): Logger {
  const warn = (object: unknown, message?: string) => {
    if (message === 'command ignored') {
      const detail = object as { type?: string; bookingId?: string; problem?: string };
      note(world, `  ${processName} ignored ${detail.type} ${detail.bookingId ? nameOf(world, detail.bookingId) : ''}: ${detail.problem}`);
    } else if (message) {
      const cause = (object as { err?: unknown }).err;
      note(world, `  ${processName}: ${message}${cause instanceof Error ? ` (${cause.message})` : ''}`);
    }
  };
  const silent = () => {};
  return { warn, error: warn, info: silent, debug: silent, trace: silent, fatal: warn, child: () => traceLogger(world, processName) } as unknown as Logger;
}

export function createDecide(world: World, runner: Runner, processName: string): DecideBatch {
  return createDecideBatch({
    store: runner.store(world.memory.store),
    projection: runner.projection(world.redis.projection),
    logger: traceLogger(world, processName),
    clock: () => world.clock.now(),
    defaults,
  });
}

export function addProcess(world: World, runner: Runner, index: number): ReservationProcess {
  const name = `R${index + 1}`;
  const process: ReservationProcess = {
    name, member: ++world.sequence.member, alive: true, zombie: false, fenced: false, decide: createDecide(world, runner, name), beliefs: new Map(), tasks: new Map(),
  };
  world.processes.push(process);
  return process;
}

export function restartProcess(world: World, runner: Runner, process: ReservationProcess) {
  process.member = ++world.sequence.member;
  process.alive = true;
  process.zombie = false;
  process.fenced = false;
  process.decide = createDecide(world, runner, process.name);
  process.beliefs = new Map();
  process.tasks.clear();
}

export function crashProcess(world: World, process: ReservationProcess) {
  process.alive = false;
  // Its parked tasks are never resumed: whatever they had not done yet is never done.
  process.tasks.clear();
}

export function partitionOf(world: World, subsectionId: number): number {
  return (subsectionId - 1) % world.settings.partitionCount;
}

export function publish(world: World, command: Command): number {
  return world.log.append(partitionOf(world, command.subsectionId), encodeCommand(command));
}

export function describeCommand(world: World, command: Command): string {
  switch (command.type) {
    case 'reserve':
      return `reserve ${nameOf(world, command.bookingId)} ${command.userId} S${command.subsectionId} q${command.quantity}${command.seats ? ` seats[${command.seats.join(',')}]` : ''}`;
    case 'pay':
      return `pay ${nameOf(world, command.bookingId)} ${nameOf(world, command.paymentId)} ${command.paymentToken.split('_')[0]}`;
    case 'payment-result':
      return `payment-result ${nameOf(world, command.bookingId)} ${nameOf(world, command.paymentId)} ${command.outcome}`;
    case 'cancel':
      return `cancel ${nameOf(world, command.bookingId)} by ${command.by}`;
    case 'expire':
      return `expire ${nameOf(world, command.bookingId)} at +${command.atMs - epochMs}`;
    case 'cancel-event':
      return `cancel-event S${command.subsectionId}`;
  }
}

function describePlan(world: World, plan: Plan): string {
  const parts = [
    ...plan.inserts.map((booking) => `+${nameOf(world, booking.id)} ${booking.status}${booking.reason ? `(${booking.reason})` : ` [${booking.seats.join(',')}]`}`),
    ...plan.updates.map(({ before, after }) => `${nameOf(world, after.id)} v${before.version} ${before.status}→${after.status}`),
    ...plan.newPayments.map((payment) => `+${nameOf(world, payment.id)} REQUESTED`),
    ...plan.paymentChanges.map((change) => `${nameOf(world, change.id)} ${change.from}→${change.to}`),
  ];
  return parts.length > 0 ? parts.join('; ') : 'nothing new (replays only)';
}

// What GET /bookings/:id answers: the Redis record, then Postgres, else the pending claim.
export function httpView(world: World, bookingId: string): { status: BookingStatus; holdExpiresAtMs: number | null } | null {
  const record = world.redis.record(bookingId);
  if (record) return { status: record.status, holdExpiresAtMs: record.holdExpiresAt ? Date.parse(record.holdExpiresAt) : null };
  const row = world.memory.tables().bookings.get(bookingId);
  if (row) return { status: row.status, holdExpiresAtMs: row.holdExpiresAtMs };
  return world.accepted.has(bookingId) ? { status: 'PENDING', holdExpiresAtMs: null } : null;
}

export function parkedTasks(world: World): Task[] {
  return world.processes.flatMap((process) => (process.alive ? [...process.tasks.values()].filter((task) => task.parkedAt !== null) : []));
}

// Group membership. Members that stay in the group finish their in-flight batches first, as
// kafkajs waits for them; a stalled member (`stall`) misses the rebalance and becomes a zombie
// with its parked tasks, beliefs and cached grids intact.
export async function rebalance(world: World, runner: Runner, stall: ReservationProcess | null) {
  for (const process of world.processes) if (process.alive && !process.zombie && process !== stall) await finishTasks(world, runner, process);
  if (stall) stall.zombie = true;
  const members = world.processes.filter((process) => process.alive && !process.zombie);
  const owners = new Map<number, number>();
  const rotation = world.prng.below(Math.max(members.length, 1));
  for (let partition = 0; partition < world.log.partitions && members.length > 0; partition++) owners.set(partition, members[(partition + rotation) % members.length]!.member);
  const generation = world.log.assign(owners);
  for (const process of members) {
    process.decide.forgetGrids();
    process.beliefs = new Map([...owners].filter(([, member]) => member === process.member).map(([partition]) => [partition, { generation, position: world.log.committed(partition) }]));
    process.fenced = false;
  }
  const assignment = [...owners].map(([partition, member]) => `P${partition}→${world.processes.find((process) => process.member === member)!.name}`).join(' ');
  note(world, `  generation ${generation}: ${assignment || 'no members'}${stall ? `; ${stall.name} stalled (zombie)` : ''}`);
  // Tasks of the old generation stop at their next ownership check.
  for (const process of members) await finishTasks(world, runner, process);
}

async function finishTasks(world: World, runner: Runner, process: ReservationProcess) {
  for (const task of [...process.tasks.values()]) {
    if (task.parkedAt === null) continue;
    note(world, `  ${process.name} finishes T${task.id} on P${task.partition} from ${task.parkedAt}`);
    task.noPark = true;
    await runner.resume(task);
    task.noPark = false;
    afterRun(world, task);
  }
}

export async function startTask(world: World, runner: Runner, process: ReservationProcess, partition: number, noPark: boolean): Promise<Task | null> {
  const belief = process.beliefs.get(partition);
  if (!belief || process.tasks.has(partition)) return null;
  const records = world.log.fetch(partition, belief.position, world.settings.fetchMax);
  if (records.length === 0) return null;
  const task: Task = {
    id: ++world.sequence.task, process, member: process.member, partition, generation: belief.generation, records, commands: [], parkedAt: null, settled: false,
    error: undefined, noPark, retries: 0, lastError: null, wake: null, signal: Promise.withResolvers(),
  };
  process.tasks.set(partition, task);
  note(world, `  ${process.name}${process.zombie ? ' (zombie)' : ''} T${task.id} fetched P${partition} @${records[0]!.offset}..${records[records.length - 1]!.offset}`);
  await runner.start(task, { log: world.log, sliceMax: world.settings.sliceMax });
  afterRun(world, task);
  return task;
}


export function afterRun(world: World, task: Task) {
  if (task.parkedAt !== null) {
    note(world, `  ${task.process.name} T${task.id} parked ${task.parkedAt}`);
    return;
  }
  if (!task.settled) return;
  if (task.process.tasks.get(task.partition) === task) task.process.tasks.delete(task.partition);
  if (task.error !== undefined) {
    const message = task.error instanceof Error ? `${task.error.name}: ${task.error.message}` : String(task.error);
    world.fatal.push(`${task.process.name} stopped: ${message}`);
    note(world, `  ${task.process.name} T${task.id} stopped: ${message}`);
    crashProcess(world, task.process);
  }
}
