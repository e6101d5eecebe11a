import type { Redis } from 'ioredis';
import type pg from 'pg';
import { decodeBitmap, renderRowStates } from '@ticketing/shared/domain/seat-map';
import type { Api } from './system.ts';

// The promises of the system, checked against Postgres (the arbiter) and through the public
// API (the projection readers see). Returns human-readable violations; empty means all hold.
//   I1  no seat is owned by more than one booking, every reserved or paid booking owns exactly
//       the seats it reports (held for RESERVED, sold for PAID), and a released booking owns none
//   I2  every accepted booking id is decided
//   I3  one booking row per id (the primary key; checked through the accepted ids' outcomes)
//   I4  the seat map served by the API equals Postgres's ownership
//   I5  per subsection, counters equal allocations and free + reserved + sold = capacity,
//       and the API's counts equal Postgres's

export interface InvariantReport {
  readonly violations: string[];
  readonly bookings: { readonly reserved: number; readonly rejected: number; readonly paid: number; readonly released: number; readonly seatsTaken: number };
}

// With `redis`, the Redis bitmaps are compared with Postgres directly too (I4), and Redis booking
// records still PENDING after `idleMs` with no decision in Postgres are reported (I2): the
// check for a running system that does not know which ids were accepted.
export async function checkInvariants(options: {
  pool: pg.Pool;
  api: Api;
  eventId: string;
  acceptedIds?: readonly string[];
  redis?: { client: Redis; keyPrefix: string; idleMs: number };
}): Promise<InvariantReport> {
  const { pool, api, eventId } = options;
  const violations: string[] = [];

  const doubles = await pool.query(`
    select b.subsection_id, seat, count(*)::int as owners
    from bookings b cross join unnest(b.seats) as seat
    where b.event_id = $1 and b.status in ('RESERVED', 'PAID')
    group by b.subsection_id, seat having count(*) > 1`, [eventId]);
  for (const row of doubles.rows) violations.push(`I1: seat ${row.seat} of subsection ${row.subsection_id} is in ${row.owners} reserved bookings`);

  const mismatched = await pool.query(`
    select b.id from bookings b
    where b.event_id = $1 and b.status in ('RESERVED', 'PAID') and (
      cardinality(b.seats) <> b.quantity or
      (select count(*) from seat_allocations a where a.booking_id = b.id) <> b.quantity or
      exists (select 1 from unnest(b.seats) seat where not exists (
        select 1 from seat_allocations a where a.subsection_id = b.subsection_id and a.seat_index = seat and a.booking_id = b.id
          and a.state = case b.status when 'PAID' then 2 else 1 end)))`, [eventId]);
  for (const row of mismatched.rows) violations.push(`I1: booking ${row.id} does not own exactly the seats it reports`);

  const orphans = await pool.query(`
    select count(*)::int as n from seat_allocations a join subsections s on s.id = a.subsection_id
    left join bookings b on b.id = a.booking_id
    where s.event_id = $1 and (b.id is null or b.status not in ('RESERVED', 'PAID'))`, [eventId]);
  if (orphans.rows[0].n > 0) violations.push(`I1: ${orphans.rows[0].n} allocations belong to no reserved or paid booking`);

  const caps = await pool.query(`
    select coalesce(bs.user_id, b.user_id) as user_id, coalesce(bs.seats, 0) as counted, coalesce(b.held, 0)::int as held
    from (select * from buyer_seats where event_id = $1) bs
    full join (select user_id, sum(quantity) as held from bookings where event_id = $1 and status in ('RESERVED', 'PAID') group by user_id) b on b.user_id = bs.user_id
    where coalesce(bs.seats, 0) <> coalesce(b.held, 0)`, [eventId]);
  for (const row of caps.rows) violations.push(`I5: buyer ${row.user_id} is counted as holding ${row.counted} seats but holds ${row.held}`);

  if (options.acceptedIds) {
    const decided = await pool.query(`select id from bookings where id = any($1::uuid[])`, [options.acceptedIds]);
    const missing = options.acceptedIds.length - decided.rowCount!;
    if (missing > 0) violations.push(`I2: ${missing} of ${options.acceptedIds.length} accepted bookings are not decided`);
  }

  const subsections = await pool.query(`
    select s.id, s.section, s.number, s.rows, s.seats_per_row, s.capacity, s.reserved_count, s.sold_count,
           (select count(*)::int from seat_allocations a where a.subsection_id = s.id and a.state = 1) as reserved,
           (select count(*)::int from seat_allocations a where a.subsection_id = s.id and a.state = 2) as sold
    from subsections s where s.event_id = $1 order by s.section_order, s.number`, [eventId]);
  const event = await api.request('GET', `/events/${eventId}`);
  if (event.status !== 200) violations.push(`I5: GET /events/${eventId} answered ${event.status}`);
  for (const sub of subsections.rows) {
    const name = `${sub.section}-${sub.number}`;
    if (sub.reserved_count !== sub.reserved || sub.sold_count !== sub.sold) {
      violations.push(`I5: ${name} counters (${sub.reserved_count} reserved, ${sub.sold_count} sold) differ from allocations (${sub.reserved}, ${sub.sold})`);
    }
    const apiSub = event.body?.sections?.find((s: any) => s.name === sub.section)?.subsections?.find((s: any) => s.number === sub.number);
    if (!apiSub || apiSub.reserved !== sub.reserved || apiSub.sold !== sub.sold || apiSub.available !== sub.capacity - sub.reserved - sub.sold) {
      violations.push(`I5: API counts for ${name} (${JSON.stringify(apiSub && { reserved: apiSub.reserved, sold: apiSub.sold, available: apiSub.available })}) differ from Postgres (${sub.reserved} reserved, ${sub.sold} sold)`);
    }
    const states = new Uint8Array(sub.capacity);
    const allocations = await pool.query('select seat_index, state from seat_allocations where subsection_id = $1', [sub.id]);
    for (const row of allocations.rows) states[row.seat_index] = row.state;
    const expected = renderRowStates({ rows: sub.rows, seatsPerRow: sub.seats_per_row }, states);
    const seatMap = await api.request('GET', `/events/${eventId}/sections/${encodeURIComponent(sub.section)}/subsections/${sub.number}/seats`);
    const differing = expected.filter((row, index) => seatMap.body?.rowStates?.[index] !== row).length;
    if (differing > 0) violations.push(`I4: seat map of ${name} differs from Postgres in ${differing} rows`);
  }

  if (options.redis) violations.push(...(await checkRedis(pool, options.redis, eventId)));

  const totals = await pool.query(`
    select count(*) filter (where b.status = 'RESERVED')::int as reserved, count(*) filter (where b.status = 'REJECTED')::int as rejected,
           count(*) filter (where b.status = 'PAID')::int as paid, count(*) filter (where b.status in ('EXPIRED', 'CANCELLED'))::int as released,
           coalesce(sum(cardinality(b.seats)) filter (where b.status in ('RESERVED', 'PAID')), 0)::int as seats
    from bookings b where b.event_id = $1`, [eventId]);
  const row = totals.rows[0];
  return { violations, bookings: { reserved: row.reserved, rejected: row.rejected, paid: row.paid, released: row.released, seatsTaken: row.seats } };
}

async function checkRedis(pool: pg.Pool, redis: { client: Redis; keyPrefix: string; idleMs: number }, eventId: string): Promise<string[]> {
  const violations: string[] = [];
  const subsections = await pool.query<{ id: number; section: string; number: number; capacity: number }>('select id, section, number, capacity from subsections where event_id = $1', [eventId]);
  for (const sub of subsections.rows) {
    const bitmap = await redis.client.getBuffer(`${redis.keyPrefix}seats:${sub.id}`);
    // A missing bitmap is allowed (readers fall back to Postgres; the next write rebuilds it).
    if (!bitmap) continue;
    const states = decodeBitmap(bitmap, sub.capacity);
    const expected = new Uint8Array(sub.capacity);
    for (const row of (await pool.query('select seat_index, state from seat_allocations where subsection_id = $1', [sub.id])).rows) expected[row.seat_index] = row.state;
    const differing = expected.reduce((count, state, index) => count + (states[index] === state ? 0 : 1), 0);
    if (differing > 0) violations.push(`I4: the Redis bitmap of ${sub.section}-${sub.number} differs from Postgres in ${differing} seats`);
  }
  const pending: string[] = [];
  const decidedInRedis = new Map<string, { status: string; version: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.client.scan(cursor, 'MATCH', `${redis.keyPrefix}booking:*`, 'COUNT', 1000);
    cursor = next;
    const values = keys.length > 0 ? await redis.client.mget(...keys) : [];
    for (const value of values) {
      const record = value ? (JSON.parse(value) as { id: string; eventId: string; status: string; createdAt: string; version: number }) : null;
      if (record?.eventId !== eventId) continue;
      if (record.status === 'PENDING' && Date.now() - Date.parse(record.createdAt) > redis.idleMs) pending.push(record.id);
      if (record.status !== 'PENDING') decidedInRedis.set(record.id, { status: record.status, version: record.version });
    }
  } while (cursor !== '0');
  if (pending.length > 0) {
    const decided = await pool.query('select count(*)::int as n from bookings where id = any($1::uuid[])', [pending]);
    const stuck = pending.length - decided.rows[0].n;
    if (stuck > 0) violations.push(`I2: ${stuck} accepted bookings are still PENDING after ${redis.idleMs} ms with no decision`);
  }
  // One booking per id: what Redis says was decided is what Postgres holds, at the same version.
  if (decidedInRedis.size > 0) {
    const rows = await pool.query<{ id: string; status: string; version: number }>('select id, status, version from bookings where id = any($1::uuid[])', [[...decidedInRedis.keys()]]);
    const inPostgres = new Map(rows.rows.map((row) => [row.id, row]));
    for (const [id, record] of decidedInRedis) {
      const row = inPostgres.get(id);
      if (!row) violations.push(`I3: booking ${id} is ${record.status} in Redis but unknown to Postgres`);
      else if (row.version === record.version && row.status !== record.status) violations.push(`I3: booking ${id} is ${record.status} in Redis but ${row.status} in Postgres at the same version`);
      else if (row.version < record.version) violations.push(`I3: booking ${id} is further along in Redis (v${record.version}) than in Postgres (v${row.version})`);
    }
  }
  return violations;
}
