import type pg from 'pg';
import { seatPositions, type BookingReason, type BookingRecord, type DecidedStatus } from '@ticketing/shared/domain/booking';
import { cursorTimeSql, type Cursor } from '../plugins/cursor.ts';

// Decided bookings as Postgres holds them, shaped like the Redis record: for reads after the
// record expired, for retries of old booking ids, and for the paginated lists.

export interface BookingPage {
  readonly items: BookingRecord[];
  readonly next: Cursor | null;
}

export interface ListFilter {
  readonly eventId?: string;
  readonly status?: DecidedStatus;
  readonly after?: Cursor;
  readonly limit: number;
}

export interface DecidedBookingReader {
  find(bookingId: string): Promise<BookingRecord | null>;
  listForUser(userId: string, filter: ListFilter): Promise<BookingPage>;
  listForEvent(eventId: string, filter: Omit<ListFilter, 'eventId'>): Promise<BookingPage>;
}

interface Row {
  id: string; user_id: string; fingerprint: string; event_id: string; section: string; number: number; rows: number; seats_per_row: number;
  quantity: number; status: DecidedStatus; reason: BookingReason | null; seats: number[]; created_at: Date; decided_at: Date;
  hold_expires_at: Date | null; paid_at: Date | null; released_at: Date | null; version: number; cursor_at: string;
}

const select = `select b.id, b.user_id, b.fingerprint, b.event_id, s.section, s.number, s.rows, s.seats_per_row, b.quantity, b.status, b.reason, b.seats,
                       b.created_at, b.decided_at, b.hold_expires_at, b.paid_at, b.released_at, b.version, ${cursorTimeSql('b.created_at')} as cursor_at
                from bookings b join subsections s on s.id = b.subsection_id`;

function recordOf(row: Row): BookingRecord {
  return {
    id: row.id,
    eventId: row.event_id,
    section: row.section,
    subsection: row.number,
    quantity: row.quantity,
    status: row.status,
    ...(row.reason ? { reason: row.reason } : {}),
    seats: seatPositions({ rows: row.rows, seatsPerRow: row.seats_per_row }, row.seats),
    createdAt: row.created_at.toISOString(),
    decidedAt: row.decided_at.toISOString(),
    ...(row.hold_expires_at ? { holdExpiresAt: row.hold_expires_at.toISOString() } : {}),
    ...(row.paid_at ? { paidAt: row.paid_at.toISOString() } : {}),
    ...(row.released_at ? { releasedAt: row.released_at.toISOString() } : {}),
    version: row.version,
    userId: row.user_id,
    fingerprint: row.fingerprint,
  };
}

// Newest first; the cursor is the last item's (createdAt, id), so pages never overlap or skip
// even when bookings arrive between requests.
async function page(pool: pg.Pool, name: string, where: string, values: unknown[], filter: ListFilter): Promise<BookingPage> {
  const conditions = [where];
  if (filter.status) conditions.push(`b.status = $${values.push(filter.status)}`);
  if (filter.after) conditions.push(`(b.created_at, b.id) < ($${values.push(filter.after.at)}::timestamptz, $${values.push(filter.after.id)}::uuid)`);
  const limit = values.push(filter.limit + 1);
  const result = await pool.query<Row>({
    name: `${name}:${filter.status ? 's' : ''}${filter.after ? 'c' : ''}`,
    text: `${select} where ${conditions.join(' and ')} order by b.created_at desc, b.id desc limit $${limit}`,
    values,
  });
  const rows = result.rows.slice(0, filter.limit);
  const last = rows.at(-1);
  return { items: rows.map(recordOf), next: result.rows.length > filter.limit && last ? { at: last.cursor_at, id: last.id } : null };
}

export function createDecidedBookingReader(pool: pg.Pool): DecidedBookingReader {
  return {
    async find(bookingId) {
      const result = await pool.query<Row>({ name: 'ticketing.find-booking', text: `${select} where b.id = $1`, values: [bookingId] });
      return result.rows[0] ? recordOf(result.rows[0]) : null;
    },
    listForUser: (userId, filter) =>
      filter.eventId
        ? page(pool, 'ticketing.list-mine-event', 'b.user_id = $1 and b.event_id = $2', [userId, filter.eventId], filter)
        : page(pool, 'ticketing.list-mine', 'b.user_id = $1', [userId], filter),
    listForEvent: (eventId, filter) => page(pool, 'ticketing.list-event', 'b.event_id = $1', [eventId], filter),
  };
}
