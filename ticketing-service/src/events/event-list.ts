import type pg from 'pg';
import { eventStatus, type EventStatus } from '@ticketing/shared/domain/event-status';
import { cursorTimeSql, type Cursor } from '../plugins/cursor.ts';

// GET /events: newest first, paginated by (createdAt, id), optionally by status. Status is
// derived (shared/src/domain/event-status.ts); to filter by it in the database the same rules
// are written once more in SQL below, and a test holds the two to the same answers.

export interface EventSummary {
  readonly id: string;
  readonly name: string;
  readonly status: EventStatus;
  readonly startsAt: string | null;
  readonly salesOpenAt: string | null;
  readonly salesCloseAt: string | null;
  readonly capacity: number;
  readonly available: number;
}

export const statusSql = `case
  when e.cancelled_at <= now() then 'CANCELLED'
  when e.closed_at <= now() or e.sales_close_at <= now() then 'CLOSED'
  when e.sales_open_at > now() then 'SCHEDULED'
  when e.capacity - t.taken > 0 then 'ON_SALE'
  else 'SOLD_OUT' end`;

interface Row {
  id: string; name: string; starts_at: Date | null; created_at: Date; sales_open_at: Date | null; sales_close_at: Date | null;
  closed_at: Date | null; cancelled_at: Date | null; capacity: number; taken: number; now_ms: number; sql_status: EventStatus; cursor_at: string;
}

const ms = (value: Date | null) => (value === null ? null : value.getTime());

export async function listEvents(pool: pg.Pool, filter: { status?: EventStatus; after?: Cursor; limit: number }): Promise<{ items: EventSummary[]; next: Cursor | null; sqlStatuses: EventStatus[] }> {
  const values: unknown[] = [];
  const conditions: string[] = ['true'];
  if (filter.after) conditions.push(`(e.created_at, e.id) < ($${values.push(filter.after.at)}::timestamptz, $${values.push(filter.after.id)}::uuid)`);
  if (filter.status) conditions.push(`${statusSql} = $${values.push(filter.status)}`);
  const limit = values.push(filter.limit + 1);
  const result = await pool.query<Row>({
    text: `select e.id, e.name, e.starts_at, e.created_at, e.sales_open_at, e.sales_close_at, e.closed_at, e.cancelled_at, e.capacity, t.taken,
                  (extract(epoch from now()) * 1000)::float8 as now_ms, ${statusSql} as sql_status, ${cursorTimeSql('e.created_at')} as cursor_at
           from events e
           cross join lateral (select coalesce(sum(s.reserved_count + s.sold_count), 0)::int as taken from subsections s where s.event_id = e.id) t
           where ${conditions.join(' and ')}
           order by e.created_at desc, e.id desc limit $${limit}`,
    values,
  });
  const rows = result.rows.slice(0, filter.limit);
  const items = rows.map((row) => {
    const available = row.capacity - row.taken;
    const policy = { salesOpenAtMs: ms(row.sales_open_at), salesCloseAtMs: ms(row.sales_close_at), closedAtMs: ms(row.closed_at), cancelledAtMs: ms(row.cancelled_at) };
    return {
      id: row.id,
      name: row.name,
      status: eventStatus(policy, available, row.now_ms),
      startsAt: row.starts_at?.toISOString() ?? null,
      salesOpenAt: row.sales_open_at?.toISOString() ?? null,
      salesCloseAt: row.sales_close_at?.toISOString() ?? null,
      capacity: row.capacity,
      available,
    };
  });
  const last = rows.at(-1);
  return {
    items,
    next: result.rows.length > filter.limit && last ? { at: last.cursor_at, id: last.id } : null,
    sqlStatuses: rows.map((row) => row.sql_status),
  };
}
