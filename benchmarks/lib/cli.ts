import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { SizeOverrides } from './plan.ts';

// Command-line options shared by run.ts, compare.ts and smoke.ts: sizes, launch settings and
// output, parsed and checked once.

export const sizeOptionsHelp = `sizes (defaults: issue 7's; --smoke: small)
  --seats N                 sellout event size (20000)
  --attempts M              sellout attempts (2 × seats)
  --attempts-per-buyer N    attempts each buyer makes (2: within the product's per-buyer limits)
  --users U                 a fixed pool of U buyers instead, round robin
  --concurrency C           sellout requests in flight (2000)
  --rate R                  sustained (2000/s) or, for fanout alone, booking rate
  --duration-s S            sustained (60) or, for fanout alone, booking duration
  --clients K               fanout event-stream clients (10000)
  --fanout-rate R  --fanout-duration-s S  --fanout-seats N   fanout sizes within "all" (1000/s, 15 s, 50000)
  --subsections-per-client N  fanout scope per client; 0 = the API default (0)
  --connect-rate N          fanout stream openings per second (2000)
  --subsection-seats N      seats per subsection (1000)
  --manual-share F          share of manual seat picks (0.05)
  --sse-sample N            bookings followed over SSE for end-to-end latency (200)
  --no-search               skip the sustained rate search
  --search-from R --search-step R --search-to R --search-duration-s S   (1000, 1000, 16000, 10)
  --event-seats N           sustained event size (default: sized so at most 60% is asked for)
  --p99-target-ms N         accept p99 bound for the search (50)
  --connections N           request pool connections (256, at least --concurrency)
  --no-invariants           skip the invariant check after sustained
  --seed N                  workload seed (1)
  --smoke                   all sizes small; exit non-zero if the harness breaks or an invariant fails
  --out DIR                 results directory (benchmarks/results)
  --wait-quiet-s S          before each scenario, wait up to S seconds until other work uses under 10% of the machine

launching the product (run.ts --launch, compare.ts, smoke.ts)
  --partitions P            command topic partitions (12)
  --reservation-instances I reservation-service processes (1)
  --env KEY=VALUE           extra setting for the launched services (repeatable)
  --cpu-prof DIR            run the launched services with --cpu-prof, profiles into DIR
  --echo-logs               print the launched services' logs`;

const stringOption = { type: 'string' } as const;

export const sharedOptions = {
  seats: stringOption,
  attempts: stringOption,
  users: stringOption,
  'attempts-per-buyer': stringOption,
  concurrency: stringOption,
  rate: stringOption,
  'duration-s': stringOption,
  clients: stringOption,
  'fanout-rate': stringOption,
  'fanout-duration-s': stringOption,
  'fanout-seats': stringOption,
  'subsections-per-client': stringOption,
  'connect-rate': stringOption,
  'subsection-seats': stringOption,
  'manual-share': stringOption,
  'sse-sample': stringOption,
  search: { type: 'boolean' },
  'search-from': stringOption,
  'search-step': stringOption,
  'search-to': stringOption,
  'search-duration-s': stringOption,
  'p99-target-ms': stringOption,
  connections: stringOption,
  invariants: { type: 'boolean' },
  seed: stringOption,
  'event-seats': stringOption,
  smoke: { type: 'boolean', default: false },
  out: stringOption,
  'wait-quiet-s': stringOption,
  partitions: stringOption,
  'reservation-instances': stringOption,
  env: { type: 'string', multiple: true },
  'cpu-prof': stringOption,
  'echo-logs': { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

export class UsageError extends Error {
  readonly code = 'USAGE';
}

// Runs a command's main and exits with its code: 2 with the usage text on a usage error, 1 with
// the stack on any other failure. The exit is explicit so that the clients' keep-alive sockets
// and timers cannot keep a finished run alive.
export async function runCommand(name: string, usage: string, main: () => Promise<number>): Promise<never> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    process.exitCode = await main();
  } catch (error) {
    if (error instanceof UsageError) {
      say(`${error.message}\n\n${usage}`);
      process.exitCode = 2;
    } else {
      say(`${name} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      process.exitCode = 1;
    }
  }
  process.exit();
}

export function parseCommandLine<const T extends NonNullable<ParseArgsConfig['options']>>(extra: T) {
  try {
    return parseArgs({ allowPositionals: true, allowNegative: true, options: { ...sharedOptions, ...extra } });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function numberOption(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(value) || value < 0) throw new UsageError(`--${name} must be a non-negative number, got "${String(raw)}"`);
  return value;
}

export function keyValues(items: readonly string[] | undefined, flag: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of items ?? []) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`--${flag} takes KEY=VALUE, got "${item}"`);
    result[item.slice(0, at)] = item.slice(at + 1);
  }
  return result;
}

export function sizeOverrides(values: Record<string, unknown>): SizeOverrides {
  const n = (name: string) => numberOption(name, values[name]);
  return {
    seats: n('seats'),
    attempts: n('attempts'),
    users: n('users'),
    attemptsPerBuyer: n('attempts-per-buyer'),
    concurrency: n('concurrency'),
    rate: n('rate'),
    durationS: n('duration-s'),
    clients: n('clients'),
    fanoutRate: n('fanout-rate'),
    fanoutDurationS: n('fanout-duration-s'),
    fanoutSeats: n('fanout-seats'),
    subsectionsPerClient: n('subsections-per-client'),
    connectPerS: n('connect-rate'),
    subsectionSeats: n('subsection-seats'),
    manualShare: n('manual-share'),
    sseSample: n('sse-sample'),
    search: values.search as boolean | undefined,
    searchFrom: n('search-from'),
    searchStep: n('search-step'),
    searchTo: n('search-to'),
    searchDurationS: n('search-duration-s'),
    acceptP99TargetMs: n('p99-target-ms'),
    connections: n('connections'),
    invariants: values.invariants as boolean | undefined,
    seed: n('seed'),
    eventSeats: n('event-seats'),
  };
}

export function launchSettings(values: Record<string, unknown>) {
  return {
    partitions: numberOption('partitions', values.partitions) ?? 12,
    reservationInstances: numberOption('reservation-instances', values['reservation-instances']) ?? 1,
    env: keyValues(values.env as string[] | undefined, 'env'),
    nodeFlags: typeof values['cpu-prof'] === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : [],
    echoLogs: values['echo-logs'] === true,
  };
}
