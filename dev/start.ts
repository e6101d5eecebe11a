import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { loadConfig } from '@ticketing/shared/config';
import { ensureDatabase, runMigrations } from '@ticketing/shared/db/migrate';
import { createKafkaClient } from '@ticketing/shared/messaging/kafka';
import { ensureTopic } from '@ticketing/shared/messaging/topic-check';
import { createLogger } from '@ticketing/shared/telemetry/logger';
import { createTokenSigner } from '../ticketing-service/src/plugins/tokens.ts';
import { startMockKafka, type MockKafka } from './kafka-mock/mock-kafka.ts';

// `npm start`: the whole system on local defaults. Starts the local Kafka mock cluster when
// KAFKA_BROKERS is not set, applies migrations, runs both services, creates a demo event and
// prints where everything is. Ctrl-C stops it all, services first so they drain cleanly.

const root = fileURLToPath(new URL('..', import.meta.url));
const env: Record<string, string | undefined> = { ...process.env };
const children: Array<{ name: string; process: ChildProcess }> = [];
let kafkaMock: MockKafka | undefined;
let stopping = false;

const say = (line = '') => process.stdout.write(`${line}\n`);

async function main() {
  if (!env.KAFKA_BROKERS) {
    const config = loadConfig(env);
    kafkaMock = await startMockKafka({ brokers: 3, topics: [{ name: config.kafka.commandTopic, partitions: config.kafka.partitions }], controlPort: 0, detached: true });
    env.KAFKA_BROKERS = kafkaMock.brokers.join(',');
    // The mock answers a fetch only when maxWait elapses (it ignores minBytes), so keep it short.
    env.KAFKA_MAX_WAIT_MS ??= '10';
    say(`local Kafka mock cluster: ${env.KAFKA_BROKERS} (fault control on 127.0.0.1:${kafkaMock.controlPort})`);
  }
  const config = loadConfig(env);
  if (kafkaMock === undefined) {
    const kafka = createKafkaClient({ ...config.kafka, clientId: 'start', logger: createLogger({ name: 'start', level: 'warn' }) });
    say(await ensureTopic(kafka, { topic: config.kafka.commandTopic, partitions: config.kafka.partitions, replicationFactor: config.kafka.replicationFactor }));
    await kafka.close();
  }
  if (config.env !== 'production') await ensureDatabase(config.postgres.url, config.postgres);
  await runMigrations(config.postgres.url, config.postgres);
  say('migrations applied');

  launch('ticketing', 'ticketing-service/src/main.ts');
  launch('reservation', 'reservation-service/src/main.ts');
  const api = config.http.publicUrl;
  const reservationOps = `http://127.0.0.1:${config.http.reservationPort}`;
  await waitReady(`${api}/health/ready`);
  await waitReady(`${reservationOps}/health/ready`);

  const sign = createTokenSigner(config.auth.jwtSecret);
  const organizer = sign({ sub: 'demo-organizer', role: 'organizer' });
  const buyer = sign({ sub: 'demo-buyer', role: 'buyer' });
  const eventId = await demoEvent(config.postgres.url, api, organizer);

  say();
  say('The ticketing system is running.');
  say(`  API               ${api}`);
  say(`  API docs          ${api}/docs`);
  say(`  health            ${api}/health/ready   ${reservationOps}/health/ready`);
  say(`  metrics           ${api}/metrics   ${reservationOps}/metrics`);
  say(`  demo event        ${api}/events/${eventId}`);
  say(`  seat map          ${api}/events/${eventId}/sections/Floor/subsections/1/seats`);
  say(`  live seat map     ${api}/events/${eventId}/stream`);
  say();
  say(`  organizer token   ${organizer}`);
  say(`  buyer token       ${buyer}`);
  say();
  const bookingId = uuidv7();
  say('  book two seats (every booking needs a fresh UUIDv7 id; resending one is a safe retry):');
  say(`    curl -s -X POST ${api}/bookings -H 'authorization: Bearer ${buyer}' -H 'content-type: application/json' \\`);
  say(`      -d '${JSON.stringify({ id: bookingId, eventId, section: 'Floor', subsection: 1, quantity: 2 })}'`);
  say(`    curl -s ${api}/bookings/${bookingId} -H 'authorization: Bearer ${buyer}'`);
  say();
  say('Ctrl-C stops everything.');
}

function launch(name: string, entry: string) {
  // Own process group: Ctrl-C reaches only this script, which stops the services in order
  // (each gets exactly one SIGTERM; a second signal would make it skip its graceful drain).
  // `--import` runs OpenTelemetry's set-up before the service's own modules load (it does nothing
  // unless OTEL_EXPORTER_OTLP_ENDPOINT is set, e.g. to the compose stack's Jaeger on :4318).
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', '--import', '@ticketing/shared/telemetry/instrument', entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push({ name, process: child });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => say(formatLog(name, line)));
  }
  child.once('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} exited (${signal ?? code}); stopping everything`);
    void shutdown(1);
  });
}

// Services log JSON for machines; show people one readable line per entry.
function formatLog(name: string, line: string): string {
  try {
    const { level, msg, time: _time, service: _service, name: _name, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `[${name}] ${String(level).padEnd(5)} ${String(msg)}${extra}`;
  } catch {
    return `[${name}] ${line}`;
  }
}

async function waitReady(url: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(url).then((response) => response.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not become ready within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// The demo event is created once per database and reused by later starts.
async function demoEvent(databaseUrl: string, api: string, organizerToken: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const existing = await client.query<{ id: string }>("select id from events where organizer_id = 'demo-organizer' and name = 'Demo Arena' order by created_at limit 1");
    if (existing.rows[0]) return existing.rows[0].id;
  } finally {
    await client.end();
  }
  const response = await fetch(`${api}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${organizerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'Demo Arena',
      startsAt: new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString(),
      sections: [
        { name: 'Floor', subsections: [1, 2].map((number) => ({ number, rows: 20, seatsPerRow: 25, priceCents: 12_000 })) },
        { name: 'Balcony', subsections: [1, 2, 3].map((number) => ({ number, rows: 10, seatsPerRow: 30, priceCents: 6_500 })) },
      ],
    }),
  });
  const body = (await response.json()) as { id?: string };
  if (response.status !== 201 || !body.id) throw new Error(`creating the demo event failed: ${response.status} ${JSON.stringify(body)}`);
  return body.id;
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  for (const { process: child } of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map(({ process: child }) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
  await kafkaMock?.stop();
  process.exit(code);
}

process.on('exit', () => {
  for (const { process: child } of children) if (child.exitCode === null) child.kill('SIGKILL');
});
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch(async (error: unknown) => {
  say(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});
