import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { v7 as uuidv7 } from 'uuid';
import { createTestEnvironment, type TestEnvironment } from './testing/environment.ts';
import { createPrng } from './testing/prng.ts';
import { createTokenSigner } from '../ticketing-service/src/plugins/tokens.ts';

// `npm run profile`: a short sellout with V8's CPU profiler on in both services. Starts them
// as production does (plus --cpu-prof) on a private database, Redis prefix and Kafka mock,
// drives bookings for --seconds, stops them with SIGTERM so each writes its .cpuprofile, and
// prints where the profiles are and the functions that took the most CPU. docs/profiling.md
// explains how to read them.

const usage = `usage: node dev/profile.ts [--seconds 20] [--concurrency 64] [--seats 60000] [--out DIR]

  --seconds N       how long bookings are sent (default 20)
  --concurrency N   POST /bookings in flight at once (default 64)
  --seats N         seats of the event, in subsections of 2,500 (default 60000: sells out in a
                    20 s run on a 2-core machine, so the profile has the sold-out phase too)
  --out DIR         where the profiles go (default profiles/<time>/, git-ignored)
  --top N           functions listed per profile (default 15)`;

const root = fileURLToPath(new URL('..', import.meta.url));
const say = (line = '') => process.stdout.write(`${line}\n`);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '64' },
    seats: { type: 'string', default: '60000' },
    out: { type: 'string' },
    top: { type: 'string', default: '15' },
    help: { type: 'boolean', default: false },
  },
});
const positive = (name: string, text: string) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    say(`--${name} must be a positive integer\n\n${usage}`);
    process.exit(2);
  }
  return value;
};
if (values.help) {
  say(usage);
  process.exit(0);
}
const seconds = positive('seconds', values.seconds);
const concurrency = positive('concurrency', values.concurrency);
const seats = positive('seats', values.seats);
const top = positive('top', values.top);
const outDir = values.out ?? join(root, 'profiles', new Date().toISOString().replaceAll(':', '-').slice(0, 19));

const subsectionSeats = { rows: 50, seatsPerRow: 50 };
const usersMax = 50_000;

interface Service {
  readonly name: string;
  readonly process: ChildProcess;
  readonly port: number;
  readonly dir: string;
}

// As dev/start.ts and the Dockerfile start a service, plus the profiler.
async function startService(name: 'ticketing' | 'reservation', env: Record<string, string>): Promise<Service> {
  const dir = join(outDir, `${name}-service`);
  mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [
    '--disable-warning=TimeoutNegativeWarning',
    '--import', '@ticketing/shared/telemetry/instrument',
    '--cpu-prof', '--cpu-prof-dir', dir,
    `${name}-service/src/main.ts`,
  ], { cwd: root, env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const started = name === 'ticketing' ? '"ticketing service listening"' : '"reservation service started"';
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const line = output.split('\n').find((candidate) => candidate.includes(started));
      if (!line) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      const parsed = JSON.parse(line) as { port?: number; url?: string };
      resolve(parsed.port ?? Number(new URL(parsed.url!).port));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name}-service exited with ${code} before starting:\n${output}`)));
  });
  return { name: `${name}-service`, process: child, port, dir };
}

async function stopService(service: Service): Promise<void> {
  if (service.process.exitCode !== null || service.process.signalCode !== null) return;
  service.process.kill('SIGTERM');
  await once(service.process, 'exit');
}

interface LoadResult {
  sent: number;
  readonly statuses: Map<number, number>;
  readonly latenciesMs: number[];
}

async function sendBookings(url: string, eventId: string, subsections: number, sign: ReturnType<typeof createTokenSigner>): Promise<LoadResult> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const random = createPrng(20_251_122).next;
  const tokens = new Map<number, string>();
  const tokenOf = (user: number) => {
    let token = tokens.get(user);
    if (!token) tokens.set(user, (token = sign({ sub: `profile-user-${user}`, role: 'buyer' })));
    return token;
  };
  const result: LoadResult = { sent: 0, statuses: new Map(), latenciesMs: [] };
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const body = JSON.stringify({ id: uuidv7(), eventId, section: 'Floor', subsection: 1 + Math.floor(random() * subsections), quantity: 1 + Math.floor(random() * 4) });
      const startedAt = performance.now();
      const response = await pool.request({
        method: 'POST',
        path: '/bookings',
        headers: { authorization: `Bearer ${tokenOf(Math.floor(random() * usersMax))}`, 'content-type': 'application/json' },
        body,
      });
      await response.body.dump();
      result.latenciesMs.push(performance.now() - startedAt);
      result.sent += 1;
      result.statuses.set(response.statusCode, (result.statuses.get(response.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  return result;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

// Self time per function as a share of the time the process was busy (not idle): the first
// thing to look at. The call stacks (who called the hot function) are in the flame chart.
function hottestFunctions(file: string, count: number): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, index) => {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    const delta = Math.max(0, profile.timeDeltas[index] ?? 0);
    if (functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    const where = url ? `${url.replace(/^file:\/\//, '').replace(root, '').replace(/^.*\/node_modules\//, '')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    busyUs += delta;
  });
  const header = `busy ${(busyUs / 1e6).toFixed(1)} s, idle ${(idleUs / 1e6).toFixed(1)} s; self time as a share of busy time:`;
  return [header, ...[...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, us]) => `${((100 * us) / Math.max(busyUs, 1)).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)];
}

// Waits until the decided count stops moving (at most backlogWaitMs).
async function settle(environment: TestEnvironment): Promise<number> {
  const backlogWaitMs = 30_000;
  const deadline = Date.now() + backlogWaitMs;
  let last = -1;
  for (;;) {
    const { rows } = await environment.pool.query<{ decided: number }>('select count(*)::int as decided from bookings');
    const decided = rows[0]!.decided;
    if (decided === last || Date.now() > deadline) return decided;
    last = decided;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  say(`profiling a sellout: ${seconds} s of POST /bookings at concurrency ${concurrency}, ${seats} seats, KAFKA_MAX_WAIT_MS=10, tracing off`);
  const environment: TestEnvironment = await createTestEnvironment({ partitions: 6, env: { LOG_LEVEL: 'warn' } });
  const services: Service[] = [];
  try {
    const env = { ...environment.env, KAFKA_MAX_WAIT_MS: '10', DATABASE_POOL_MAX: '10' };
    services.push(await startService('ticketing', env));
    services.push(await startService('reservation', env));
    const url = `http://127.0.0.1:${services[0]!.port}`;
    const sign = createTokenSigner(environment.config.auth.jwtSecret);
    const subsections = Math.max(1, Math.ceil(seats / (subsectionSeats.rows * subsectionSeats.seatsPerRow)));
    const created = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sign({ sub: 'profile-organizer', role: 'organizer' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Profiled sellout', sections: [{ name: 'Floor', subsections: Array.from({ length: subsections }, (_, index) => ({ number: index + 1, ...subsectionSeats, priceCents: 5000 })) }] }),
    });
    const event = (await created.json()) as { id?: string };
    if (created.status !== 201 || !event.id) throw new Error(`creating the event failed: ${created.status} ${JSON.stringify(event)}`);

    const load = await sendBookings(url, event.id, subsections, sign);
    const sorted = [...load.latenciesMs].sort((a, b) => a - b);
    say(`sent ${load.sent} bookings in ${seconds} s (${Math.round(load.sent / seconds)}/s); statuses ${JSON.stringify(Object.fromEntries(load.statuses))}`);
    say(`accept latency p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms (client side, same machine)`);
    // Let the consumer finish its backlog, so its profile covers every decision.
    const decided = await settle(environment);
    say(`${decided} bookings decided; stopping the services (SIGTERM makes each write its profile)`);
  } finally {
    for (const service of services.reverse()) await stopService(service);
    await environment.close();
  }

  say();
  for (const dir of [join(outDir, 'ticketing-service'), join(outDir, 'reservation-service')]) {
    const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
    for (const file of files) {
      const path = join(dir, file);
      const shown = relative(process.cwd(), path);
      say(shown.startsWith('..') ? path : shown);
      for (const line of hottestFunctions(path, top)) say(`  ${line}`);
      say();
    }
  }
  say('Open a profile in Chrome DevTools (Performance > Load profile) or https://www.speedscope.app; docs/profiling.md explains what to look for.');
}

main().catch((error: unknown) => {
  say(`profile failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(1);
});
