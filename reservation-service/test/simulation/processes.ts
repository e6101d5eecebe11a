import { AssertionError } from 'node:assert';
import { AsyncLocalStorage } from 'node:async_hooks';
import { decodeCommand } from '@ticketing/shared/messaging/codec';
import type { Command } from '@ticketing/shared/messaging/messages';
import type { BookingStore } from '../../src/reservations/booking-store.ts';
import type { DecideBatch, DecideBatchResult } from '../../src/reservations/decide-batch.ts';
import type { Plan } from '../../src/reservations/plan-batch.ts';
import type { SeatProjection } from '../../src/reservations/seat-projection.ts';
import type { LogRecord, PartitionLog } from './partition-log.ts';

// Reservation processes and the batches they work on. A process is one real createDecideBatch
// (its own grid and policy caches) plus what it believes the group gave it. A task is one
// fetched batch of one partition, handled as consumer.ts handles it: cut into slices, each
// decided (retried while the partition is still owned), then its offset committed.
//
// Tasks run on in-memory promises only, and park at the gates below: before every store and
// projection call and before each commit. A parked task waits for the scheduler, which may
// resume it later, let other tasks run in between (interleavings), leave it parked while its
// partition moves to another process (a zombie), or drop it with its process (a crash at that
// point). Nothing else is asynchronous, so a seed replays the same run.

export interface Belief {
  readonly generation: number;
  // The next offset this process fetches from the partition.
  position: number;
}

export interface ReservationProcess {
  readonly name: string;
  // The group member of the current incarnation; a restart is a new member.
  member: number;
  alive: boolean;
  // Missed the last rebalance (stalled): still acts on its old beliefs and cached grids.
  zombie: boolean;
  // Learned from a refused commit that the group moved on; rejoins after the current step.
  fenced: boolean;
  decide: DecideBatch;
  beliefs: Map<number, Belief>;
  readonly tasks: Map<number, Task>;
}

export interface Task {
  readonly id: number;
  readonly process: ReservationProcess;
  readonly member: number;
  readonly partition: number;
  readonly generation: number;
  readonly records: readonly LogRecord[];
  // The slice being decided.
  commands: readonly Command[];
  parkedAt: string | null;
  settled: boolean;
  error: unknown;
  // Run to the end without parking (the group waits for in-flight batches; the system drains).
  noPark: boolean;
  // Failed attempts at the current slice, and the last failure.
  retries: number;
  lastError: string | null;
  wake: (() => void) | null;
  signal: PromiseWithResolvers<void>;
}

export interface TaskHooks {
  // The scheduler's choice at a gate: park here or go on.
  park(task: Task, point: string): boolean;
  // Redis fails this projection write: before applying it, after applying it (reply lost), or not.
  projectionFault(task: Task): 'none' | 'before' | 'after';
  onCommitted(task: Task, plan: Plan): void;
  onAllocationsRead(task: Task): void;
  onProjected(task: Task, subsectionIds: readonly number[]): void;
  onRebuilt(task: Task | undefined, subsectionIds: readonly number[]): void;
  onRetry(task: Task, error: unknown): void;
}

export const retryGate = 'retry backoff';

export class RedisUnavailable extends Error {
  readonly code = 'ECONNRESET';
}

const current = new AsyncLocalStorage<Task>();

export function createTaskRunner(hooks: TaskHooks) {
  const gate = async (point: string, always = false) => {
    const task = current.getStore();
    if (!task) return;
    if (!always && (task.noPark || !hooks.park(task, point))) return;
    task.parkedAt = point;
    await new Promise<void>((resolve) => {
      task.wake = resolve;
      task.signal.resolve();
    });
  };

  // What every process's decide batch sees: the shared store and projection, behind gates.
  const store = (inner: BookingStore): BookingStore => ({
    async loadState(query) {
      await gate('before load state');
      return inner.loadState(query);
    },
    async loadSubsections(ids) {
      await gate('before load subsections');
      return inner.loadSubsections(ids);
    },
    async loadPolicies(eventIds, defaults) {
      await gate('before load policies');
      return inner.loadPolicies(eventIds, defaults);
    },
    async loadSeats(subsectionIds) {
      await gate('before load allocations');
      const seats = await inner.loadSeats(subsectionIds);
      const task = current.getStore();
      if (task) hooks.onAllocationsRead(task);
      return seats;
    },
    async writePlan(plan, touched) {
      await gate('before write');
      const counts = await inner.writePlan(plan, touched);
      const task = current.getStore();
      if (task) hooks.onCommitted(task, plan);
      return counts;
    },
  });

  const projection = (inner: SeatProjection): SeatProjection => ({
    async write(batch) {
      await gate('before project');
      const task = current.getStore();
      const fault = task ? hooks.projectionFault(task) : 'none';
      if (fault === 'before') throw new RedisUnavailable('redis refused the pipeline');
      const result = await inner.write(batch);
      if (task) hooks.onProjected(task, [...batch.seatChanges.keys()]);
      if (fault === 'after') throw new RedisUnavailable('redis applied the pipeline but the reply was lost');
      return result;
    },
    async rebuild(subsections) {
      await gate('before rebuild');
      await inner.rebuild(subsections);
      hooks.onRebuilt(current.getStore(), subsections.map((subsection) => subsection.id));
    },
  });

  // Runs the task's batch until it parks or ends.
  const start = (task: Task, options: { log: PartitionLog; sliceMax: number }): Promise<void> => {
    task.signal = Promise.withResolvers();
    current.run(task, () => consumeBatch(task, { ...options, gate, hooks })).then(
      () => settle(task, undefined),
      (error: unknown) => settle(task, error),
    );
    return task.signal.promise;
  };

  const resume = (task: Task): Promise<void> => {
    const wake = task.wake;
    if (!wake) throw new Error(`task ${task.id} is not parked`);
    task.wake = null;
    task.parkedAt = null;
    task.signal = Promise.withResolvers();
    wake();
    return task.signal.promise;
  };

  return { gate, store, projection, start, resume };
}

function settle(task: Task, error: unknown) {
  task.settled = true;
  task.error = error;
  task.signal.resolve();
}

export function stillOwned(task: Task): boolean {
  const { process } = task;
  return process.alive && process.member === task.member && process.beliefs.get(task.partition)?.generation === task.generation;
}

// consumer.ts's handleBatch and decideWithRetry, with the backoff as a forced park.
export async function consumeBatch(task: Task, options: { log: PartitionLog; sliceMax: number; gate: (point: string, always?: boolean) => Promise<void>; hooks: TaskHooks }): Promise<void> {
  const { log, sliceMax, gate } = options;
  for (let start = 0; start < task.records.length; start += sliceMax) {
    const slice = task.records.slice(start, start + sliceMax);
    const commands = decode(slice);
    task.commands = commands;
    task.retries = 0;
    const result = commands.length > 0 ? await decideWithRetry(task, commands, gate, options.hooks) : undefined;
    if (commands.length > 0 && !result) return;
    if (!stillOwned(task)) return;
    await gate('before commit');
    const nextOffset = slice[slice.length - 1]!.offset + 1;
    if (!log.commit(task.partition, task.member, task.generation, nextOffset)) {
      task.process.fenced = true;
      return;
    }
    const belief = task.process.beliefs.get(task.partition);
    if (belief && belief.generation === task.generation) belief.position = nextOffset;
  }
}

async function decideWithRetry(task: Task, commands: readonly Command[], gate: (point: string, always?: boolean) => Promise<void>, hooks: TaskHooks): Promise<DecideBatchResult | undefined> {
  for (;;) {
    if (!stillOwned(task)) return undefined;
    try {
      return await task.process.decide.run(commands);
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      task.retries++;
      task.lastError = error instanceof Error ? error.message : String(error);
      hooks.onRetry(task, error);
      await gate(retryGate, true);
    }
  }
}

function decode(records: readonly LogRecord[]): Command[] {
  const commands: Command[] = [];
  for (const record of records) {
    const result = decodeCommand(record.value);
    if (!result.ok) throw new AssertionError({ message: `the simulation produced an unreadable command: ${result.problem}` });
    commands.push(result.command);
  }
  return commands;
}
