import { loadConfig, SETTINGS, type SettingName } from '@ticketing/shared/config';
import { createKafkaClient } from '@ticketing/shared/messaging/kafka';
import { createLogger } from '@ticketing/shared/telemetry/logger';
import { cmdlineOf, environOf, pidListeningOn, pidsByCommand, type CpuGroup } from './processes.ts';

// What is being measured: which system answers at the URL, which processes serve it, and the
// settings they really run with. For a local target the settings are read from the serving
// process's environment (/proc/<pid>/environ) and completed with the defaults of
// shared/src/config.ts, exactly as the service's loadConfig sees them; `--setting KEY=VALUE`
// states them for a target we cannot inspect. Either way they are printed with every result,
// because the Kafka stand-in's KAFKA_MAX_WAIT_MS alone moves end-to-end latency by 10×.

export type TargetKind = 'ticketing' | 'pg-lock' | 'redis-lua' | 'unknown';

export interface TargetInfo {
  readonly url: string;
  readonly kind: TargetKind;
  readonly label: string;
  readonly servicePid: number | undefined;
  readonly reservationPids: readonly number[];
  readonly kafkaMockPid: number | undefined;
  readonly settingsSource: string;
  // The settings that shape the numbers, as the target runs them.
  readonly settings: Readonly<Record<string, string | number>>;
  readonly jwtSecret: string;
  readonly databaseUrl: string | undefined;
  // The Redis server the target uses, when it is on this machine (for command counts).
  readonly redisUrl: string | undefined;
  readonly cpuGroups: readonly CpuGroup[];
}

const reportedSettings: readonly SettingName[] = [
  'NODE_ENV', 'LOG_LEVEL', 'KAFKA_MAX_WAIT_MS', 'KAFKA_PARTITIONS', 'KAFKA_PARTITIONS_CONCURRENCY', 'KAFKA_PRODUCE_LINGER_MS',
  'KAFKA_PRODUCE_BATCH_MAX', 'KAFKA_PRODUCE_QUEUE_MAX', 'KAFKA_SESSION_TIMEOUT_MS', 'RESERVATION_BATCH_MAX', 'RESERVATION_COALESCE_MS', 'DATABASE_POOL_MAX',
  'SSE_DELTA_FLUSH_MS', 'SSE_CONNECTIONS_MAX', 'SSE_SEAT_MAP_SEATS_MAX', 'BOOKING_QUANTITY_MAX', 'REDIS_KEY_PREFIX',
];

const defaultJwtSecret = loadConfig({}).auth.jwtSecret;

function kindOf(cmdline: string | undefined): TargetKind {
  if (!cmdline) return 'unknown';
  if (cmdline.includes('ticketing-service/src/main.ts')) return 'ticketing';
  if (cmdline.includes('baselines/pg-lock')) return 'pg-lock';
  if (cmdline.includes('baselines/redis-lua')) return 'redis-lua';
  return 'unknown';
}

function isLocal(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'].includes(url.hostname);
}

function portOf(url: string | undefined, fallback: number): number {
  if (!url) return fallback;
  try {
    const parsed = new URL(url);
    return parsed.port ? Number(parsed.port) : fallback;
  } catch {
    return fallback;
  }
}

export async function describeTarget(options: {
  url: string;
  pid?: number;
  jwtSecret?: string;
  databaseUrl?: string;
  settings?: Record<string, string>;
}): Promise<TargetInfo> {
  const url = new URL(options.url);
  const pid = options.pid ?? (isLocal(url) ? pidListeningOn(Number(url.port || 80)) : undefined);
  const environ = pid === undefined ? undefined : environOf(pid);
  const kind = kindOf(pid === undefined ? undefined : cmdlineOf(pid));
  const given = options.settings ?? {};
  const env = { ...(environ ?? {}), ...given };
  const settingsSource = environ
    ? `environment of pid ${pid}${Object.keys(given).length ? ' and --setting' : ''}, defaults from shared/src/config.ts`
    : Object.keys(given).length ? '--setting only (the target process could not be inspected), defaults from shared/src/config.ts' : 'defaults from shared/src/config.ts (target process not found: settings unverified)';

  const settings: Record<string, string | number> = {};
  let reservationPids: number[] = [];
  let kafkaMockPid: number | undefined;
  let config: ReturnType<typeof loadConfig> | undefined;
  try {
    config = loadConfig(Object.fromEntries(Object.entries(env).filter(([name]) => name in SETTINGS)));
  } catch {
    config = undefined;
  }

  if (kind === 'ticketing' || kind === 'unknown') {
    for (const name of reportedSettings) {
      const raw = env[name];
      settings[name] = raw !== undefined && raw !== '' ? raw : `${SETTINGS[name].default ?? ''} (default)`;
    }
    if (environ && kind === 'ticketing') {
      // Reservation processes of the same system share its Kafka brokers and database.
      reservationPids = pidsByCommand((_comm, cmdline) => cmdline.includes('reservation-service/src/main.ts')).filter((candidate) => {
        const other = environOf(candidate);
        return other?.KAFKA_BROKERS === environ.KAFKA_BROKERS && other?.DATABASE_URL === environ.DATABASE_URL;
      });
      const firstBroker = config?.kafka.brokers[0];
      const brokerPid = firstBroker ? pidListeningOn(portOf(`tcp://${firstBroker}`, 9092)) : undefined;
      if (brokerPid !== undefined && (cmdlineOf(brokerPid) ?? '').includes('mock-kafka')) kafkaMockPid = brokerPid;
      settings['reservation-service instances'] = reservationPids.length;
      settings['Kafka'] = kafkaMockPid !== undefined
        ? `librdkafka mock cluster, ${config?.kafka.brokers.length ?? '?'} brokers (pid ${kafkaMockPid}); fetch waits the full KAFKA_MAX_WAIT_MS`
        : `${config?.kafka.brokers.length ?? '?'} brokers at ${env.KAFKA_BROKERS ?? '?'}`;
      const partitions = config ? await topicPartitions(config.kafka.brokers, config.kafka.commandTopic) : undefined;
      if (partitions !== undefined) settings['command topic partitions (broker)'] = partitions;
    }
  } else if (environ) {
    for (const [name, value] of Object.entries(environ)) if (name.startsWith('BASELINE_')) settings[name] = value;
  }
  for (const [name, value] of Object.entries(given)) settings[name] = value;

  // Postgres serves other databases on a shared machine: count the backends of the target's
  // database (their command line names it) and the server's own background processes, not the
  // backends of other databases.
  const databaseUrl = options.databaseUrl ?? env.BASELINE_DATABASE_URL ?? env.DATABASE_URL ?? (kind === 'ticketing' || kind === 'unknown' ? config?.postgres.url : undefined);
  const databaseName = databaseUrl ? databaseNameOf(databaseUrl) : undefined;
  const postgresPids = () => pidsByCommand((comm, cmdline) => comm === 'postgres' && isPostgresOf(cmdline, databaseName));
  const redisPid = isLocal(url) ? pidListeningOn(portOf(env.REDIS_URL, 6379)) : undefined;
  const cpuGroups: CpuGroup[] = [{ name: 'load generator', pids: () => [process.pid] }];
  if (pid !== undefined) cpuGroups.push({ name: kind === 'ticketing' ? 'ticketing-service' : kind, pids: () => [pid] });
  if (reservationPids.length > 0) cpuGroups.push({ name: 'reservation-service', pids: () => reservationPids });
  if (kafkaMockPid !== undefined) cpuGroups.push({ name: 'kafka mock', pids: () => [kafkaMockPid!] });
  if (isLocal(url)) cpuGroups.push({ name: databaseName ? `postgres (${databaseName} + server)` : 'postgres (all)', pids: postgresPids });
  if (redisPid !== undefined) cpuGroups.push({ name: 'redis', pids: () => [redisPid] });

  return {
    url: options.url.replace(/\/$/, ''),
    kind,
    label: kind === 'unknown' ? url.host : kind,
    servicePid: pid,
    reservationPids,
    kafkaMockPid,
    settingsSource,
    settings,
    jwtSecret: options.jwtSecret ?? env.JWT_SECRET ?? defaultJwtSecret,
    databaseUrl,
    redisUrl: isLocal(url) ? env.BASELINE_REDIS_URL ?? env.REDIS_URL ?? config?.redis.url : undefined,
    cpuGroups,
  };
}

function databaseNameOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1)) || undefined;
  } catch {
    return undefined;
  }
}

// Backends show "postgres: 15/main: <user> <database> <client> <state>", autovacuum workers
// "… autovacuum worker <database>"; the postmaster, checkpointer, WAL writer and background
// writer work for every database and are counted.
function isPostgresOf(cmdline: string, database: string | undefined): boolean {
  if (database === undefined) return true;
  const match = /^postgres: [^:]+: (.*)$/.exec(cmdline);
  if (!match) return true;
  const words = match[1]!.split(' ');
  if (['checkpointer', 'walwriter', 'archiver'].includes(words[0]!) || match[1]!.startsWith('background writer') || match[1]!.startsWith('logical replication launcher') || match[1]!.startsWith('autovacuum launcher')) return true;
  return words.includes(database);
}

async function topicPartitions(brokers: readonly string[], topic: string): Promise<number | undefined> {
  const kafka = createKafkaClient({ brokers, clientId: 'benchmark', logger: createLogger({ name: 'benchmark', level: 'silent' }) });
  const timeoutMs = 5000;
  try {
    return await Promise.race([
      kafka.topicPartitions(topic).then((count) => count ?? undefined),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref()),
    ]);
  } catch {
    return undefined;
  } finally {
    await kafka.close().catch(() => {});
  }
}
