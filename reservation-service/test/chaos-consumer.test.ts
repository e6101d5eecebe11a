import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestEnvironment, type TestEnvironment } from '../../dev/testing/environment.ts';
import { checkInvariants } from '../../dev/testing/invariants.ts';
import { recordScenario } from '../../dev/chaos/report.ts';
import { newBookingId, spawnReservation, startTicketing, waitFor, type Api, type ChildService } from '../../dev/testing/system.ts';
import type { TicketingService } from '../../ticketing-service/src/service.ts';

// Reservation processes dying or stalling at the worst moments (issue 4, scenarios 1 and 2):
//   - killed while its slice's Postgres statement is in flight (held back by a row lock);
//   - killed after its Postgres commit and Redis write, while the offset commit is in flight
//     (held back by broker latency);
//   - frozen (SIGSTOP) mid-slice until its partition moves to another process, then resumed:
//     two owners decide the same slice, and Postgres must arbitrate.
// Every booking accepted is decided exactly once, and nothing is sold twice.

let environment: TestEnvironment;
let ticketing: { service: TicketingService; api: Api };
const workers: ChildService[] = [];

before(async () => {
  // Two partitions for two workers: the librdkafka mock never finishes a rebalance in which a
  // member gets no partition (kafkajs leaves it out of the assignment and the mock waits for
  // it), and a deployment should not run more consumers than partitions anyway.
  environment = await createTestEnvironment({ partitions: 2, brokers: 1 });
  ticketing = await startTicketing(environment);
});

after(async () => {
  await ticketing?.service.stop();
  for (const worker of workers) await worker.kill('SIGKILL');
  await environment?.close();
});

async function worker(): Promise<ChildService> {
  const started = await spawnReservation(environment);
  workers.push(started);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${started.port}/health/ready`).then((r) => r.ok, () => false)) || undefined, { timeoutMs: 30_000, what: 'worker ready' });
  return started;
}

async function event(name: string): Promise<{ eventId: string; subsectionId: number }> {
  const { api } = ticketing;
  const created = await api.request('POST', '/events', {
    token: api.token('chaos-organizer', 'organizer'),
    body: { name, buyerSeatsMax: 1000, sections: [{ name: 'A', subsections: [{ number: 1, rows: 5, seatsPerRow: 10, priceCents: 100 }] }] },
  });
  assert.equal(created.status, 201);
  const row = await environment.pool.query<{ id: number }>('select id from subsections where event_id = $1', [created.body.id]);
  return { eventId: created.body.id, subsectionId: row.rows[0]!.id };
}

async function book(eventId: string, count: number): Promise<string[]> {
  const { api } = ticketing;
  return Promise.all(Array.from({ length: count }, async (_, index) => {
    const id = newBookingId();
    const response = await api.request('POST', '/bookings', { token: api.token(`chaos-buyer-${index % 10}`, 'buyer'), body: { id, eventId, section: 'A', subsection: 1, quantity: 1 } });
    assert.equal(response.status, 202);
    return id;
  }));
}

const decidedCount = async (ids: readonly string[]) =>
  (await environment.pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [ids])).rows[0].n as number;

// Holds the subsection's counter row, so a reservation process writing a slice for it waits.
async function lockSubsection(subsectionId: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: environment.env.DATABASE_URL });
  client.on('error', () => {}); // a cut is seen by the test's next query on it
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from subsections where id = $1 for update', [subsectionId]);
  return client;
}

const lockWaiters = async () =>
  (await environment.pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'reservation-service' and wait_event_type = 'Lock'`)).rows[0].n as number;

// Waits for every id to be decided, checks the invariants, and records the scenario.
async function expectExactlyOnce(eventId: string, ids: readonly string[], record: { scenario: string; injected: string; faultEndedAt: number }) {
  await waitFor(async () => (await decidedCount(ids)) === ids.length || undefined, { timeoutMs: 60_000, what: 'every accepted booking to be decided' });
  const recoveryMs = Date.now() - record.faultEndedAt;
  const report = await checkInvariants({
    pool: environment.pool, api: ticketing.api, eventId, acceptedIds: ids, redis: { client: environment.redis, keyPrefix: environment.env.REDIS_KEY_PREFIX!, idleMs: 0 },
  });
  assert.deepEqual(report.violations, []);
  assert.equal(report.bookings.reserved + report.bookings.rejected, ids.length, 'one booking per id');
  recordScenario({ scenario: record.scenario, injected: record.injected, attempted: ids.length, accepted: ids.length, lost: ids.length - (await decidedCount(ids)), doubleSold: 0, recoveryMs });
}

const alive = () => workers.filter((candidate) => candidate.process.exitCode === null && candidate.process.signalCode === null);

test('killed before its Postgres commit: the slice is decided again by the next process', async () => {
  const first = await worker();
  const { eventId, subsectionId } = await event('Killed before commit');
  const lock = await lockSubsection(subsectionId);
  const ids = await book(eventId, 40);
  await waitFor(async () => (await lockWaiters()) > 0 || undefined, { timeoutMs: 20_000, what: 'the slice write to wait on the lock' });
  await first.kill('SIGKILL');
  // Postgres would otherwise still run the dead process's queued statement once the lock is
  // free (it notices a vanished client only when it next talks to it): end it, as a crash of
  // the database session would. (Without this, the orphan commits and the next process replays
  // it, which the next test covers.)
  await environment.pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'reservation-service' and wait_event_type = 'Lock'`);
  await lock.query('rollback');
  await lock.end();
  assert.equal(await decidedCount(ids), 0, 'nothing was committed');
  const faultEndedAt = Date.now();
  await worker();
  await expectExactlyOnce(eventId, ids, { scenario: '1a consumer killed before its Postgres commit', injected: 'SIGKILL while the slice statement waits on a row lock; its backend terminated', faultEndedAt });
});

test('killed after its Postgres commit, before its offset commit: redelivery replays, decides nothing twice', async () => {
  const second = alive()[0] ?? (await worker());
  const { eventId } = await event('Killed before offset commit');
  const warmUp = await book(eventId, 1);
  // Every broker answers 2.5 s late from now on: the offset commit after the next slice hangs.
  await environment.kafka.setRtt('all', 2500);
  const ids = await book(eventId, 40);
  await waitFor(async () => (await decidedCount(ids)) === ids.length || undefined, { timeoutMs: 30_000, intervalMs: 20, what: 'the slice to commit in Postgres' });
  await second.kill('SIGKILL');
  await environment.kafka.setRtt('all', 0);
  const before = await environment.pool.query('select id, status, version, seats from bookings where id = any($1::uuid[]) order by id', [ids]);
  const faultEndedAt = Date.now();
  await worker();
  await expectExactlyOnce(eventId, [...warmUp, ...ids], { scenario: '1b consumer killed after its Postgres commit, before its offset commit', injected: 'SIGKILL while the offset commit waits on 2.5 s of broker latency', faultEndedAt });
  const afterRedelivery = await environment.pool.query('select id, status, version, seats from bookings where id = any($1::uuid[]) order by id', [ids]);
  assert.deepEqual(afterRedelivery.rows, before.rows, 'redelivered commands changed nothing');
});

// Which worker decided the most slices so far, from its own /metrics.
async function slicesOf(candidate: ChildService): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${candidate.port}/metrics`)).text();
  return Number(/^ticketing_reservation_slice_commands_count(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
}

test('a frozen process whose partition moved on resumes as a zombie: Postgres arbitrates, nothing is decided twice', async () => {
  const { eventId, subsectionId } = await event('Zombie');
  if (alive().length === 0) await worker();
  const rival = await worker();
  const others = alive().filter((candidate) => candidate !== rival);
  // Find the partition's owner: the worker whose slice count moves when a booking is decided.
  const before = await Promise.all([rival, ...others].map(slicesOf));
  const probe = await book(eventId, 1);
  await waitFor(async () => (await decidedCount(probe)) === 1 || undefined, { timeoutMs: 30_000, what: 'the probe booking' });
  const after = await Promise.all([rival, ...others].map(slicesOf));
  const owner = [rival, ...others][after.findIndex((count, index) => count > before[index]!)]!;
  const standby = owner === rival ? others[0]! : rival;

  const lock = await lockSubsection(subsectionId);
  const ids = await book(eventId, 40);
  await waitFor(async () => (await lockWaiters()) === 1 || undefined, { timeoutMs: 20_000, what: 'the owner to wait on the lock mid-slice' });
  // Frozen mid-slice, the owner stops heartbeating; after the session timeout the standby gets
  // the partition, decides the same commands from the last committed offset, and waits too.
  owner.process.kill('SIGSTOP');
  await waitFor(async () => (await lockWaiters()) === 2 || undefined, { timeoutMs: 30_000, what: 'the standby to decide the same slice' });
  // The zombie's statement was queued first, so it commits first; the standby's is refused
  // and decided again from Postgres.
  await lock.query('rollback');
  await lock.end();
  owner.process.kill('SIGCONT');
  void standby;
  await expectExactlyOnce(eventId, [...probe, ...ids], { scenario: '2 two owners of one partition', injected: 'owner frozen (SIGSTOP) mid-slice past the session timeout, then resumed after the standby decided the same slice', faultEndedAt: Date.now() });
});
