import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '../../dev/chaos/redis-server.ts';
import { recordScenario } from '../../dev/chaos/report.ts';
import { startTcpProxy, type TcpProxy } from '../../dev/chaos/tcp-proxy.ts';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { openSse } from '../../dev/testing/sse-client.ts';
import { newBookingId, startReservation, startTicketing, waitFor, type Api } from '../../dev/testing/system.ts';
import type { ReservationService } from '../src/service.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';

// The stores failing under a sale (issue 4, scenarios 5–7): Redis restarted with its data
// lost, Redis Pub/Sub dropping while clients wait on SSE, and every Postgres connection cut.
// Services run against a private redis-server that the test can kill and restart.

let environment: TestEnvironment;
let redisServer: PrivateRedis;
// The ticketing service reaches Redis through this proxy, so its connections (and only its)
// can be cut.
let proxy: TcpProxy;
let redis: Redis;
let ticketing: { service: TicketingService; api: Api };
let reservation: ReservationService;

before(async () => {
  redisServer = await startPrivateRedis();
  environment = await createTestEnvironment({ partitions: 3, env: { REDIS_URL: redisServer.url } });
  redis = new Redis(redisServer.url, { protocol: 2, maxRetriesPerRequest: null });
  proxy = await startTcpProxy(redisServer.port);
  ticketing = await startTicketing(environment, { REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
  reservation = await startReservation(environment);
});

after(async () => {
  await ticketing?.service.stop();
  await reservation?.stop();
  redis?.disconnect();
  await proxy?.close();
  await environment?.close().catch(() => {});
  await redisServer?.stop();
});

async function createEvent(name: string): Promise<string> {
  const { api } = ticketing;
  const created = await api.request('POST', '/events', {
    token: api.token('stores-organizer', 'organizer'),
    body: { name, buyerSeatsMax: 1000, holdDurationS: 600, sections: [{ name: 'A', subsections: [1, 2, 3].map((number) => ({ number, rows: 10, seatsPerRow: 10, priceCents: 100 })) }] },
  });
  assert.equal(created.status, 201);
  return created.body.id;
}

// Sends one booking the way a careful client does: on 503 it waits Retry-After and sends the
// same id again. Resolves with whether the booking was accepted.
async function bookWithRetry(api: Api, eventId: string, index: number): Promise<string | null> {
  const id = newBookingId();
  const token = api.token(`stores-buyer-${index % 50}`, 'buyer');
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await api.request('POST', '/bookings', { token, body: { id, eventId, section: 'A', subsection: (index % 3) + 1, quantity: 1 + (index % 2) } }).catch(() => null);
    if (response && (response.status === 202 || response.status === 200)) return id;
    if (response && response.status !== 503) throw new Error(`unexpected ${response.status} ${JSON.stringify(response.body)}`);
    await sleep(200);
  }
  return null;
}

async function expectDecided(eventId: string, ids: readonly string[]) {
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [ids])).rows[0].n === ids.length || undefined, {
    timeoutMs: 60_000, what: 'every accepted booking to be decided',
  });
  // Idle: let the projection catch up with the last slices before comparing it.
  await sleep(500);
  const report = await checkInvariants({ pool: environment.pool, api: ticketing.api, eventId, acceptedIds: ids, redis: { client: redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 5000 } });
  assert.deepEqual(report.violations, []);
  return report;
}

test('Redis restarted empty mid-sale: bitmaps are rebuilt from Postgres, nothing is oversold, nothing accepted is lost', async () => {
  const eventId = await createEvent('Redis lost');
  const accepted: string[] = [];
  const send = async (from: number, count: number) => {
    const ids = await Promise.all(Array.from({ length: count }, (_, offset) => bookWithRetry(ticketing.api, eventId, from + offset)));
    accepted.push(...ids.filter((id): id is string => id !== null));
  };
  await send(0, 150);
  const during = send(150, 150);
  await sleep(100);
  await redisServer.kill();
  await sleep(500);
  await redisServer.start();
  await proxy.restore();
  await during;
  const faultEndedAt = Date.now();
  await send(300, 300);
  const report = await expectDecided(eventId, accepted);
  assert.equal(report.bookings.seatsTaken, 300, 'sold out exactly');
  recordScenario({ scenario: '5 Redis restarted with its data lost', injected: 'SIGKILL of redis-server mid-sale, restarted empty 0.5 s later', attempted: 600, accepted: accepted.length, lost: 0, doubleSold: 0, recoveryMs: Date.now() - faultEndedAt, notes: 'clients retried 503s with the same id' });
  // Every bitmap is back, whole.
  for (const row of (await environment.pool.query<{ id: number }>('select id from subsections where event_id = $1', [eventId])).rows) {
    assert.ok(await redis.exists(`${environment.env.REDIS_KEY_PREFIX}seats:${row.id}`), `bitmap of subsection ${row.id} rebuilt`);
  }
});

test('Pub/Sub lost while clients wait: streams catch up from the stored state once the subscription is back', async () => {
  const eventId = await createEvent('Pub/Sub lost');
  const { api } = ticketing;
  // No decisions while the streams open: every stream starts PENDING.
  await reservation.stop();
  const bookings = await Promise.all(Array.from({ length: 20 }, async (_, index) => {
    const token = api.token(`waiting-${index}`, 'buyer');
    const id = newBookingId();
    assert.equal((await api.request('POST', '/bookings', { token, body: { id, eventId, section: 'A', subsection: 1, quantity: 1 } })).status, 202);
    const stream = await openSse(`${api.url}/bookings/${id}/stream`, { authorization: `Bearer ${token}` });
    assert.equal(JSON.parse((await stream.next((message) => message.event === 'booking')).data).status, 'PENDING');
    return { id, stream };
  }));
  // Cut the ticketing service off Redis and keep it off, decide everything while it is away
  // (the outcomes are published to nobody), then let it back in.
  await proxy.cut();
  reservation = await startReservation(environment);
  await waitFor(async () => (await environment.pool.query('select count(*)::int as n from bookings where event_id = $1', [eventId])).rows[0].n === 20 || undefined, { timeoutMs: 30_000, what: 'decisions' });
  await sleep(300);
  assert.ok(bookings.every(({ stream }) => stream.messages.filter((message) => message.event === 'booking').length === 1), 'the outcomes were published while nobody listened');
  await proxy.restore();
  const restoredAt = Date.now();
  for (const { stream, id } of bookings) {
    const outcome = await stream.next((message) => message.event === 'booking' && JSON.parse(message.data).status !== 'PENDING', 15_000);
    assert.equal(JSON.parse(outcome.data).id, id);
    assert.equal(JSON.parse(outcome.data).status, 'RESERVED');
    stream.close();
  }
  recordScenario({ scenario: '6 Pub/Sub lost while SSE clients wait', injected: "ticketing's Redis connections cut while 20 bookings were decided, then restored", attempted: 20, accepted: 20, lost: 0, doubleSold: 0, recoveryMs: Date.now() - restoredAt, notes: 'every stream got its outcome from the re-read after resubscribing' });
});

test('every Postgres connection cut, again and again, mid-sale: decisions pause and resume, none is partial', async () => {
  const eventId = await createEvent('Postgres cut');
  const accepted: string[] = [];
  const sending = (async () => {
    for (let wave = 0; wave < 6; wave++) {
      const ids = await Promise.all(Array.from({ length: 50 }, (_, offset) => bookWithRetry(ticketing.api, eventId, wave * 50 + offset)));
      accepted.push(...ids.filter((id): id is string => id !== null));
    }
  })();
  const deadline = Date.now() + 3000;
  let cuts = 0;
  while (Date.now() < deadline) {
    const killed = await environment.pool.query(`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and application_name in ('reservation-service', 'ticketing-service')`);
    cuts += killed.rows[0].n;
    await sleep(150);
  }
  await sending;
  assert.ok(cuts > 5, `connections were cut (${cuts})`);
  const faultEndedAt = Date.now();
  const report = await expectDecided(eventId, accepted);
  assert.ok(report.bookings.seatsTaken > 0);
  recordScenario({ scenario: '7 Postgres connections lost mid-sale', injected: `pg_terminate_backend on every service connection every 150 ms for 3 s (${cuts} connections cut)`, attempted: 300, accepted: accepted.length, lost: 0, doubleSold: 0, recoveryMs: Date.now() - faultEndedAt });
});
