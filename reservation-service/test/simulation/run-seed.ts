import { createInvariantChecker } from './invariants.ts';
import { beginDrain, chaosStep, describeBacklog, drainStep, head, isIdle, rejoinFenced } from './schedule.ts';
import { addProcess, createRunner, createWorld, rebalance, type World } from './world.ts';

// One seed, start to finish: build the world, run its chaos steps checking the invariants after
// each, drain it to idle (still checking), then check what must hold once idle. The first
// violation ends the run; the trace says what led to it.

export interface SeedResult {
  readonly seed: number;
  readonly violations: readonly string[];
  // The step that broke an invariant, or the steps run.
  readonly steps: number;
  readonly trace: readonly string[];
  readonly stats: { readonly accepted: number; readonly statuses: Readonly<Record<string, number>> };
}

// Generous: a drained seed needs a few dozen steps; more means something keeps it from idling.
const drainStepsMax = 2000;

export async function runSeed(seed: number): Promise<SeedResult> {
  const world = createWorld(seed);
  const runner = createRunner(world);
  for (let index = 0; index < world.settings.processCount; index++) addProcess(world, runner, index);
  head(world, describeSettings(world));
  await rebalance(world, runner, null);
  const checker = createInvariantChecker();
  const result = (violations: readonly string[]): SeedResult => ({ seed, violations, steps: world.step, trace: world.trace, stats: statsOf(world) });

  for (world.step = 1; world.step <= world.settings.chaosSteps; world.step++) {
    await chaosStep(world, runner);
    await rejoinFenced(world, runner);
    const violations = checker.step(world);
    if (violations.length > 0) return result(violations);
  }
  await beginDrain(world, runner);
  for (let drained = 0; drained < drainStepsMax && !isIdle(world); drained++) {
    world.step++;
    const acted = await drainStep(world, runner);
    await rejoinFenced(world, runner);
    const violations = checker.step(world);
    if (violations.length > 0) return result(violations);
    if (!acted) break;
  }
  if (!isIdle(world)) return result([`I2: the system never became idle${stuckReason(world)} — ${describeBacklog(world).join('; ')}`]);
  return result(checker.idle(world));
}

// A partition that keeps failing one slice is the usual reason; its error names the constraint.
function stuckReason(world: World): string {
  const stuck = world.processes.flatMap((process) => [...process.tasks.values()]).find((task) => task.lastError !== null);
  return stuck ? `: a partition keeps failing one slice (${stuck.lastError!.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>')})` : '';
}

function describeSettings(world: World): string {
  const { settings } = world;
  const subsections = settings.subsections.map((subsection) => `S${subsection.id} ${subsection.rows}x${subsection.seatsPerRow}`).join(', ');
  return `seed ${world.seed}: ${subsections}; ${settings.users.length} buyers, cap ${settings.buyerSeatsMax}; hold ${settings.holdDurationS}s; `
    + `${settings.processCount} process(es), ${settings.partitionCount} partition(s), slice ${settings.sliceMax}, fetch ${settings.fetchMax}; `
    + `park ${settings.parkChance.toFixed(2)}; catalog lag ${settings.catalogLagMs}ms; lease ${settings.leaseMs}ms; faults: ${[...settings.faults].join(', ') || 'none'}`;
}

function statsOf(world: World) {
  const statuses: Record<string, number> = {};
  for (const row of world.memory.tables().bookings.values()) statuses[row.status] = (statuses[row.status] ?? 0) + 1;
  return { accepted: world.accepted.size, statuses };
}
