import type { CancelCommand, PayCommand, ReserveCommand } from '@ticketing/shared/messaging/messages';
import { decodeCommand } from '@ticketing/shared/messaging/codec';
import { expiryRequestAgainMs, sweepExpiries } from './expiry-sweeper.ts';
import { retryGate, type Task } from './processes.ts';
import type { Prng } from '../../../dev/testing/prng.ts';
import {
  afterRun, crashProcess, describeCommand, epochMs, httpView, nameOf, note, parkedTasks, partitionOf, publish, rebalance, restartProcess, startTask,
  type FaultKind, type Runner, type World,
} from './world.ts';

// What happens next. In the chaos phase every step is one weighted random action: a client
// request through the ticketing service's checks, a consumer fetching or resuming a parked
// batch, the payment worker, the provider or the sweeper doing one thing, the clock moving,
// or a fault. In the drain phase faults stop and the system is driven until it is idle.

interface Action {
  readonly name: string;
  readonly weight: number;
  readonly fault?: FaultKind;
  // Does the action apply now? Runs it, noting what it did, and says whether it did anything.
  run(world: World, runner: Runner): Promise<boolean>;
}

// A drained task that keeps failing the same slice is a stuck partition, not progress.
const stuckRetriesMin = 3;
// Clock steps between actions, and the slowest a slow provider answers (in holds).
const tickMsMax = 400;
const slowHoldsMax = 1.5;
// How far back a recently duplicated command was first published, in records.
const recentDuplicateRecordsMax = 12;

export function head(world: World, text: string) {
  note(world, `#${world.step} +${world.clock.now() - epochMs}ms ${text}`);
}

const bookingIdOf = (n: number) => `01900000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
const paymentIdOf = (n: number) => `01900000-0000-7000-9000-${n.toString(16).padStart(12, '0')}`;

function where(world: World, subsectionId: number) {
  const subsection = world.settings.subsections.find((candidate) => candidate.id === subsectionId)!;
  return { v: 1 as const, eventId: world.settings.eventId, subsectionId, section: subsection.section, subsection: subsection.number, atMs: world.clock.now() };
}

// The ticketing process that took the PATCH knows at once; the others within catalogLagMs.
function apiKnowsCancelled(world: World): boolean {
  if (world.cancelledAtMs === null) return false;
  return world.prng.chance(0.5) || world.clock.now() >= world.cancelledAtMs + world.settings.catalogLagMs;
}

// Manual picks aim at a few seats at the front most of the time, so they collide.
function pickSeats(prng: Prng, capacity: number, quantity: number): number[] {
  const range = prng.chance(0.7) ? Math.min(capacity, quantity + 2) : capacity;
  const seats = new Set<number>();
  while (seats.size < quantity) seats.add(prng.below(range));
  return [...seats];
}

const reserve: Action = {
  name: 'reserve', weight: 14,
  async run(world) {
    const { prng, settings } = world;
    if (apiKnowsCancelled(world)) {
      head(world, 'reserve refused by the API: the event is cancelled');
      return true;
    }
    const subsection = prng.pick(settings.subsections);
    const userId = prng.pick(settings.users);
    const quantity = prng.chance(0.6) ? 1 : prng.between(1, Math.min(3, subsection.capacity));
    const seats = prng.chance(0.4) ? pickSeats(prng, subsection.capacity, quantity) : undefined;
    const n = ++world.sequence.booking;
    const bookingId = bookingIdOf(n);
    world.names.set(bookingId, `b${n}`);
    const command: ReserveCommand = {
      ...where(world, subsection.id), type: 'reserve', bookingId, userId, quantity, ...(seats ? { seats } : {}),
      fingerprint: `${userId}|${subsection.id}|${quantity}|${seats?.toSorted((a, b) => a - b).join(',') ?? 'best'}`,
    };
    world.accepted.set(bookingId, { command, name: `b${n}` });
    const offset = publish(world, command);
    head(world, `${describeCommand(world, command)} → P${partitionOf(world, subsection.id)}@${offset}`);
    return true;
  },
};

// The client retries a booking still pending; the API publishes the same command again.
const retryReserve: Action = {
  name: 'retry', weight: 2,
  async run(world) {
    const pending = [...world.accepted.values()].filter((booking) => httpView(world, booking.command.bookingId)?.status === 'PENDING');
    if (pending.length === 0) return false;
    const { command } = world.prng.pick(pending);
    const offset = publish(world, command);
    head(world, `client retry: ${describeCommand(world, command)} → P${partitionOf(world, command.subsectionId)}@${offset}`);
    return true;
  },
};

const pay: Action = {
  name: 'pay', weight: 9,
  async run(world) {
    const now = world.clock.now();
    const payable = [...world.accepted.values()].filter((booking) => {
      const view = httpView(world, booking.command.bookingId);
      return view?.status === 'RESERVED' && view.holdExpiresAtMs !== null && view.holdExpiresAtMs > now;
    });
    if (payable.length === 0) return false;
    const { command: reserved } = world.prng.pick(payable);
    const n = ++world.sequence.payment;
    const paymentId = paymentIdOf(n);
    world.names.set(paymentId, `p${n}`);
    const roll = world.prng.next();
    const slowMs = world.prng.between(0, Math.round(world.settings.holdDurationS * 1000 * slowHoldsMax));
    const paymentToken = roll < 0.55 ? `tok_${n}` : roll < 0.8 ? `decline_${n}` : `slow_${slowMs}_${n}`;
    const command: PayCommand = { ...where(world, reserved.subsectionId), type: 'pay', bookingId: reserved.bookingId, paymentId, paymentToken };
    const offset = publish(world, command);
    head(world, `${describeCommand(world, command)}${paymentToken.startsWith('slow') ? ` ${slowMs}ms` : ''} → P${partitionOf(world, command.subsectionId)}@${offset}`);
    return true;
  },
};

function cancelBy(by: CancelCommand['by'], weight: number): Action {
  return {
    name: `cancel by ${by}`, weight,
    async run(world) {
      const open = [...world.accepted.values()].filter((booking) => {
        const status = httpView(world, booking.command.bookingId)?.status;
        return status === 'PENDING' || status === 'RESERVED';
      });
      if (open.length === 0) return false;
      const { command: reserved } = world.prng.pick(open);
      const command: CancelCommand = { ...where(world, reserved.subsectionId), type: 'cancel', bookingId: reserved.bookingId, by };
      const offset = publish(world, command);
      head(world, `${describeCommand(world, command)} → P${partitionOf(world, command.subsectionId)}@${offset}`);
      return true;
    },
  };
}

// PATCH /events/:id {status: CANCELLED}: recorded, then one command per subsection.
const cancelEvent: Action = {
  name: 'cancel event', weight: 0.4, fault: 'cancel-event',
  async run(world) {
    if (world.cancelledAtMs !== null) return false;
    world.cancelledAtMs = world.clock.now();
    world.memory.cancelEvent(world.settings.eventId, world.cancelledAtMs);
    const offsets = world.settings.subsections.map((subsection) => `S${subsection.id}→P${partitionOf(world, subsection.id)}@${publish(world, { ...where(world, subsection.id), type: 'cancel-event' })}`);
    head(world, `organizer cancels the event: cancel-event ${offsets.join(' ')}`);
    return true;
  },
};

const poll: Action = {
  name: 'poll', weight: 22,
  async run(world, runner) {
    const ready = world.processes.flatMap((process) => (process.alive ? [...process.beliefs].filter(([partition, belief]) => !process.tasks.has(partition) && world.log.end(partition) > belief.position).map(([partition]) => ({ process, partition })) : []));
    if (ready.length === 0) return false;
    const { process, partition } = world.prng.pick(ready);
    head(world, `${process.name} polls P${partition}`);
    await startTask(world, runner, process, partition, false);
    return true;
  },
};

async function resumeTask(world: World, runner: Runner, task: Task) {
  head(world, `${task.process.name}${task.process.zombie ? ' (zombie)' : ''} resumes T${task.id} on P${task.partition} from ${task.parkedAt}`);
  await runner.resume(task);
  afterRun(world, task);
}

const resume: Action = {
  name: 'resume', weight: 14,
  async run(world, runner) {
    const parked = parkedTasks(world);
    if (parked.length === 0) return false;
    await resumeTask(world, runner, world.prng.pick(parked));
    return true;
  },
};

function duePayments(world: World): boolean {
  const now = world.clock.now();
  return [...world.memory.tables().payments.values()].some((row) => (row.status === 'REQUESTED' || row.status === 'REFUND_REQUIRED') && (row.leasedUntilMs === null || row.leasedUntilMs < now));
}

const workerLease: Action = {
  name: 'worker lease', weight: 4,
  async run(world) {
    if (!duePayments(world)) return false;
    const started = world.worker.lease();
    head(world, `payment worker leases ${started.map((call) => `${nameOf(world, call.leased.payment.id)} (${call.leased.payment.status === 'REQUESTED' ? 'charge' : 'refund'}, answer at +${call.readyAtMs - epochMs})`).join(', ')}`);
    return true;
  },
};

const providerAnswers: Action = {
  name: 'provider answers', weight: 5,
  async run(world) {
    const ready = world.worker.calls().filter((call) => call.answer === null && call.readyAtMs <= world.clock.now());
    if (ready.length === 0) return false;
    const call = world.prng.pick(ready);
    world.worker.answer(call);
    head(world, `provider answers ${nameOf(world, call.leased.payment.id)}: ${JSON.stringify(call.answer)}`);
    return true;
  },
};

const workerFinishes: Action = {
  name: 'worker finishes', weight: 5,
  async run(world) {
    const answered = world.worker.calls().filter((call) => call.answer !== null);
    if (answered.length === 0) return false;
    const call = world.prng.pick(answered);
    const command = world.worker.finish(call);
    if (command) head(world, `payment worker sends ${describeCommand(world, command)} → P${partitionOf(world, command.subsectionId)}@${publish(world, command)}`);
    else head(world, `payment worker records the refund of ${nameOf(world, call.leased.payment.id)}`);
    return true;
  },
};

const workerCrash: Action = {
  name: 'worker crash', weight: 0.6, fault: 'worker-crash',
  async run(world) {
    if (world.worker.calls().length === 0) return false;
    head(world, `payment worker dies with ${world.worker.calls().map((call) => `${nameOf(world, call.leased.payment.id)}${call.answer ? ' (answered)' : ''}`).join(', ')} in flight`);
    world.worker.crash();
    return true;
  },
};

const sweep: Action = {
  name: 'sweep', weight: 4,
  async run(world) {
    const commands = sweepExpiries(world.memory, world.clock);
    if (commands.length === 0) return false;
    const dies = world.settings.faults.has('sweeper-crash') && world.prng.chance(0.25);
    const sent = dies ? commands.slice(0, world.prng.below(commands.length)) : commands;
    const offsets = sent.map((command) => `${describeCommand(world, command)} → P${partitionOf(world, command.subsectionId)}@${publish(world, command)}`);
    head(world, `sweeper claims ${commands.map((command) => nameOf(world, command.bookingId)).join(',')}${dies ? ` and dies after ${sent.length}` : ''}: ${offsets.join('; ')}`);
    return true;
  },
};

const tick: Action = {
  name: 'tick', weight: 10,
  async run(world) {
    const deltaMs = world.prng.between(1, tickMsMax);
    world.clock.advance(deltaMs);
    head(world, `clock +${deltaMs}ms`);
    return true;
  },
};

const jump: Action = {
  name: 'clock jump', weight: 0.8, fault: 'clock-jump',
  async run(world) {
    const deltaMs = world.settings.holdDurationS * 1000 + world.prng.between(1, 2000);
    world.clock.advance(deltaMs);
    head(world, `clock jumps +${deltaMs}ms, past every hold`);
    return true;
  },
};

const crash: Action = {
  name: 'crash', weight: 1, fault: 'crash',
  async run(world) {
    const alive = world.processes.filter((process) => process.alive);
    if (alive.length === 0) return false;
    const process = world.prng.pick(alive);
    const parked = [...process.tasks.values()].map((task) => `T${task.id} ${task.parkedAt}`);
    head(world, `${process.name} crashes${parked.length > 0 ? ` with ${parked.join(', ')}` : ''}`);
    crashProcess(world, process);
    return true;
  },
};

// The group notices a dead member once its session times out.
const sessionTimeout: Action = {
  name: 'session timeout', weight: 3,
  async run(world, runner) {
    const dead = new Set(world.processes.filter((process) => !process.alive).map((process) => process.member));
    const orphaned = Array.from({ length: world.log.partitions }, (_, partition) => world.log.owner(partition)).some((member) => member !== null && dead.has(member));
    if (!orphaned) return false;
    head(world, 'session timeout: the group rebalances without the dead');
    await rebalance(world, runner, null);
    return true;
  },
};

const restart: Action = {
  name: 'restart', weight: 2,
  async run(world, runner) {
    const dead = world.processes.filter((process) => !process.alive);
    if (dead.length === 0) return false;
    const process = world.prng.pick(dead);
    head(world, `${process.name} restarts and joins`);
    restartProcess(world, runner, process);
    await rebalance(world, runner, null);
    return true;
  },
};

const rebalanceAction: Action = {
  name: 'rebalance', weight: 1, fault: 'rebalance',
  async run(world, runner) {
    if (!world.processes.some((process) => process.alive && !process.zombie)) return false;
    head(world, 'rebalance');
    await rebalance(world, runner, null);
    return true;
  },
};

// A member stalls past its session (a long pause, a network partition): the group moves its
// partitions on without it, and it keeps its parked work and cached grids.
const stall: Action = {
  name: 'stall', weight: 1.2, fault: 'zombie',
  async run(world, runner) {
    const members = world.processes.filter((process) => process.alive && !process.zombie);
    const candidates = members.filter((process) => process.beliefs.size > 0);
    if (members.length < 2 || candidates.length === 0) return false;
    const process = world.prng.pick(candidates);
    head(world, `${process.name} stalls; the group rebalances without it`);
    await rebalance(world, runner, process);
    return true;
  },
};

const zombieWakes: Action = {
  name: 'zombie wakes', weight: 2,
  async run(world, runner) {
    const zombies = world.processes.filter((process) => process.alive && process.zombie);
    if (zombies.length === 0) return false;
    const process = world.prng.pick(zombies);
    head(world, `${process.name} wakes, finishes what it had in hand, and rejoins`);
    process.zombie = false;
    await rebalance(world, runner, null);
    return true;
  },
};

const loseBitmap: Action = {
  name: 'lose bitmap', weight: 1, fault: 'redis-loss',
  async run(world) {
    const present = world.settings.subsections.filter((subsection) => world.redis.bitmap(subsection.id));
    if (present.length === 0) return false;
    const subsection = world.prng.pick(present);
    world.redis.loseBitmap(subsection.id);
    head(world, `redis loses the bitmap of S${subsection.id}`);
    return true;
  },
};

const flushRedis: Action = {
  name: 'flush redis', weight: 0.3, fault: 'redis-loss',
  async run(world) {
    world.redis.flush();
    head(world, 'redis restarts empty (bitmaps and booking records lost)');
    return true;
  },
};

// The same bytes again, later in the log: a producer retry after a lost acknowledgement, or
// the outbox relaying a command whose timed-out publish landed after all.
const duplicate: Action = {
  name: 'duplicate', weight: 2, fault: 'duplicate',
  async run(world) {
    const partitions = Array.from({ length: world.log.partitions }, (_, partition) => partition).filter((partition) => world.log.end(partition) > 0);
    if (partitions.length === 0) return false;
    const partition = world.prng.pick(partitions);
    const end = world.log.end(partition);
    // Mostly a recent one; sometimes one from long ago, as an outbox drained after an outage.
    const offset = end - 1 - world.prng.below(world.prng.chance(0.7) ? Math.min(end, recentDuplicateRecordsMax) : end);
    const [record] = world.log.fetch(partition, offset, 1);
    const copy = world.log.append(partition, record!.value);
    const decoded = decodeCommand(record!.value);
    head(world, `duplicate of P${partition}@${offset} (${decoded.ok ? describeCommand(world, decoded.command) : '?'}) → @${copy}`);
    return true;
  },
};

const chaosActions: readonly Action[] = [
  reserve, retryReserve, pay, cancelBy('buyer', 3), cancelBy('organizer', 1), cancelEvent, poll, resume, workerLease, providerAnswers, workerFinishes, workerCrash,
  sweep, tick, jump, crash, sessionTimeout, restart, rebalanceAction, stall, zombieWakes, loseBitmap, flushRedis, duplicate,
];

export async function chaosStep(world: World, runner: Runner) {
  const enabled = chaosActions.filter((action) => !action.fault || world.settings.faults.has(action.fault));
  let candidates = enabled;
  // Actions that do not apply now are dropped and another is drawn; the clock always applies.
  while (candidates.length > 0) {
    const action = drawWeighted(world.prng, candidates);
    if (await action.run(world, runner)) return;
    candidates = candidates.filter((other) => other !== action);
  }
}

function drawWeighted(prng: Prng, actions: readonly Action[]): Action {
  const total = actions.reduce((sum, action) => sum + action.weight, 0);
  let roll = prng.next() * total;
  for (const action of actions) {
    roll -= action.weight;
    if (roll < 0) return action;
  }
  return actions[actions.length - 1]!;
}

// A process that found its commit refused rejoins the group.
export async function rejoinFenced(world: World, runner: Runner) {
  const fenced = world.processes.filter((process) => process.alive && process.fenced);
  if (fenced.length === 0) return;
  note(world, `  ${fenced.map((process) => process.name).join(', ')} had a commit refused and rejoin${fenced.length === 1 ? 's' : ''}`);
  for (const process of fenced) process.zombie = false;
  await rebalance(world, runner, null);
}

export async function beginDrain(world: World, runner: Runner) {
  world.phase = 'drain';
  head(world, 'drain: faults stop, every process is up and in the group, parked work finishes');
  for (const process of world.processes) {
    if (!process.alive) restartProcess(world, runner, process);
    process.zombie = false;
  }
  await rebalance(world, runner, null);
}

// One step of driving an idle-bound system, in a fixed order; false when nothing applies.
export async function drainStep(world: World, runner: Runner): Promise<boolean> {
  // Once the others have settled, a slice that keeps failing fails the same way forever: it is
  // left alone, and time stops so the sweeper and the payment worker do not feed it for ever.
  const stuck = (task: Task) => task.parkedAt === retryGate && task.retries >= stuckRetriesMin;
  const parked = parkedTasks(world).find((task) => !stuck(task));
  if (parked) {
    parked.noPark = true;
    await resumeTask(world, runner, parked);
    return true;
  }
  for (const process of world.processes) {
    for (const [partition, belief] of process.beliefs) {
      if (!process.alive || process.tasks.has(partition) || world.log.end(partition) <= belief.position) continue;
      head(world, `${process.name} polls P${partition}`);
      await startTask(world, runner, process, partition, true);
      return true;
    }
  }
  for (const action of [providerAnswers, workerFinishes, workerLease, sweep]) if (await action.run(world, runner)) return true;
  return !parkedTasks(world).some(stuck) && advanceToNextTimer(world);
}

// Moves the clock to the next moment something is due: a hold ending, a slow provider
// answering, a lease running out, an expiry to ask for again.
function advanceToNextTimer(world: World): boolean {
  const now = world.clock.now();
  const tables = world.memory.tables();
  const due: number[] = [];
  for (const row of tables.bookings.values()) {
    if (row.status !== 'RESERVED' || row.holdExpiresAtMs === null) continue;
    due.push(row.holdExpiresAtMs, (row.expiryRequestedAtMs ?? -Infinity) + expiryRequestAgainMs + 1);
  }
  for (const call of world.worker.calls()) due.push(call.readyAtMs);
  for (const row of tables.payments.values()) if ((row.status === 'REQUESTED' || row.status === 'REFUND_REQUIRED') && row.leasedUntilMs !== null) due.push(row.leasedUntilMs + 1);
  const next = Math.min(...due.filter((atMs) => atMs > now));
  if (!Number.isFinite(next)) return false;
  world.clock.advance(next - now);
  head(world, `clock +${next - now}ms to the next due timer`);
  return true;
}

export function isIdle(world: World): boolean {
  return describeBacklog(world).length === 0;
}

// What keeps the system from being idle; empty when it is.
export function describeBacklog(world: World): string[] {
  const backlog: string[] = [];
  const tables = world.memory.tables();
  for (let partition = 0; partition < world.log.partitions; partition++) {
    if (world.log.committed(partition) < world.log.end(partition)) {
      const stuck = world.processes.flatMap((process) => [...process.tasks.values()]).find((task) => task.partition === partition && task.lastError);
      backlog.push(`P${partition} committed ${world.log.committed(partition)} of ${world.log.end(partition)}${stuck ? ` (T${stuck.id} failing: ${stuck.lastError})` : ''}`);
    }
  }
  for (const process of world.processes) if (process.tasks.size > 0) backlog.push(`${process.name} has ${process.tasks.size} task(s) in hand`);
  if (world.worker.calls().length > 0) backlog.push(`${world.worker.calls().length} provider call(s) in flight`);
  for (const row of tables.payments.values()) if (row.status === 'REQUESTED' || row.status === 'REFUND_REQUIRED') backlog.push(`payment ${nameOf(world, row.id)} ${row.status}`);
  for (const row of tables.bookings.values()) if (row.status === 'RESERVED') backlog.push(`booking ${nameOf(world, row.id)} RESERVED`);
  for (const booking of world.accepted.values()) if (!tables.bookings.has(booking.command.bookingId)) backlog.push(`booking ${booking.name} undecided`);
  return backlog;
}
