import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { after, before, test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, Client, type Dispatcher } from 'undici';
import { SETTINGS } from '@ticketing/shared/config';
import { decodeCommand } from '@ticketing/shared/messaging/codec';
import { createKafkaClient, type CommandConsumer, type KafkaClient } from '@ticketing/shared/messaging/kafka';
import { createLogger } from '@ticketing/shared/telemetry/logger';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import {
  createFuzzGenerator,
  createRateLimitGenerator,
  createWireGenerator,
  describeRequest,
  endpoints,
  familyNames,
  type Endpoint,
  type FuzzFixtures,
  type FuzzRequest,
  type WireRequest,
} from '../../dev/testing/fuzz-requests.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import type { TicketingService } from '../src/service.ts';

// Item 10 of issue 4: thousands of generated malformed and hostile requests against every
// endpoint of a real ticketing service (Postgres, Redis, the Kafka mock). Nothing may answer
// 5xx, every refusal is `{ error: { code, message } }`, no refused request changes Postgres,
// Redis or the command topic, every state change is accounted for by a deliberately valid
// request, and the process is healthy afterwards.
//
// Reproduce a run with FUZZ_SEED=<seed>; size it with FUZZ_REQUESTS=<n>; replay single storm
// requests with FUZZ_ONLY=<index>,<index>. Failures print the seed, each offending request (the
// smallest of its kind) and the server's log lines for it.

const defaultSeed = 0x2026_0410;
const seed = parseSeed(process.env.FUZZ_SEED);
const requestsTotal = parseCount(process.env.FUZZ_REQUESTS, 10_000);
const onlyIndexes = process.env.FUZZ_ONLY?.split(',').map(Number).filter(Number.isInteger);
const inFlightMax = 32;
const requestTimeoutMs = 15_000;
const responseBytesMax = 1024 * 1024;
// An SSE route that admitted the stream has sent its first message by then.
const sseFirstMessageWaitMs = 2000;
const wireAnswerWaitMs = 3000;
// Right after the storm, a liveness probe answers within this.
const livenessAnswerMsMax = 250;
// Beyond this the service's own load shedding (1 s) would have answered 503.
const loopDelayMsMax = 1000;
const heapGrowthBytesMax = 64 * 1024 * 1024;
const rateLimitedRequestCount = 400;
const wireRequestCount = 400;
const violationGroupsShownMax = 25;
const logLinesKeptMax = 20_000;

function parseSeed(text: string | undefined): number {
  if (text === undefined || text === '') return defaultSeed;
  const value = Number(text);
  assert.ok(Number.isInteger(value), `FUZZ_SEED must be an integer, got ${text}`);
  return value >>> 0;
}

function parseCount(text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  assert.ok(Number.isInteger(value) && value > 0, `FUZZ_REQUESTS must be a positive integer, got ${text}`);
  return value;
}

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
let fixtures: FuzzFixtures;
let audit: CommandAudit;
const logLines: string[] = [];

const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    if (logLines.length < logLinesKeptMax) logLines.push(chunk.toString('utf8'));
    done();
  },
});
const serviceLogger = createLogger({ name: 'ticketing', level: 'warn', destination: logSink });

before(async () => {
  environment = await createTestEnvironment({ partitions: 2 });
  // The per-user booking limit as high as the config allows, so the storm reaches the handlers.
  ticketing = await startTicketing(environment, { BOOKING_RATE_LIMIT_MAX: String(SETTINGS.BOOKING_RATE_LIMIT_MAX.max) }, serviceLogger);
  fixtures = await createFixtures(ticketing.api);
  audit = await startCommandAudit(environment);
});

after(async () => {
  await audit?.stop();
  await ticketing?.service.stop();
  await environment?.close();
});

const people = { organizer: 'fuzz-organizer', otherOrganizer: 'fuzz-organizer-2', buyer: 'fuzz-buyer', otherBuyer: 'fuzz-buyer-2' };

// Four events, four bookings decided by a real reservation service (which is then stopped, so
// nothing the storm sends is decided), one still pending, and an account.
async function createFixtures(api: Api): Promise<FuzzFixtures> {
  const events = await createFixtureEvents(api);
  const reservation = await startReservation(environment);
  let decided: Awaited<ReturnType<typeof decideFixtureBookings>>;
  try {
    decided = await decideFixtureBookings(api, events.open.id);
    assert.equal((await api.request('PATCH', `/events/${events.closed.id}`, { token: api.token(people.organizer, 'organizer'), body: { status: 'CLOSED' } })).status, 200);
    assert.equal((await api.request('PATCH', `/events/${events.cancelled.id}`, { token: api.token(people.otherOrganizer, 'organizer'), body: { status: 'CANCELLED' } })).status, 200);
  } finally {
    await reservation.stop();
  }
  const pending = { id: newBookingId(), eventId: events.open.id, section: 'A', subsection: 2, quantity: 1 };
  assert.equal((await api.request('POST', '/bookings', { token: api.token(people.buyer, 'buyer'), body: pending })).status, 202);
  const account = { email: 'fuzz-account@example.com', password: 'fuzz account password' };
  const signUp = await api.request('POST', '/users', { body: account });
  assert.equal(signUp.status, 201);
  const page = await api.request('GET', '/events?limit=1');
  assert.equal(typeof page.body.next, 'string');
  return {
    jwtSecret: environment.config.auth.jwtSecret, ...people, events, bookings: { ...decided, pending }, account: { id: signUp.body.id, ...account },
    cursor: page.body.next, retriedIdsMax: 40, epochMs: Date.now(),
  };
}

async function createFixtureEvents(api: Api): Promise<FuzzFixtures['events']> {
  const create = async (owner: string, name: string, sections: FuzzFixtures['events']['open']['sections']) => {
    const priced = sections.map((section) => ({ ...section, subsections: section.subsections.map((sub) => ({ ...sub, priceCents: 100 })) }));
    const created = await api.request('POST', '/events', { token: api.token(owner, 'organizer'), body: { name, sections: priced } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.id as string, sections };
  };
  // Section names with a space, an apostrophe and a non-ASCII letter, to be percent-encoded in paths.
  const open = await create(people.organizer, 'Fuzz arena', [
    { name: 'A', subsections: [{ number: 1, rows: 3, seatsPerRow: 4 }, { number: 2, rows: 2, seatsPerRow: 5 }] },
    { name: "Zürich O'Neil", subsections: [{ number: 7, rows: 2, seatsPerRow: 2 }] },
    { name: 'B', subsections: [{ number: 1, rows: 1, seatsPerRow: 2 }] },
  ]);
  const small = [{ name: 'A', subsections: [{ number: 1, rows: 2, seatsPerRow: 2 }] }];
  return {
    open, closed: await create(people.organizer, 'Fuzz closed', small), scratch: await create(people.organizer, 'Fuzz scratch', small),
    cancelled: await create(people.otherOrganizer, 'Fuzz cancelled', small),
  };
}

// B-1 has two seats: the other buyer takes both, so the buyer's request for one is rejected.
async function decideFixtureBookings(api: Api, eventId: string) {
  const book = async (user: string, request: { section: string; subsection: number; quantity: number }, status: string) => {
    const booking = { id: newBookingId(), eventId, ...request };
    const token = api.token(user, 'buyer');
    assert.equal((await api.request('POST', '/bookings', { token, body: booking })).status, 202);
    await waitFor(async () => (await api.request('GET', `/bookings/${booking.id}`, { token })).body.status === status || undefined, { timeoutMs: 15_000, what: `${status} booking` });
    return booking;
  };
  const reserved = await book(people.buyer, { section: 'A', subsection: 1, quantity: 2 }, 'RESERVED');
  const othersReserved = await book(people.otherBuyer, { section: 'B', subsection: 1, quantity: 2 }, 'RESERVED');
  const rejected = await book(people.buyer, { section: 'B', subsection: 1, quantity: 1 }, 'REJECTED');
  return { reserved, othersReserved, rejected };
}

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  readonly json: unknown;
}

// What is kept of one exchange: enough to count it. The request and the start of the answer
// are kept only when something was wrong, so the storm's own memory stays small.
interface Outcome {
  readonly index: number;
  readonly family: string;
  readonly endpoint: Endpoint;
  readonly expect: FuzzRequest['expect'];
  readonly status?: number;
  readonly problem?: string;
  readonly code?: string;
  readonly request?: FuzzRequest;
  readonly reply?: string;
  readonly requestId?: string;
}

async function exchange(agent: Agent, origin: string, request: FuzzRequest, ledger: Ledger): Promise<Outcome> {
  const { answer, error } = await send(agent, origin, request);
  if (answer) account(ledger, fixtures, request, answer);
  const problem = answer ? judge(request, answer) : `no answer (${error})`;
  const code = (answer?.json as { error?: { code?: string } } | undefined)?.error?.code;
  const outcome: Outcome = { index: request.index, family: request.family, endpoint: request.endpoint, expect: request.expect, status: answer?.status, code };
  if (!problem) return outcome;
  return { ...outcome, problem, request, reply: answer ? `${answer.status} ${answer.text.slice(0, 300)}` : error, requestId: String(answer?.headers['x-request-id'] ?? '') };
}

async function send(agent: Agent, origin: string, request: FuzzRequest): Promise<{ answer?: Answer; error?: string }> {
  const client = request.sourceAddress ? new Client(origin, { localAddress: request.sourceAddress }) : undefined;
  const dispatcher: Dispatcher = client ?? agent;
  try {
    const response = await dispatcher.request({
      origin, path: request.path, method: request.method as Dispatcher.HttpMethod, headers: request.headers, body: request.body ?? null,
      headersTimeout: requestTimeoutMs, bodyTimeout: requestTimeoutMs,
    });
    const sse = String(response.headers['content-type'] ?? '').startsWith('text/event-stream');
    const text = await readBody(response.body, sse);
    return { answer: { status: response.statusCode, headers: response.headers, text, json: parseJson(text) } };
  } catch (error) {
    return { error: `${(error as { code?: string }).code ?? (error as Error).name}: ${(error as Error).message}` };
  } finally {
    await client?.close().catch(() => {});
  }
}

// Whole bodies up to a cap; of an event stream only what arrives first, then the stream is
// closed from this side as a browser tab would.
async function readBody(body: Dispatcher.ResponseData['body'], sse: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const pending = iterator.next().catch(() => ({ done: true as const, value: undefined }));
      const next = sse ? await Promise.race([pending, delay(sseFirstMessageWaitMs).then(() => ({ done: true as const, value: undefined }))]) : await pending;
      if (next.done) break;
      chunks.push(next.value as Buffer);
      size += (next.value as Buffer).length;
      if (sse || size > responseBytesMax) break;
    }
  } finally {
    if (sse || size > responseBytesMax) body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isErrorBody(json: unknown): boolean {
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return typeof error === 'object' && error !== null && typeof error.code === 'string' && error.code.length > 0 && typeof error.message === 'string';
}

// What is wrong with an answer, if anything.
function judge(request: { readonly method: string; readonly expect?: FuzzRequest['expect'] }, answer: Answer): string | undefined {
  if (answer.status >= 500) return `${answer.status} answer`;
  if (answer.headers['x-injected'] !== undefined || answer.headers['set-cookie'] !== undefined) return 'a header was injected into the response';
  if (answer.status >= 400) {
    if (request.method !== 'HEAD' && !isErrorBody(answer.json)) return `${answer.status} without { error: { code, message } }`;
    if (answer.status === 429 && answer.headers['retry-after'] === undefined) return '429 without Retry-After';
    if (request.expect === 'accepted') return `valid request refused (${answer.status})`;
    return undefined;
  }
  if (answer.status < 200) return `${answer.status} answer`;
  if (request.expect === 'rejected') return `refused-by-construction request answered ${answer.status}`;
  return undefined;
}

async function runAll<T>(count: number, work: (position: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < count && failure === undefined) {
      const position = next++;
      results[position] = await work(position).catch((error: unknown) => {
        failure ??= error;
        return undefined as T;
      });
    }
  };
  await Promise.all(Array.from({ length: inFlightMax }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

// Everything a refused request could change: row counts and content digests in Postgres,
// every Redis key of this test (booking records and seat maps; the rate limiter's counters
// are meant to change).
interface Snapshot {
  readonly counts: Record<string, number>;
  readonly digests: Record<string, string>;
  readonly eventIds: Set<string>;
  readonly userIds: Set<string>;
  readonly redis: Map<string, string>;
}

const tables = ['events', 'subsections', 'bookings', 'users', 'payments', 'buyer_seats', 'seat_allocations'] as const;

async function snapshot(fx: FuzzFixtures, userIdsBefore?: Set<string>): Promise<Snapshot> {
  const { pool } = environment;
  const counts: Record<string, number> = {};
  for (const table of tables) counts[table] = (await pool.query(`select count(*)::int as n from ${table}`)).rows[0].n;
  const fixtureEvents = [fx.events.open.id, fx.events.closed.id, fx.events.cancelled.id];
  const digest = async (sql: string, values: unknown[] = []) =>
    (await pool.query(`select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as d from (${sql}) x`, values)).rows[0].d as string;
  const eventIds = new Set((await pool.query('select id from events')).rows.map((row) => row.id as string));
  const userIds = new Set((await pool.query('select id from users')).rows.map((row) => row.id as string));
  const digests = {
    'fixture events': await digest('select * from events where id = any($1::uuid[])', [fixtureEvents]),
    'fixture subsections': await digest('select * from subsections where event_id = any($1::uuid[])', [[...fixtureEvents, fx.events.scratch.id]]),
    'earlier users': await digest('select * from users where id = any($1::uuid[])', [[...(userIdsBefore ?? userIds)]]),
    bookings: await digest('select * from bookings'),
    payments: await digest('select * from payments'),
    buyer_seats: await digest('select * from buyer_seats'),
    seat_allocations: await digest('select * from seat_allocations'),
  };
  return { counts, digests, eventIds, userIds, redis: await redisState() };
}

async function redisState(): Promise<Map<string, string>> {
  const prefix = environment.env.REDIS_KEY_PREFIX!;
  const state = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await environment.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    for (const key of keys) {
      if (key.startsWith(`${prefix}rate:`)) continue;
      const dump = await environment.redis.dumpBuffer(key);
      if (dump) state.set(key.slice(prefix.length), createHash('sha1').update(dump).digest('hex'));
    }
    cursor = next;
  } while (cursor !== '0');
  return state;
}

// The state changes the storm's 2xx answers account for, read off the answers themselves.
interface Ledger {
  readonly events: Map<string, number>;
  readonly users: Set<string>;
  readonly bookings: Set<string>;
  readonly patched: Set<string>;
  readonly commands: Map<string, number>;
}

const newLedger = (): Ledger => ({ events: new Map(), users: new Set(), bookings: new Set(), patched: new Set(), commands: new Map() });

function account(ledger: Ledger, fx: FuzzFixtures, request: FuzzRequest, answer: Answer): void {
  if (answer.status < 200 || answer.status >= 300) return;
  const path = request.path.split('?')[0]!;
  const json = answer.json as Record<string, any>;
  const command = (key: string, count = 1) => ledger.commands.set(key, (ledger.commands.get(key) ?? 0) + count);
  if (request.method === 'POST' && path === '/events' && answer.status === 201) {
    ledger.events.set(json.id, json.sections.reduce((sum: number, section: { subsections: unknown[] }) => sum + section.subsections.length, 0));
  } else if (request.method === 'POST' && path === '/users' && answer.status === 201) {
    ledger.users.add(json.id);
  } else if (request.method === 'POST' && path === '/bookings' && answer.status === 202) {
    ledger.bookings.add(json.id);
    command(`reserve:${json.id}`);
  } else if (request.method === 'POST' && /^\/bookings\/[^/]+\/payment$/.test(path) && answer.status === 202) {
    command(`pay:${json.bookingId}`);
  } else if (request.method === 'POST' && /^\/bookings\/[^/]+\/cancel$/.test(path) && answer.status === 202) {
    command(`cancel:${json.bookingId}`);
  } else if (request.method === 'PATCH' && /^\/events\/[^/]+$/.test(path) && answer.status === 200) {
    ledger.patched.add(json.id);
    if ((parseJson(String(request.body)) as { status?: string } | undefined)?.status === 'CANCELLED') command(`cancel-event:${json.id}`, subsectionsOf(fx, ledger, json.id));
  }
}

function subsectionsOf(fx: FuzzFixtures, ledger: Ledger, eventId: string): number {
  const fixture = Object.values(fx.events).find((event) => event.id === eventId);
  return fixture ? fixture.sections.reduce((sum, section) => sum + section.subsections.length, 0) : ledger.events.get(eventId) ?? 0;
}

// Differences between two snapshots that the ledger does not explain.
async function unexplainedChanges(before: Snapshot, after: Snapshot, ledger: Ledger, fx: FuzzFixtures): Promise<string[]> {
  const problems: string[] = [];
  const newEvents = [...after.eventIds].filter((id) => !before.eventIds.has(id));
  const newUsers = [...after.userIds].filter((id) => !before.userIds.has(id));
  problems.push(...setDifference('event', newEvents, [...ledger.events.keys()]), ...setDifference('user', newUsers, [...ledger.users]));
  const expectedSubsections = [...ledger.events.values()].reduce((sum, count) => sum + count, 0);
  const subsectionDelta = after.counts.subsections! - before.counts.subsections!;
  if (subsectionDelta !== expectedSubsections) problems.push(`subsections grew by ${subsectionDelta}, the created events have ${expectedSubsections}`);
  for (const [name, digest] of Object.entries(before.digests)) {
    if (after.digests[name] !== digest) problems.push(`${name} changed`);
  }
  for (const table of ['bookings', 'payments', 'buyer_seats', 'seat_allocations']) {
    if (after.counts[table] !== before.counts[table]) problems.push(`${table}: ${before.counts[table]} rows before, ${after.counts[table]} after`);
  }
  const outsideScratch = [...ledger.patched].filter((id) => id !== fx.events.scratch.id && !ledger.events.has(id));
  if (outsideScratch.length > 0) problems.push(`events other than the scratch event were changed: ${outsideScratch.join(', ')}`);
  problems.push(...redisChanges(before.redis, after.redis, ledger));
  return problems;
}

function redisChanges(before: Map<string, string>, after: Map<string, string>, ledger: Ledger): string[] {
  const problems: string[] = [];
  for (const [key, digest] of before) {
    if (!after.has(key)) problems.push(`redis key ${key} disappeared`);
    else if (after.get(key) !== digest) problems.push(`redis key ${key} changed`);
  }
  const added = [...after.keys()].filter((key) => !before.has(key));
  const expected = [...ledger.bookings].filter((id) => !before.has(`booking:${id}`)).map((id) => `booking:${id}`);
  problems.push(...setDifference('redis key', added, expected));
  // One booking id, one record: the same UUID written in another case must not be a second booking.
  const byId = new Map<string, string[]>();
  for (const key of after.keys()) {
    if (!key.startsWith('booking:')) continue;
    const id = key.slice('booking:'.length).toLowerCase();
    byId.set(id, [...(byId.get(id) ?? []), key]);
  }
  for (const keys of byId.values()) {
    if (keys.length > 1 && keys.some((key) => !before.has(key))) problems.push(`one booking id has ${keys.length} records: ${keys.join(', ')}`);
  }
  return problems;
}

function setDifference(what: string, actual: readonly string[], expected: readonly string[]): string[] {
  const expectedSet = new Set(expected);
  const actualSet = new Set(actual);
  const unexplained = actual.filter((item) => !expectedSet.has(item));
  const missing = expected.filter((item) => !actualSet.has(item));
  return [
    ...(unexplained.length > 0 ? [`${unexplained.length} new ${what}(s) no 2xx answer accounts for, e.g. ${unexplained.slice(0, 3).join(', ')}`] : []),
    ...(missing.length > 0 ? [`${missing.length} ${what}(s) answered 2xx but not stored, e.g. ${missing.slice(0, 3).join(', ')}`] : []),
  ];
}

// Every command on the topic, read by a consumer group of its own (nothing else consumes
// during the storm), so commands from refused requests show up.
interface CommandAudit {
  between(fromMs: number, toMs: number): Map<string, number>;
  readonly seen: number;
  stop(): Promise<void>;
}

async function startCommandAudit(env: TestEnvironment): Promise<CommandAudit> {
  // By partition and offset: a batch fetched twice is still one record each.
  const records = new Map<string, { key: string; timestampMs: number }>();
  const kafka: KafkaClient = createKafkaClient({ ...env.config.kafka, clientId: 'fuzz-audit', logger: env.logger });
  const consumer: CommandConsumer = kafka.createConsumer({
    groupId: `fuzz-audit-${process.pid}-${Date.now()}`, topic: env.config.kafka.commandTopic, sessionTimeoutMs: env.config.kafka.sessionTimeoutMs,
    maxWaitMs: env.config.kafka.maxWaitMs, partitionsConcurrency: 2,
    async handleBatch(batch, context) {
      for (const record of batch) records.set(`${context.partition}:${record.offset}`, { key: commandKey(record.value), timestampMs: record.timestampMs });
      // Committing moves this group on; without it the same batch is fetched again and again.
      const last = batch[batch.length - 1];
      if (last) await context.commit(last.offset);
    },
    onRebalance: () => {},
  });
  await consumer.start();
  return {
    get seen() {
      return records.size;
    },
    between(fromMs, toMs) {
      const counts = new Map<string, number>();
      for (const record of records.values()) if (record.timestampMs >= fromMs && record.timestampMs <= toMs) counts.set(record.key, (counts.get(record.key) ?? 0) + 1);
      return counts;
    },
    async stop() {
      await consumer.stop();
      await kafka.close();
    },
  };
}

function commandKey(value: Buffer | null): string {
  const decoded = decodeCommand(value);
  if (!decoded.ok) return `undecodable:${decoded.problem}`;
  const command = decoded.command as { type: string; bookingId?: string; eventId: string };
  return command.type === 'cancel-event' ? `cancel-event:${command.eventId}` : `${command.type}:${command.bookingId}`;
}

function compareCommands(expected: Map<string, number>, actual: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(key) ?? 0;
    const got = actual.get(key) ?? 0;
    if (want !== got) problems.push(`${key}: ${got} on the topic, ${want} accounted for by 2xx answers`);
  }
  return problems;
}

const sum = (counts: Map<string, number>) => [...counts.values()].reduce((total, count) => total + count, 0);

async function metric(api: Api, name: string): Promise<number> {
  const text = (await api.request('GET', '/metrics')).body as string;
  // Series carry default labels (service="…"): `name{…} value`.
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `) || candidate.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

// A forced collection makes heap sizes before and after comparable.
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function memory() {
  collectGarbage();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// Offending requests grouped by what went wrong, where and how, with the smallest request of
// each group and the server's log lines for it.
function violationReport(outcomes: readonly Outcome[]): string[] {
  const groups = new Map<string, { count: number; smallest: Outcome; size: number }>();
  for (const outcome of outcomes) {
    if (!outcome.problem || !outcome.request) continue;
    const key = [outcome.problem, outcome.endpoint, outcome.code, causeOf(outcome.requestId)].filter(Boolean).join(' | ');
    const size = describeRequest(outcome.request, 10_000).length;
    const group = groups.get(key);
    if (!group) groups.set(key, { count: 1, smallest: outcome, size });
    else {
      group.count += 1;
      if (size < group.size) Object.assign(group, { smallest: outcome, size });
    }
  }
  return [...groups.entries()].sort((a, b) => b[1].count - a[1].count).slice(0, violationGroupsShownMax).map(([key, group]) => {
    const { reply, request, requestId } = group.smallest;
    const logs = logsOf(requestId).map(summarizeLog);
    return [`${group.count} × ${key}`, `  ${describeRequest(request!)}`, `  → ${reply}`, ...logs.map((line) => `  log: ${line}`)].join('\n');
  });
}

function logsOf(requestId: string | undefined): string[] {
  return requestId ? logLines.filter((line) => line.includes(JSON.stringify(requestId))) : [];
}

// The root cause the server logged for a request (the innermost error), with quoted values cut,
// so one bug is one group whatever value triggered it.
function causeOf(requestId: string | undefined): string {
  const entry = parseJson(logsOf(requestId)[0] ?? '') as { err?: { message?: string; stack?: string } } | undefined;
  if (!entry?.err) return '';
  const innermost = [...(entry.err.stack ?? '').matchAll(/caused by: \w*:? ?([^\n]+)/g)].at(-1)?.[1] ?? entry.err.message?.split('\n').at(-1) ?? '';
  return innermost.replace(/"[^"]*"/g, '"…"').slice(0, 120);
}

function summarizeLog(line: string): string {
  const entry = parseJson(line) as { msg?: string; err?: { type?: string; message?: string; stack?: string } } | undefined;
  if (!entry) return line.slice(0, 300);
  const where = entry.err?.stack?.split('\n').slice(1, 3).map((frame) => frame.trim()).join(' ← ') ?? '';
  return `${entry.msg ?? ''}: ${entry.err?.type ?? ''} ${entry.err?.message ?? ''} ${where}`.slice(0, 500);
}

function tally<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(keyOf(item), (counts.get(keyOf(item)) ?? 0) + 1);
  return counts;
}

const statusClass = (outcome: Outcome) => (outcome.status ? `${Math.floor(outcome.status / 100)}xx` : 'none');

function reportCounts(t: TestContext, outcomes: readonly Outcome[]): void {
  for (const family of familyNames) {
    const mine = outcomes.filter((outcome) => outcome.family === family);
    const classes = tally(mine, statusClass);
    t.diagnostic(`family ${family.padEnd(14)} ${String(mine.length).padStart(5)}  ${[...classes].sort().map(([name, count]) => `${name} ${count}`).join(', ')}`);
  }
  for (const endpoint of endpoints) t.diagnostic(`endpoint ${endpoint.padEnd(66)} ${outcomes.filter((outcome) => outcome.endpoint === endpoint).length}`);
  const statuses = tally(outcomes, (outcome) => String(outcome.status ?? 'none'));
  t.diagnostic(`statuses ${[...statuses].sort().map(([status, count]) => `${status}×${count}`).join(' ')}`);
  const expectations = tally(outcomes, (outcome) => outcome.expect);
  t.diagnostic(`expectations ${[...expectations].map(([name, count]) => `${name} ${count}`).join(', ')}`);
}

interface Storm {
  readonly outcomes: readonly Outcome[];
  readonly ledger: Ledger;
  readonly startMs: number;
  readonly endMs: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

async function runStorm(indexes: readonly number[]): Promise<Storm> {
  const generator = createFuzzGenerator(fixtures, seed);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const agent = new Agent({ connections: inFlightMax, headersTimeout: requestTimeoutMs, bodyTimeout: requestTimeoutMs });
  const ledger = newLedger();
  const startMs = Date.now();
  loop.enable();
  const outcomes = await runAll(indexes.length, (position) => exchange(agent, ticketing.api.url, generator.generate(indexes[position]!), ledger)).finally(() => agent.close());
  loop.disable();
  return { outcomes, ledger, startMs, endMs: Date.now(), loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6 };
}

// Right after the storm: answered at once, ready, no stream or queued command left behind.
async function healthAfterStorm(api: Api) {
  const livenessMs: number[] = [];
  for (let probe = 0; probe < 5; probe++) {
    const started = performance.now();
    assert.equal((await api.request('GET', '/health/live')).status, 200);
    livenessMs.push(performance.now() - started);
  }
  const ready = await api.request('GET', '/health/ready');
  const openStreams = await waitFor(async () => ((await metric(api, 'ticketing_sse_open_streams')) === 0 ? 0 : undefined), { timeoutMs: 5000, what: 'SSE streams to close' }).catch(() => Number.NaN);
  return { livenessMs, ready, openStreams, queued: await metric(api, 'ticketing_kafka_producer_queued') };
}

// Commands on the topic during the storm, compared with what the 2xx answers account for.
async function unexplainedCommands(storm: Storm): Promise<string[]> {
  const expected = sum(storm.ledger.commands);
  await waitFor(async () => sum(audit.between(storm.startMs, storm.endMs)) >= expected || undefined, { timeoutMs: 15_000, what: 'the storm commands on the topic' }).catch(() => undefined);
  // Extras (commands no answer accounts for) would arrive with the expected ones; give them a moment.
  await delay(500);
  return compareCommands(storm.ledger.commands, audit.between(storm.startMs, storm.endMs));
}

function reportStorm(t: TestContext, storm: Storm, memoryBefore: ReturnType<typeof memory>, memoryAfter: ReturnType<typeof memory>, livenessMs: readonly number[]): void {
  const wallMs = storm.endMs - storm.startMs;
  const { ledger } = storm;
  t.diagnostic(`storm ${wallMs} ms (${Math.round((storm.outcomes.length / wallMs) * 1000)} requests/s); event-loop delay p99 ${storm.loopDelayP99Ms.toFixed(1)} ms, max ${storm.loopDelayMaxMs.toFixed(1)} ms`);
  t.diagnostic(`RSS ${mib(memoryBefore.rss)} → ${mib(memoryAfter.rss)}; heap after GC ${mib(memoryBefore.heap)} → ${mib(memoryAfter.heap)}`);
  t.diagnostic(`liveness right after: ${livenessMs.map((ms) => ms.toFixed(1)).join(', ')} ms`);
  const commandTypes = tally([...ledger.commands.keys()], (key) => key.split(':')[0]!);
  t.diagnostic(`accounted: ${ledger.events.size} events, ${ledger.users.size} users, ${ledger.bookings.size} booking ids, ${sum(ledger.commands)} commands (${[...commandTypes].map(([type, count]) => `${type} ${count} ids`).join(', ')})`);
  reportCounts(t, storm.outcomes);
}

const problemsOf = (outcomes: readonly Outcome[], matches: (problem: string) => boolean) => outcomes.filter((outcome) => outcome.problem && matches(outcome.problem));

test('a storm of malformed and hostile requests: no 5xx, clean refusals, no unaccounted state change, a healthy process', async (t) => {
  const replay = onlyIndexes !== undefined && onlyIndexes.length > 0;
  const indexes = replay ? onlyIndexes : Array.from({ length: requestsTotal }, (_, index) => index);
  t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed}), ${indexes.length} requests, concurrency ${inFlightMax}`);
  const before = await snapshot(fixtures);
  const memoryBefore = memory();
  const storm = await runStorm(indexes);
  const health = await healthAfterStorm(ticketing.api);
  const memoryAfter = memory();
  const stateProblems = await unexplainedChanges(before, await snapshot(fixtures, before.userIds), storm.ledger, fixtures);
  const commandProblems = await unexplainedCommands(storm);
  reportStorm(t, storm, memoryBefore, memoryAfter, health.livenessMs);
  const { outcomes } = storm;
  const failWith = (what: string, found: readonly Outcome[]) => assert.equal(found.length, 0, `seed ${seed}: ${found.length} ${what}\n${violationReport(found).join('\n')}`);

  await t.test('at least 10,000 requests reached every endpoint', () => {
    if (replay) return;
    assert.ok(indexes.length >= 10_000 || process.env.FUZZ_REQUESTS !== undefined, 'the default run sends at least 10,000 requests');
    const perEndpointMin = Math.max(1, Math.floor(indexes.length / 400));
    for (const endpoint of endpoints) {
      const count = outcomes.filter((outcome) => outcome.endpoint === endpoint).length;
      assert.ok(count >= perEndpointMin, `${endpoint} got ${count} requests, fewer than ${perEndpointMin}`);
    }
  });
  await t.test('no 5xx and no request left unanswered', () => {
    failWith('requests got a 5xx or no answer', problemsOf(outcomes, (problem) => problem.startsWith('5') || problem.startsWith('no answer')));
  });
  await t.test('every refusal is { error: { code, message } } (and every 429 says when to retry)', () => {
    failWith('refusals had another body', problemsOf(outcomes, (problem) => problem.includes('without')));
  });
  await t.test('refused-by-construction requests are refused, deliberately valid ones succeed, nothing is injected', () => {
    failWith('requests got the wrong kind of answer', problemsOf(outcomes, (problem) => /refused|answered|injected/.test(problem) && !problem.startsWith('5')));
  });
  await t.test('no state change but those the 2xx answers account for (Postgres, Redis)', () => {
    assert.deepEqual(stateProblems, [], `seed ${seed}`);
  });
  await t.test('no command on the topic but those the 2xx answers account for', () => {
    assert.deepEqual(commandProblems, [], `seed ${seed}`);
  });
  await t.test('the process stays healthy: ready, responsive, streams closed, memory bounded, no prototype polluted', () => {
    assert.equal(health.ready.status, 200, JSON.stringify(health.ready.body));
    assert.ok(Math.max(...health.livenessMs) < livenessAnswerMsMax, `liveness took ${Math.max(...health.livenessMs).toFixed(1)} ms`);
    assert.ok(storm.loopDelayMaxMs < loopDelayMsMax, `the event loop stalled for ${storm.loopDelayMaxMs.toFixed(0)} ms`);
    assert.equal(health.openStreams, 0, 'every SSE stream the storm opened was closed');
    assert.equal(health.queued, 0, 'no command is left waiting for Kafka');
    assert.ok(memoryAfter.heap - memoryBefore.heap < heapGrowthBytesMax, `heap grew by ${mib(memoryAfter.heap - memoryBefore.heap)}`);
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).filter((name) => !builtinObjectProperties.has(name)), [], 'Object.prototype gained properties');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

const builtinObjectProperties = new Set(Object.getOwnPropertyNames(Object.prototype));

test('with the normal booking rate limit, excess requests get clean 429s with Retry-After and change nothing', async (t) => {
  const limit = Number(SETTINGS.BOOKING_RATE_LIMIT_MAX.default);
  const limited = await startTicketing(environment, { BOOKING_RATE_LIMIT_MAX: String(limit) }, serviceLogger);
  try {
    const generator = createRateLimitGenerator(fixtures, seed);
    const before = await snapshot(fixtures);
    const agent = new Agent({ connections: inFlightMax });
    const ledger = newLedger();
    const acceptedPerUser = new Map<string, number>();
    const outcomes = await runAll(rateLimitedRequestCount, async (index) => {
      const request = generator.generate(index);
      const outcome = await exchange(agent, limited.api.url, request, ledger);
      if (outcome.status === 202) acceptedPerUser.set(subjectOf(request), (acceptedPerUser.get(subjectOf(request)) ?? 0) + 1);
      return outcome;
    }).finally(() => agent.close());
    const problems = await unexplainedChanges(before, await snapshot(fixtures, before.userIds), ledger, fixtures);
    const statuses = tally(outcomes, (outcome) => String(outcome.status ?? 'none'));
    t.diagnostic(`rate-limited part: ${rateLimitedRequestCount} requests, limit ${limit} per user per window: ${[...statuses].sort().map(([status, count]) => `${status}×${count}`).join(' ')}`);

    const violations = outcomes.filter((outcome) => outcome.problem);
    assert.equal(violations.length, 0, `seed ${seed}\n${violationReport(violations).join('\n')}`);
    assert.ok((statuses.get('429') ?? 0) > 0, 'the limiter cut the burst off');
    for (const [, count] of acceptedPerUser) assert.ok(count <= limit, `a user got ${count} bookings accepted with a limit of ${limit}`);
    assert.deepEqual(problems, []);
  } finally {
    await limited.service.stop();
  }
});

function subjectOf(request: FuzzRequest): string {
  const token = request.headers.authorization?.replace(/^Bearer /, '') ?? '';
  return String((parseJson(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown } | undefined)?.sub);
}

interface WireOutcome {
  readonly request: WireRequest;
  readonly answers: Answer[];
  readonly problem?: string;
}

// Requests no HTTP client library would send: unknown methods, CR/LF and NUL inside headers,
// conflicting lengths, broken chunking, raw bytes in the path, heads past Node's 16 KiB limit.
// The answer comes from Node's parser and Fastify's framework errors as much as from the API.
test('malformed HTTP on the wire gets a clean 4xx (or a closed connection), and the process stays healthy', async (t) => {
  const { api } = ticketing;
  const port = Number(new URL(api.url).port);
  const generator = createWireGenerator(fixtures, seed);
  const outcomes = await runAll(wireRequestCount, (index) => sendRaw(port, generator.generate(index)));
  const ready = await api.request('GET', '/health/ready');
  const problems = outcomes.filter((outcome) => outcome.problem);
  const groups = tally(problems, (outcome) => `${outcome.problem} | ${outcome.request.name}`);
  t.diagnostic(`wire part: ${wireRequestCount} requests; answers ${[...tally(outcomes.flatMap((outcome) => outcome.answers), (answer) => String(answer.status))].sort().map(([status, count]) => `${status}×${count}`).join(' ')}`);
  const examples = [...groups].sort((a, b) => b[1] - a[1]).map(([key, count]) => {
    const example = problems.find((outcome) => `${outcome.problem} | ${outcome.request.name}` === key)!;
    const answer = example.answers.find((candidate) => judge({ method: example.request.method }, candidate)) ?? example.answers[0];
    return `${count} × ${key}\n  #${example.request.index} ${JSON.stringify(example.request.bytes.toString('latin1').slice(0, 300))}\n  → ${answer ? `${answer.status} ${answer.text.slice(0, 200)}` : 'no answer'}`;
  });
  assert.equal(ready.status, 200, 'ready after the wire storm');
  assert.equal(problems.length, 0, `seed ${seed}: ${problems.length} wire requests got a bad answer\n${examples.join('\n')}`);
});

async function sendRaw(port: number, request: WireRequest): Promise<WireOutcome> {
  const received = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    const finish = () => {
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.setTimeout(wireAnswerWaitMs, finish);
    if (request.halfClose) socket.end(request.bytes);
    else socket.write(request.bytes);
  });
  const answers = parseResponses(received);
  if (answers.length === 0) return request.mayClose ? { request, answers } : { request, answers, problem: 'no answer' };
  for (const answer of answers) {
    const problem = judge({ method: request.method }, answer);
    if (problem) return { request, answers, problem };
  }
  return { request, answers };
}

// HTTP/1.1 responses one after another on a connection (pipelined requests get several).
function parseResponses(bytes: Buffer): Answer[] {
  const answers: Answer[] = [];
  let rest = bytes.toString('latin1');
  while (rest.startsWith('HTTP/')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine, ...headerLines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let body = rest.slice(headEnd + 4);
    let consumed = body.length;
    if (headers['content-length'] !== undefined) {
      consumed = Number(headers['content-length']);
      body = body.slice(0, consumed);
    } else if (headers['transfer-encoding'] === 'chunked') {
      ({ body, consumed } = dechunk(body));
    }
    const text = Buffer.from(body, 'latin1').toString('utf8');
    const status = Number(statusLine!.split(' ')[1]);
    // An interim answer (100 Continue) has no body; the real one follows.
    if (status < 200) {
      rest = rest.slice(headEnd + 4);
      continue;
    }
    answers.push({ status, headers, text, json: parseJson(text) });
    rest = rest.slice(headEnd + 4 + consumed);
  }
  return answers;
}

function dechunk(text: string): { body: string; consumed: number } {
  let body = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return { body, consumed: text.length };
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (!Number.isFinite(size) || size === 0) return { body, consumed: Math.min(text.length, lineEnd + 4) };
    body += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}
