import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '@ticketing/shared/config';
import { ensureDatabase, runMigrations } from '@ticketing/shared/db/migrate';
import { startMockKafka, type MockKafka } from '../../dev/kafka-mock/mock-kafka.ts';
import { freePort } from '../../dev/testing/free-port.ts';

// Starts a whole system for a benchmark and stops it again: the product the way `npm start`
// (dev/start.ts) runs it — the librdkafka mock cluster, migrations, one ticketing process and
// N reservation processes on the same environment — or one of the baselines. Unlike
// dev/start.ts it takes the partition count, the number of reservation processes, extra
// settings and Node flags (--cpu-prof) as parameters, and it uses its own database and Redis
// key prefix, dropped and cleared around the run, so benchmarks never touch `npm start`'s data.
// (dev/start.ts runs on import, so its steps are repeated here rather than imported.)

export interface LaunchedSystem {
  readonly url: string;
  readonly env: Readonly<Record<string, string>>;
  readonly pids: Readonly<Record<string, number>>;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const readyTimeoutMs = 90_000;
const stopTimeoutMs = 30_000;
const adminDatabaseUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
const logLinesKept = 200;

export function databaseUrl(name: string): string {
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

// Only databases named bench_* are ever dropped.
export async function resetDatabase(name: string): Promise<void> {
  if (!/^bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to reset database "${name}" (benchmark databases are named bench_*)`);
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
  await ensureDatabase(databaseUrl(name));
}

export async function dropDatabase(name: string): Promise<void> {
  if (!/^bench_[a-z0-9_]+$/.test(name)) return;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await admin.end();
  }
}

// Deletes this benchmark's keys only (never FLUSH: the server is shared).
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  if (!prefix.startsWith('bench')) throw new Error(`refusing to delete Redis keys outside a bench* prefix: "${prefix}"`);
  const redis = new Redis(redisUrl, { protocol: 2, lazyConnect: true });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) deleted += await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

// Systems started by this process, stopped on Ctrl-C or SIGTERM so none is left running.
const running = new Set<() => Promise<void>>();
let signalsHandled = false;

function track(stop: () => Promise<void>): () => Promise<void> {
  if (!signalsHandled) {
    signalsHandled = true;
    const stopAll = async (signal: NodeJS.Signals) => {
      process.stderr.write(`${signal}: stopping the launched systems\n`);
      await Promise.allSettled([...running].map((stopOne) => stopOne()));
      process.exit(130);
    };
    process.once('SIGINT', () => void stopAll('SIGINT'));
    process.once('SIGTERM', () => void stopAll('SIGTERM'));
  }
  running.add(stop);
  return async () => {
    running.delete(stop);
    await stop();
  };
}

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly log: string[];
}

function spawnNode(name: string, args: readonly string[], env: Record<string, string>, say: (line: string) => void, echo: boolean): Child {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      log.push(line);
      if (log.length > logLinesKept) log.shift();
      if (echo) say(`[${name}] ${line}`);
    });
  }
  return { name, process: child, log };
}

async function waitReady(url: string, child: Child): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${child.name} exited (${child.process.signalCode ?? child.process.exitCode}) before it was ready:\n${child.log.slice(-30).join('\n')}`);
    }
    const ok = await fetch(url).then((response) => response.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} was not ready within ${readyTimeoutMs} ms:\n${child.log.slice(-30).join('\n')}`);
    await sleep(200);
  }
}

async function stopChildren(children: readonly Child[]): Promise<void> {
  await Promise.all(children.map(async (child) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return;
    const exited = once(child.process, 'exit');
    // One SIGTERM: the services drain (a second signal would make them skip it).
    child.process.kill('SIGTERM');
    const timeout = sleep(stopTimeoutMs).then(() => 'timeout');
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.process.kill('SIGKILL');
      await exited;
    }
  }));
}

export interface ProductLaunchOptions {
  readonly name: string;
  readonly partitions: number;
  readonly reservationInstances: number;
  // Settings on top of dev/start.ts's (which sets only KAFKA_MAX_WAIT_MS=10 for the mock).
  readonly env: Readonly<Record<string, string>>;
  readonly nodeFlags: readonly string[];
  readonly echoLogs: boolean;
  readonly keepData: boolean;
  readonly say: (line: string) => void;
}

export async function launchProduct(options: ProductLaunchOptions): Promise<LaunchedSystem> {
  const database = `bench_${options.name}`;
  const redisPrefix = `bench:${options.name}:`;
  const port = await freePort();
  const baseEnv: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const config = loadConfig({ ...options.env });
  let kafka: MockKafka | undefined;
  const children: Child[] = [];
  const cleanUp = async () => {
    await stopChildren(children);
    await kafka?.stop().catch(() => {});
    if (!options.keepData) {
      await deleteRedisKeys(config.redis.url, redisPrefix).catch(() => 0);
      await dropDatabase(database).catch(() => {});
    }
  };
  try {
    kafka = await startMockKafka({ brokers: 3, topics: [{ name: config.kafka.commandTopic, partitions: options.partitions }] });
    await resetDatabase(database);
    await deleteRedisKeys(config.redis.url, redisPrefix);
    const env: Record<string, string> = {
      ...baseEnv,
      KAFKA_MAX_WAIT_MS: '10',
      ...options.env,
      DATABASE_URL: databaseUrl(database),
      REDIS_KEY_PREFIX: redisPrefix,
      KAFKA_BROKERS: kafka.brokers.join(','),
      KAFKA_PARTITIONS: String(options.partitions),
      PORT: String(port),
      HOST: '127.0.0.1',
    };
    await runMigrations(env.DATABASE_URL!);
    const flags = [...options.nodeFlags, '--disable-warning=TimeoutNegativeWarning'];
    const ticketing = spawnNode('ticketing', [...flags, 'ticketing-service/src/main.ts'], { ...env, RESERVATION_HTTP_PORT: String(await freePort()) }, options.say, options.echoLogs);
    children.push(ticketing);
    const reservationPorts: number[] = [];
    for (let instance = 0; instance < options.reservationInstances; instance++) {
      const reservationPort = await freePort();
      reservationPorts.push(reservationPort);
      children.push(spawnNode(`reservation-${instance + 1}`, [...flags, 'reservation-service/src/main.ts'], { ...env, RESERVATION_HTTP_PORT: String(reservationPort) }, options.say, options.echoLogs));
    }
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/health/ready`, ticketing);
    await Promise.all(reservationPorts.map((reservationPort, index) => waitReady(`http://127.0.0.1:${reservationPort}/health/ready`, children[index + 1]!)));
    // Every reservation process must own partitions before the clock starts.
    if (options.reservationInstances > 1) await sleep(3000);
    const pids: Record<string, number> = {};
    for (const child of children) pids[child.name] = child.process.pid!;
    return { url, env, pids, stop: track(cleanUp) };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

export interface BaselineLaunchOptions {
  readonly kind: 'pg-lock' | 'redis-lua';
  readonly env: Readonly<Record<string, string>>;
  readonly nodeFlags: readonly string[];
  readonly echoLogs: boolean;
  readonly keepData: boolean;
  readonly say: (line: string) => void;
}

export async function launchBaseline(options: BaselineLaunchOptions): Promise<LaunchedSystem> {
  const database = `bench_${options.kind.replace('-', '_')}`;
  const redisPrefix = `bench:${options.kind}:`;
  const port = await freePort();
  const redisUrl = options.env.REDIS_URL ?? loadConfig({}).redis.url;
  await resetDatabase(database);
  await deleteRedisKeys(redisUrl, redisPrefix);
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    ...options.env,
    BASELINE_PORT: String(port),
    BASELINE_DATABASE_URL: databaseUrl(database),
    BASELINE_REDIS_URL: redisUrl,
    BASELINE_REDIS_PREFIX: redisPrefix,
  };
  const child = spawnNode(options.kind, [...options.nodeFlags, `benchmarks/baselines/${options.kind}/server.ts`], env, options.say, options.echoLogs);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChildren([child]);
    if (!options.keepData) {
      await deleteRedisKeys(redisUrl, redisPrefix).catch(() => 0);
      await dropDatabase(database).catch(() => {});
    }
  };
  try {
    await waitReady(`${url}/health/ready`, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, env, pids: { [options.kind]: child.process.pid! }, stop: track(stop) };
}
