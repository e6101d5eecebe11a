import assert from 'node:assert/strict';
import { subsectionsPerSectionMax } from '@ticketing/shared/domain/limits';
import type { SubsectionTarget } from '../../dev/testing/workload.ts';
import type { HttpClient, Tokens } from './http.ts';

// The events the scenarios book against. A venue is cut into equal subsections (1,000 seats
// by default, the size of a stadium block or an arena section), ten per section: enough
// subsections that Kafka partitions share the load, small enough that best-available search
// stays a few rows deep.

export interface EventPlan {
  readonly seats: number;
  readonly subsectionSeats: number;
  readonly rows: number;
  readonly seatsPerRow: number;
  readonly targets: readonly SubsectionTarget[];
  readonly body: { name: string; startsAt: string; sections: Array<{ name: string; subsections: Array<{ number: number; rows: number; seatsPerRow: number; priceCents: number }> }> };
}

const subsectionsPerSection = 10;
// Seats per row tried in order; the first that divides the subsection's size wins.
const rowLengths = [40, 50, 25, 20, 30, 32, 10, 8, 5, 4, 2];

export function planEvent(options: { name: string; seats: number; subsectionSeats: number }): EventPlan {
  const subsectionSeats = Math.min(options.subsectionSeats, options.seats);
  const count = Math.max(1, Math.round(options.seats / subsectionSeats));
  const seatsPerRow = rowLengths.find((length) => subsectionSeats % length === 0 && subsectionSeats / length <= 1000) ?? subsectionSeats;
  const rows = subsectionSeats / seatsPerRow;
  assert.ok(Number.isInteger(rows) && rows >= 1 && seatsPerRow <= 1000, `cannot lay out a subsection of ${subsectionSeats} seats`);
  assert.ok(subsectionsPerSection <= subsectionsPerSectionMax);
  const targets: SubsectionTarget[] = [];
  const sections: EventPlan['body']['sections'] = [];
  for (let index = 0; index < count; index++) {
    const sectionIndex = Math.floor(index / subsectionsPerSection);
    const section = `S${String(sectionIndex + 1).padStart(3, '0')}`;
    const number = (index % subsectionsPerSection) + 1;
    if (number === 1) sections.push({ name: section, subsections: [] });
    sections.at(-1)!.subsections.push({ number, rows, seatsPerRow, priceCents: 5000 + 500 * (sectionIndex % 10) });
    targets.push({ section, number, rows, seatsPerRow });
  }
  return {
    seats: count * subsectionSeats,
    subsectionSeats,
    rows,
    seatsPerRow,
    targets,
    body: { name: options.name, startsAt: new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString(), sections },
  };
}

export interface CreatedEvent {
  readonly id: string;
  readonly plan: EventPlan;
  readonly createMs: number;
}

export async function createEvent(http: HttpClient, tokens: Tokens, plan: EventPlan): Promise<CreatedEvent> {
  const startedAt = performance.now();
  const response = await http.post<{ id?: string; capacity?: number }>('/events', plan.body, tokens.organizer('benchmark-organizer'));
  const createMs = performance.now() - startedAt;
  if (response.status !== 201 || !response.body?.id) {
    throw new Error(`creating the event failed: ${response.status} ${JSON.stringify(response.body).slice(0, 500)}`);
  }
  assert.equal(response.body.capacity, plan.seats, 'the created event has the planned capacity');
  return { id: response.body.id, plan, createMs };
}

// Subsections needed so `bookings` best-available requests of 2.5 seats on average use at
// most `fillMax` of the event: the "too big to sell out" event of the sustained scenarios.
export function seatsFor(bookings: number, options: { fillMax: number; subsectionSeats: number; seatsMax: number }): number {
  const seats = Math.ceil((bookings * 2.5) / options.fillMax / options.subsectionSeats) * options.subsectionSeats;
  return Math.min(options.seatsMax, Math.max(options.subsectionSeats, seats));
}
