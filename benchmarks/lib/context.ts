import pg from 'pg';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApi, type Api } from '../../dev/testing/system.ts';
import { createHttpClient, createTokens, type HttpClient, type Tokens } from './http.ts';
import { describeMachine, type MachineInfo } from './machine.ts';
import { startCpuMeter } from './processes.ts';
import { describeTarget, type TargetInfo } from './target.ts';

// Everything a scenario needs to talk to the target, made once per run.

export interface RunContext {
  readonly target: TargetInfo;
  readonly machine: MachineInfo;
  readonly http: HttpClient;
  readonly tokens: Tokens;
  // The target's database, for outcomes and invariants; undefined when unreachable.
  readonly pool: pg.Pool | undefined;
  // The test helpers' client (invariants read the API through it).
  readonly api: Api;
  readonly say: (line?: string) => void;
  // CPU seconds per second each measured process uses with no traffic, and the share of the
  // machine used meanwhile by anything else (other work that will skew the numbers); measured
  // again by measureIdle() right before each scenario.
  readonly idleCpuPerS: Readonly<Record<string, number>>;
  readonly idleMachineBusyPercent: number | undefined;
  measureIdle(): Promise<void>;
  close(): Promise<void>;
}

const idleMeasureMs = 2000;
const idleBusyWarnPercent = 10;

export async function createRunContext(options: {
  url: string;
  pid?: number;
  jwtSecret?: string;
  databaseUrl?: string;
  settings?: Record<string, string>;
  connections: number;
  say: (line?: string) => void;
}): Promise<RunContext> {
  const target = await describeTarget(options);
  const http = createHttpClient(target.url, { connections: options.connections });
  let pool: pg.Pool | undefined;
  if (target.databaseUrl) {
    const candidate = new pg.Pool({ connectionString: target.databaseUrl, max: 4, application_name: 'benchmark' });
    candidate.on('error', () => {});
    try {
      await candidate.query('select 1 from bookings limit 1');
      pool = candidate;
    } catch (error) {
      options.say(`note: the target's database ${redact(target.databaseUrl)} is not usable (${(error as Error).message}); outcomes will be polled through the API and invariants I1/I4/I5 cannot be checked`);
      await candidate.end().catch(() => {});
    }
  }
  let idleCpuPerS: Record<string, number> = {};
  let idleMachineBusyPercent: number | undefined;
  const measureIdle = async () => {
    const idle = startCpuMeter(target.cpuGroups);
    await sleep(idleMeasureMs);
    const idleUse = idle.stop();
    idleCpuPerS = Object.fromEntries(Object.entries(idleUse.seconds).map(([name, seconds]) => [name, Math.round((seconds / idleUse.elapsedS) * 1000) / 1000]));
    // Busy share of the machine not explained by the measured processes: other work.
    const tracked = Object.values(idleUse.seconds).reduce((sum, seconds) => sum + seconds, 0);
    idleMachineBusyPercent = idleUse.machineBusySeconds === undefined
      ? undefined
      : Math.round((Math.max(0, idleUse.machineBusySeconds - tracked) / (idleUse.elapsedS * cpus().length)) * 1000) / 10;
    if ((idleMachineBusyPercent ?? 0) > idleBusyWarnPercent) {
      options.say(`WARNING: other work used ${idleMachineBusyPercent}% of the machine before any load was sent; it will skew the results`);
    }
  };
  return {
    target,
    get idleCpuPerS() {
      return idleCpuPerS;
    },
    get idleMachineBusyPercent() {
      return idleMachineBusyPercent;
    },
    measureIdle,
    machine: describeMachine(),
    http,
    tokens: createTokens(target.jwtSecret),
    pool,
    api: createApi(target.url, target.jwtSecret),
    say: options.say,
    async close() {
      await http.close();
      await pool?.end();
    },
  };
}

export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
