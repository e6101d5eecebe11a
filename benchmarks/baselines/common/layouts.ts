import type pg from 'pg';
import { DomainError } from '@ticketing/shared/domain/domain-error';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';

// Events in a baseline's own database, which has the product's schema (the product's
// migrations are applied at start): events, subsections with their counters, bookings and
// seat_allocations. Layouts never change after creation, so they are cached in memory, as the
// product caches them. The baselines keep their own small types rather than the product's,
// so the product can evolve without breaking them.

export interface Subsection {
  readonly id: number;
  readonly section: string;
  readonly number: number;
  readonly rows: number;
  readonly seatsPerRow: number;
  readonly priceCents: number;
  readonly capacity: number;
}

export interface Layout {
  readonly id: string;
  readonly name: string;
  readonly startsAt: string | null;
  readonly createdAt: string;
  readonly capacity: number;
  readonly subsections: readonly Subsection[];
  readonly byKey: ReadonlyMap<string, Subsection>;
}

export interface NewEvent {
  readonly id: string;
  readonly organizerId: string;
  readonly name: string;
  readonly startsAt?: string;
  readonly sections: ReadonlyArray<{ readonly name: string; readonly subsections: ReadonlyArray<{ readonly number: number; readonly rows: number; readonly seatsPerRow: number; readonly priceCents: number }> }>;
}

export interface StoredBooking {
  readonly id: string;
  readonly userId: string;
  readonly fingerprint: string;
  readonly eventId: string;
  readonly subsection: Subsection;
  readonly quantity: number;
  readonly status: 'RESERVED' | 'REJECTED';
  readonly reason: string | null;
  readonly seats: readonly number[];
  readonly createdAtMs: number;
  readonly decidedAtMs: number;
}

export interface LayoutCache {
  create(input: NewEvent, onCreated: (client: pg.PoolClient, subsections: readonly Subsection[]) => Promise<void>): Promise<Layout>;
  get(eventId: string): Promise<Layout | null>;
  require(eventId: string): Promise<Layout>;
  counts(eventId: string): Promise<Map<number, { reserved: number; sold: number }>>;
  findBooking(bookingId: string): Promise<StoredBooking | null>;
}

export function subsectionKey(section: string, number: number): string {
  return `${section}\u0000${number}`;
}

const cachedEventsMax = 1000;

function layoutOf(row: { id: string; name: string; starts_at: Date | null; created_at: Date; capacity: number }, subsections: Subsection[]): Layout {
  return {
    id: row.id,
    name: row.name,
    startsAt: row.starts_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    capacity: row.capacity,
    subsections,
    byKey: new Map(subsections.map((sub) => [subsectionKey(sub.section, sub.number), sub])),
  };
}

export function createLayoutCache(pool: pg.Pool): LayoutCache {
  const layouts = new Map<string, Layout>();
  const subsectionsById = new Map<number, Subsection>();
  const remember = (layout: Layout) => {
    if (layouts.size >= cachedEventsMax) layouts.delete(layouts.keys().next().value!);
    layouts.set(layout.id, layout);
    for (const sub of layout.subsections) subsectionsById.set(sub.id, sub);
  };
  const get = async (eventId: string): Promise<Layout | null> => {
    const cached = layouts.get(eventId);
    if (cached) return cached;
    const event = await pool.query<{ id: string; name: string; starts_at: Date | null; created_at: Date; capacity: number }>(
      'select id, name, starts_at, created_at, capacity from events where id = $1', [eventId]);
    if (!event.rows[0]) return null;
    const subsections = await pool.query<{ id: number; section: string; number: number; rows: number; seats_per_row: number; price_cents: number; capacity: number }>(
      'select id, section, number, rows, seats_per_row, price_cents, capacity from subsections where event_id = $1 order by section_order, number', [eventId]);
    const layout = layoutOf(event.rows[0], subsections.rows.map((sub) => ({
      id: sub.id, section: sub.section, number: sub.number, rows: sub.rows, seatsPerRow: sub.seats_per_row, priceCents: sub.price_cents, capacity: sub.capacity,
    })));
    remember(layout);
    return layout;
  };

  return {
    get,
    async require(eventId) {
      const layout = await get(eventId);
      if (!layout) throw new DomainError(ErrorCode.EVENT_NOT_FOUND, `Event ${eventId} does not exist`);
      return layout;
    },
    async create(input, onCreated) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const flat = input.sections.flatMap((section, order) => section.subsections.map((sub) => ({ section: section.name, order, ...sub })));
        const capacity = flat.reduce((sum, sub) => sum + sub.rows * sub.seatsPerRow, 0);
        const event = await client.query<{ id: string; name: string; starts_at: Date | null; created_at: Date; capacity: number }>(
          'insert into events (id, organizer_id, name, starts_at, capacity) values ($1, $2, $3, $4, $5) returning id, name, starts_at, created_at, capacity',
          [input.id, input.organizerId, input.name, input.startsAt ? new Date(input.startsAt) : null, capacity]);
        const inserted = await client.query<{ id: number; section: string; number: number }>(
          `insert into subsections (event_id, section, section_order, number, rows, seats_per_row, price_cents, capacity)
           select $1, s, o, n, r, p, c, r * p from unnest($2::text[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[]) as t(s, o, n, r, p, c)
           returning id, section, number`,
          [input.id, flat.map((sub) => sub.section), flat.map((sub) => sub.order), flat.map((sub) => sub.number), flat.map((sub) => sub.rows),
            flat.map((sub) => sub.seatsPerRow), flat.map((sub) => sub.priceCents)]);
        const ids = new Map(inserted.rows.map((row) => [subsectionKey(row.section, row.number), row.id]));
        const subsections = flat.map((sub) => ({
          id: ids.get(subsectionKey(sub.section, sub.number))!, section: sub.section, number: sub.number, rows: sub.rows, seatsPerRow: sub.seatsPerRow,
          priceCents: sub.priceCents, capacity: sub.rows * sub.seatsPerRow,
        }));
        await onCreated(client, subsections);
        await client.query('commit');
        const layout = layoutOf(event.rows[0]!, subsections);
        remember(layout);
        return layout;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async counts(eventId) {
      const result = await pool.query<{ id: number; reserved: number; sold: number }>('select id, reserved_count as reserved, sold_count as sold from subsections where event_id = $1', [eventId]);
      return new Map(result.rows.map((row) => [row.id, { reserved: row.reserved, sold: row.sold }]));
    },
    async findBooking(bookingId) {
      const result = await pool.query<{
        id: string; user_id: string; fingerprint: string; event_id: string; subsection_id: number; quantity: number; status: 'RESERVED' | 'REJECTED';
        reason: string | null; seats: number[]; created_ms: number; decided_ms: number;
      }>({
        name: 'baseline.find-booking',
        text: `select id, user_id, fingerprint, event_id, subsection_id, quantity, status, reason, seats,
                      (extract(epoch from created_at) * 1000)::float8 as created_ms, (extract(epoch from decided_at) * 1000)::float8 as decided_ms
               from bookings where id = $1`,
        values: [bookingId],
      });
      const row = result.rows[0];
      if (!row) return null;
      if (!subsectionsById.has(row.subsection_id)) await get(row.event_id);
      const subsection = subsectionsById.get(row.subsection_id);
      if (!subsection) return null;
      return {
        id: row.id, userId: row.user_id, fingerprint: row.fingerprint, eventId: row.event_id, subsection, quantity: row.quantity, status: row.status,
        reason: row.reason, seats: row.seats, createdAtMs: Math.round(row.created_ms), decidedAtMs: Math.round(row.decided_ms),
      };
    },
  };
}
