import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestEnvironment, type TestEnvironment } from '../../../dev/testing/environment.ts';
import { createBookingStore, loadStateSql, type BookingStore } from './booking-store.ts';
import { buyerKey, type BookingState } from './plan-batch.ts';

// loadState reads bookings, payments and buyer counts in one statement whose parts come back
// as json. These check it returns exactly what node-postgres's own parsing of the columns gives
// (timestamps floored to the millisecond, int[] as number[], null kept), whatever the session's
// time zone, and that it only talks to Postgres when there is something to read.

let environment: TestEnvironment;
let zonedPool: pg.Pool;
let queries = 0;
let store: BookingStore;

const eventId = '019a9a5e-7c2b-7000-8000-0000000000ee';
const id = (n: number) => `019a9a5e-7c2b-7000-8000-${String(n).padStart(12, '0')}`;
const [reservedById, paid, reservedInCancelled, expiredInCancelled, notAsked] = [1, 2, 3, 4, 5].map(id) as [string, string, string, string, string];
const [declinedAsked, declinedNotAsked, live, captured] = [11, 12, 13, 14].map(id) as [string, string, string, string];
let subsectionA: number;
let subsectionB: number;

before(async () => {
  environment = await createTestEnvironment({ partitions: 1, brokers: 1 });
  // A zone 5 h 45 min east of UTC: timestamps rendered as text in it would shift.
  zonedPool = new pg.Pool({ connectionString: environment.env.DATABASE_URL, max: 1, options: '-c TimeZone=Asia/Kathmandu' });
  const counting = { query: (...args: Parameters<pg.Pool['query']>) => (queries++, zonedPool.query(...args)) };
  store = createBookingStore(counting as unknown as pg.Pool);

  const pool = environment.pool;
  await pool.query(`insert into events (id, organizer_id, name, capacity) values ($1, 'org', 'Load state', 8)`, [eventId]);
  const sections = await pool.query<{ id: number }>(
    `insert into subsections (event_id, section, number, section_order, rows, seats_per_row, price_cents, capacity)
     values ($1, 'A', 1, 1, 1, 4, 1500, 4), ($1, 'B', 1, 2, 1, 4, 1500, 4) returning id`,
    [eventId],
  );
  [subsectionA, subsectionB] = sections.rows.map((row) => row.id) as [number, number];
  await pool.query(
    `insert into bookings (id, user_id, fingerprint, event_id, subsection_id, quantity, requested_seats, seats, status, reason,
                           created_at, decided_at, hold_expires_at, paid_at, released_at, version)
     values ($1, 'alice', 'fp1', $6, $7, 2, null, '{0,1}', 'RESERVED', null,
             '2026-11-22 15:57:29.123987+00', '2026-11-22 15:57:29.5+00', '2026-11-22 16:07:29.999999+00', null, null, 1),
            ($2, 'bob', 'fp2', $6, $8, 1, '{3}', '{3}', 'PAID', null,
             '1969-12-31 23:59:59.9995+00', '2026-11-22 15:57:30+00', '2026-11-22 16:07:30+00', '2026-11-22 15:58:00.000001+00', null, 2),
            ($3, 'carol', 'fp3', $6, $8, 1, null, '{0}', 'RESERVED', null,
             '2026-11-22 15:57:31+00', '2026-11-22 15:57:31+00', '2026-11-22 16:07:31+00', null, null, 1),
            ($4, 'dave', 'fp4', $6, $8, 1, null, '{1}', 'EXPIRED', 'HOLD_EXPIRED',
             '2026-11-22 15:57:32+00', '2026-11-22 15:57:32+00', '2026-11-22 16:07:32+00', null, '2026-11-22 16:07:33.000999+00', 2),
            ($5, 'erin', 'fp5', $6, $7, 1, null, '{}', 'REJECTED', 'SOLD_OUT',
             '2026-11-22 15:57:33+00', '2026-11-22 15:57:33+00', null, null, null, 1)`,
    [reservedById, paid, reservedInCancelled, expiredInCancelled, notAsked, eventId, subsectionA, subsectionB],
  );
  await pool.query(
    `insert into payments (id, booking_id, user_id, amount_cents, status) values
       ($1, $5, 'alice', 3000, 'DECLINED'), ($2, $5, 'alice', 3000, 'DECLINED'), ($3, $5, 'alice', 3000, 'REQUESTED'), ($4, $6, 'bob', 1500, 'CAPTURED')`,
    [declinedAsked, declinedNotAsked, live, captured, reservedById, paid],
  );
  await pool.query(`insert into buyer_seats (event_id, user_id, seats) values ($1, 'alice', 2), ($1, 'bob', 1)`, [eventId]);
});

after(async () => {
  await zonedPool?.end();
  await environment?.close();
});

test('loads bookings by id and the holds of cancelled subsections, their payments and the buyers asked for, in one statement', async () => {
  queries = 0;
  const state = await store.loadState({
    bookingIds: [reservedById, paid, id(99)],
    paymentIds: [declinedAsked],
    cancelledSubsections: [subsectionB],
    buyers: [{ eventId, userId: 'alice' }, { eventId, userId: 'nobody' }],
  });
  assert.equal(queries, 1);

  const expected: BookingState[] = [
    {
      id: reservedById, userId: 'alice', fingerprint: 'fp1', eventId, subsectionId: subsectionA, quantity: 2, requestedSeats: null, seats: [0, 1],
      status: 'RESERVED', reason: null, createdAtMs: Date.UTC(2026, 10, 22, 15, 57, 29, 123), decidedAtMs: Date.UTC(2026, 10, 22, 15, 57, 29, 500),
      holdExpiresAtMs: Date.UTC(2026, 10, 22, 16, 7, 29, 999), paidAtMs: null, releasedAtMs: null, version: 1,
    },
    {
      id: paid, userId: 'bob', fingerprint: 'fp2', eventId, subsectionId: subsectionB, quantity: 1, requestedSeats: [3], seats: [3],
      status: 'PAID', reason: null, createdAtMs: -1, decidedAtMs: Date.UTC(2026, 10, 22, 15, 57, 30), holdExpiresAtMs: Date.UTC(2026, 10, 22, 16, 7, 30),
      paidAtMs: Date.UTC(2026, 10, 22, 15, 58), releasedAtMs: null, version: 2,
    },
    {
      id: reservedInCancelled, userId: 'carol', fingerprint: 'fp3', eventId, subsectionId: subsectionB, quantity: 1, requestedSeats: null, seats: [0],
      status: 'RESERVED', reason: null, createdAtMs: Date.UTC(2026, 10, 22, 15, 57, 31), decidedAtMs: Date.UTC(2026, 10, 22, 15, 57, 31),
      holdExpiresAtMs: Date.UTC(2026, 10, 22, 16, 7, 31), paidAtMs: null, releasedAtMs: null, version: 1,
    },
  ];
  // Maps compare regardless of order: the statement promises none.
  assert.deepEqual(state.bookings, new Map(expected.map((booking) => [booking.id, booking])));
  assert.deepEqual(state.payments, new Map([
    [declinedAsked, { id: declinedAsked, bookingId: reservedById, status: 'DECLINED' }],
    [live, { id: live, bookingId: reservedById, status: 'REQUESTED' }],
    [captured, { id: captured, bookingId: paid, status: 'CAPTURED' }],
  ]));
  assert.deepEqual(state.buyerSeats, new Map([[buyerKey(eventId, 'alice'), 2]]));
});

test('timestamps equal what node-postgres parses from the same columns', async () => {
  const state = await store.loadState({ bookingIds: [reservedById, paid, expiredInCancelled], paymentIds: [], cancelledSubsections: [], buyers: [] });
  const rows = await environment.pool.query<{ id: string; created_at: Date; decided_at: Date; hold_expires_at: Date | null; paid_at: Date | null; released_at: Date | null }>(
    'select id, created_at, decided_at, hold_expires_at, paid_at, released_at from bookings where id = any($1::uuid[])',
    [[reservedById, paid, expiredInCancelled]],
  );
  assert.equal(rows.rows.length, 3);
  for (const row of rows.rows) {
    const booking = state.bookings.get(row.id)!;
    assert.deepEqual(
      [booking.createdAtMs, booking.decidedAtMs, booking.holdExpiresAtMs, booking.paidAtMs, booking.releasedAtMs],
      [row.created_at, row.decided_at, row.hold_expires_at, row.paid_at, row.released_at].map((value) => (value === null ? null : value.getTime())),
    );
  }
});

test('a slice without booking commands reads no payments, and one with nothing to read does not query', async () => {
  queries = 0;
  const buyersOnly = await store.loadState({ bookingIds: [], paymentIds: [captured], cancelledSubsections: [], buyers: [{ eventId, userId: 'bob' }] });
  assert.equal(queries, 1);
  assert.deepEqual(buyersOnly, { bookings: new Map(), payments: new Map(), buyerSeats: new Map([[buyerKey(eventId, 'bob'), 1]]) });

  const empty = await store.loadState({ bookingIds: [], paymentIds: [], cancelledSubsections: [], buyers: [] });
  assert.equal(queries, 1);
  assert.deepEqual(empty, { bookings: new Map(), payments: new Map(), buyerSeats: new Map() });
});

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; Plans?: PlanNode[] }
const scans = (node: PlanNode): string[] => [
  ...(node['Relation Name'] === undefined ? [] : [`${node['Node Type']} on ${node['Relation Name']}`]),
  ...(node.Plans ?? []).flatMap(scans),
];

test('the plan Postgres keeps for it, made on nearly empty tables, probes indexes instead of scanning tables that grow', async () => {
  // node-postgres prepares the statement once per connection, and after five executions
  // Postgres keeps a generic plan for the connection's life. Force that plan now, while the
  // tables hold a handful of rows, as in the first seconds of a new deployment's on-sale.
  const client = await environment.pool.connect();
  try {
    await client.query('set plan_cache_mode = force_generic_plan');
    await client.query(`prepare load_state (uuid[], int[], uuid[], uuid[], text[]) as ${loadStateSql}`);
    // EXPLAIN EXECUTE takes no bound parameters: the arguments go in as array literals.
    const args = [[reservedById], [subsectionB], [declinedAsked], [eventId], ['alice']].map((values) => client.escapeLiteral(`{${values.join(',')}}`));
    const explained = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) execute load_state(${args.join(', ')})`);
    const found = scans(explained.rows[0]!['QUERY PLAN'][0]!.Plan);
    assert.deepEqual(found.filter((scan) => scan.startsWith('Seq Scan')), [], `sequential scans in ${found.join(', ')}`);
    for (const table of ['bookings', 'payments', 'buyer_seats']) {
      assert.ok(found.some((scan) => scan.endsWith(` on ${table}`) && /Index/.test(scan)), `an index probe of ${table} in ${found.join(', ')}`);
    }
  } finally {
    await client.query('deallocate all').catch(() => {});
    await client.query('reset plan_cache_mode').catch(() => {});
    client.release();
  }
});
