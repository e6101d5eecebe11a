import { asc, eq, sql } from 'drizzle-orm';
import type { Database } from '@ticketing/shared/db/client';
import { events, subsections } from '@ticketing/shared/db/schema';
import { indexSubsections, type EventLayout, type EventPolicy, type NewEventInput, type SectionLayout } from './event-layout.ts';

// Postgres access for events: creating them, loading a layout and its policy, changing the
// policy, reading live counts.

export interface SubsectionCountsRow {
  readonly id: number;
  readonly reserved: number;
  readonly sold: number;
}

export interface PolicyChange {
  readonly name?: string;
  readonly salesOpenAt?: string | null;
  readonly salesCloseAt?: string | null;
  readonly holdDurationS?: number | null;
  readonly buyerSeatsMax?: number | null;
  // Set to now (or cleared), never to a caller's time.
  readonly closed?: boolean;
  readonly cancel?: true;
}

export interface EventStore {
  create(input: NewEventInput & { id: string; organizerId: string }): Promise<{ layout: EventLayout; policy: EventPolicy }>;
  load(eventId: string): Promise<{ layout: EventLayout; policy: EventPolicy } | null>;
  loadPolicy(eventId: string): Promise<EventPolicy | null>;
  updatePolicy(eventId: string, change: PolicyChange): Promise<EventPolicy>;
  counts(eventId: string): Promise<SubsectionCountsRow[]>;
}

type EventRecord = typeof events.$inferSelect;
type SubsectionRecord = typeof subsections.$inferSelect;

const ms = (value: Date | null) => (value === null ? null : value.getTime());

export function policyOf(event: EventRecord): EventPolicy {
  return {
    name: event.name,
    salesOpenAtMs: ms(event.salesOpenAt),
    salesCloseAtMs: ms(event.salesCloseAt),
    closedAtMs: ms(event.closedAt),
    cancelledAtMs: ms(event.cancelledAt),
    holdDurationS: event.holdDurationS,
    buyerSeatsMax: event.buyerSeatsMax,
  };
}

function layoutOf(event: EventRecord, rows: readonly SubsectionRecord[]): EventLayout {
  const sections: Array<SectionLayout & { subsections: SectionLayout['subsections'][number][] }> = [];
  for (const row of rows) {
    let section = sections.at(-1);
    if (!section || section.name !== row.section) sections.push((section = { name: row.section, subsections: [] }));
    section.subsections.push({
      id: row.id, section: row.section, number: row.number, rows: row.rows, seatsPerRow: row.seatsPerRow, priceCents: row.priceCents, capacity: row.capacity,
    });
  }
  return {
    id: event.id,
    organizerId: event.organizerId,
    startsAt: event.startsAt?.toISOString() ?? null,
    createdAt: event.createdAt.toISOString(),
    capacity: event.capacity,
    sections,
    ...indexSubsections(sections),
  };
}

const dateOrNull = (value: string | null | undefined) => (value === undefined ? undefined : value === null ? null : new Date(value));

export function createEventStore(db: Database): EventStore {
  return {
    async create(input) {
      const capacity = input.sections.reduce((sum, section) => sum + section.subsections.reduce((seats, sub) => seats + sub.rows * sub.seatsPerRow, 0), 0);
      return db.transaction(async (tx) => {
        const [event] = await tx
          .insert(events)
          .values({
            id: input.id, organizerId: input.organizerId, name: input.name, startsAt: input.startsAt ? new Date(input.startsAt) : null, capacity,
            salesOpenAt: input.salesOpenAt ? new Date(input.salesOpenAt) : null, salesCloseAt: input.salesCloseAt ? new Date(input.salesCloseAt) : null,
            holdDurationS: input.holdDurationS ?? null, buyerSeatsMax: input.buyerSeatsMax ?? null,
          })
          .returning();
        const rows = await tx
          .insert(subsections)
          .values(input.sections.flatMap((section, sectionOrder) => section.subsections.map((sub) => ({
            eventId: input.id, section: section.name, sectionOrder, number: sub.number, rows: sub.rows, seatsPerRow: sub.seatsPerRow,
            priceCents: sub.priceCents, capacity: sub.rows * sub.seatsPerRow,
          }))))
          .returning();
        rows.sort((a, b) => a.sectionOrder - b.sectionOrder || a.number - b.number);
        return { layout: layoutOf(event!, rows), policy: policyOf(event!) };
      });
    },

    async load(eventId) {
      const [event] = await db.select().from(events).where(eq(events.id, eventId));
      if (!event) return null;
      const rows = await db.select().from(subsections).where(eq(subsections.eventId, eventId)).orderBy(asc(subsections.sectionOrder), asc(subsections.number));
      return { layout: layoutOf(event, rows), policy: policyOf(event) };
    },

    async loadPolicy(eventId) {
      const [event] = await db.select().from(events).where(eq(events.id, eventId));
      return event ? policyOf(event) : null;
    },

    async updatePolicy(eventId, change) {
      const [event] = await db
        .update(events)
        .set({
          ...(change.name !== undefined ? { name: change.name } : {}),
          ...(change.salesOpenAt !== undefined ? { salesOpenAt: dateOrNull(change.salesOpenAt) } : {}),
          ...(change.salesCloseAt !== undefined ? { salesCloseAt: dateOrNull(change.salesCloseAt) } : {}),
          ...(change.holdDurationS !== undefined ? { holdDurationS: change.holdDurationS } : {}),
          ...(change.buyerSeatsMax !== undefined ? { buyerSeatsMax: change.buyerSeatsMax } : {}),
          ...(change.closed === true ? { closedAt: sql`coalesce(${events.closedAt}, now())` } : change.closed === false ? { closedAt: null } : {}),
          ...(change.cancel ? { cancelledAt: sql`coalesce(${events.cancelledAt}, now())` } : {}),
        })
        .where(eq(events.id, eventId))
        .returning();
      return policyOf(event!);
    },

    async counts(eventId) {
      return db
        .select({ id: subsections.id, reserved: subsections.reservedCount, sold: subsections.soldCount })
        .from(subsections)
        .where(eq(subsections.eventId, sql`${eventId}::uuid`));
    },
  };
}
