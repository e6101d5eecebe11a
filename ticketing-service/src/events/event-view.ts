import { eventStatus, type EventStatus } from '@ticketing/shared/domain/event-status';
import type { EventLayout, EventPolicy } from './event-layout.ts';
import type { SubsectionCountsRow } from './event-store.ts';

export interface SubsectionView {
  readonly number: number;
  readonly rows: number;
  readonly seatsPerRow: number;
  readonly priceCents: number;
  readonly capacity: number;
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
}

export interface EventView {
  readonly id: string;
  readonly name: string;
  readonly status: EventStatus;
  readonly startsAt: string | null;
  readonly createdAt: string;
  readonly salesOpenAt: string | null;
  readonly salesCloseAt: string | null;
  readonly holdDurationS: number;
  readonly buyerSeatsMax: number;
  readonly capacity: number;
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
  readonly sections: Array<{ readonly name: string; readonly subsections: SubsectionView[] }>;
}

const iso = (value: number | null) => (value === null ? null : new Date(value).toISOString());

// Counts come from the subsection counters Postgres updates in the same statement that
// allocates seats, so they always agree with seat_allocations; the status is derived from them
// and the policy at `nowMs`.
export function eventView(
  entry: { layout: EventLayout; policy: EventPolicy },
  counts: readonly SubsectionCountsRow[],
  options: { nowMs: number; defaults: { holdDurationS: number; buyerSeatsMax: number } },
): EventView {
  const { layout, policy } = entry;
  const byId = new Map(counts.map((row) => [row.id, row]));
  let reserved = 0;
  let sold = 0;
  const sections = layout.sections.map((section) => ({
    name: section.name,
    subsections: section.subsections.map((sub) => {
      const row = byId.get(sub.id) ?? { reserved: 0, sold: 0 };
      reserved += row.reserved;
      sold += row.sold;
      return {
        number: sub.number, rows: sub.rows, seatsPerRow: sub.seatsPerRow, priceCents: sub.priceCents, capacity: sub.capacity,
        available: sub.capacity - row.reserved - row.sold, reserved: row.reserved, sold: row.sold,
      };
    }),
  }));
  const available = layout.capacity - reserved - sold;
  return {
    id: layout.id,
    name: policy.name,
    status: eventStatus(policy, available, options.nowMs),
    startsAt: layout.startsAt,
    createdAt: layout.createdAt,
    salesOpenAt: iso(policy.salesOpenAtMs),
    salesCloseAt: iso(policy.salesCloseAtMs),
    holdDurationS: policy.holdDurationS ?? options.defaults.holdDurationS,
    buyerSeatsMax: policy.buyerSeatsMax ?? options.defaults.buyerSeatsMax,
    capacity: layout.capacity,
    available,
    reserved,
    sold,
    sections,
  };
}
