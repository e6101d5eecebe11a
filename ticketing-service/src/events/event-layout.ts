import {
  sectionsPerEventMax,
  seatsPerSubsectionMax,
  subsectionsPerEventMax,
} from '@ticketing/shared/domain/limits';
import { ErrorCode } from '@ticketing/shared/domain/error-codes';
import { parseInstant } from '@ticketing/shared/domain/instant';
import type { SalesPolicy } from '@ticketing/shared/domain/event-status';

// What an event looks like once created. The seating layout never changes after creation,
// which is what lets every process cache it without invalidation; the sales policy (window,
// closing, cancelling, hold and cap overrides) can, and is cached only briefly.

export interface SubsectionLayout {
  readonly id: number;
  readonly section: string;
  readonly number: number;
  readonly rows: number;
  readonly seatsPerRow: number;
  readonly priceCents: number;
  readonly capacity: number;
}

export interface SectionLayout {
  readonly name: string;
  readonly subsections: readonly SubsectionLayout[];
}

export interface EventPolicy extends SalesPolicy {
  readonly name: string;
  readonly holdDurationS: number | null;
  readonly buyerSeatsMax: number | null;
}

export interface EventLayout {
  readonly id: string;
  readonly organizerId: string;
  readonly startsAt: string | null;
  readonly createdAt: string;
  readonly capacity: number;
  readonly sections: readonly SectionLayout[];
  readonly subsectionsByKey: ReadonlyMap<string, SubsectionLayout>;
  readonly subsectionsById: ReadonlyMap<number, SubsectionLayout>;
}

export interface NewEventInput {
  readonly name: string;
  readonly startsAt?: string;
  readonly salesOpenAt?: string;
  readonly salesCloseAt?: string;
  readonly holdDurationS?: number;
  readonly buyerSeatsMax?: number;
  readonly sections: ReadonlyArray<{
    readonly name: string;
    readonly subsections: ReadonlyArray<{ readonly number: number; readonly rows: number; readonly seatsPerRow: number; readonly priceCents: number }>;
  }>;
}

export type LayoutProblem = { readonly code: ErrorCode; readonly message: string };

export function subsectionKey(section: string, number: number): string {
  return `${section}\u0000${number}`;
}

export function indexSubsections(sections: readonly SectionLayout[]): Pick<EventLayout, 'subsectionsByKey' | 'subsectionsById'> {
  const byKey = new Map<string, SubsectionLayout>();
  const byId = new Map<number, SubsectionLayout>();
  for (const section of sections) {
    for (const subsection of section.subsections) {
      byKey.set(subsectionKey(section.name, subsection.number), subsection);
      byId.set(subsection.id, subsection);
    }
  }
  return { subsectionsByKey: byKey, subsectionsById: byId };
}

// The checks a JSON schema cannot express: uniqueness and totals. Shape and per-field ranges
// are enforced by the route schema before this runs.
export function checkNewEvent(input: NewEventInput, eventSeatsMax: number): LayoutProblem | null {
  const windowProblem = checkInstants({ startsAt: input.startsAt, salesOpenAt: input.salesOpenAt, salesCloseAt: input.salesCloseAt })
    ?? checkSalesWindow(input.salesOpenAt ?? null, input.salesCloseAt ?? null);
  if (windowProblem) return windowProblem;
  if (input.sections.length > sectionsPerEventMax) {
    return { code: ErrorCode.EVENT_LIMIT_EXCEEDED, message: `An event has at most ${sectionsPerEventMax} sections` };
  }
  const sectionNames = new Set<string>();
  let subsections = 0;
  let seats = 0;
  for (const section of input.sections) {
    if (sectionNames.has(section.name)) return { code: ErrorCode.DUPLICATE_SUBSECTION, message: `Section "${section.name}" appears twice` };
    sectionNames.add(section.name);
    const numbers = new Set<number>();
    for (const subsection of section.subsections) {
      if (numbers.has(subsection.number)) {
        return { code: ErrorCode.DUPLICATE_SUBSECTION, message: `Subsection ${subsection.number} appears twice in section "${section.name}"` };
      }
      numbers.add(subsection.number);
      const capacity = subsection.rows * subsection.seatsPerRow;
      if (capacity > seatsPerSubsectionMax) {
        return { code: ErrorCode.EVENT_LIMIT_EXCEEDED, message: `Subsection ${section.name}-${subsection.number} has ${capacity} seats; the limit is ${seatsPerSubsectionMax}` };
      }
      seats += capacity;
      subsections += 1;
    }
  }
  if (subsections > subsectionsPerEventMax) {
    return { code: ErrorCode.EVENT_LIMIT_EXCEEDED, message: `An event has at most ${subsectionsPerEventMax} subsections` };
  }
  if (seats > eventSeatsMax) {
    return { code: ErrorCode.EVENT_LIMIT_EXCEEDED, message: `The event has ${seats} seats; the limit is ${eventSeatsMax}` };
  }
  return null;
}

// Every time the organizer sets names a real instant the API can store (schema-types.ts).
export function checkInstants(times: Readonly<Record<string, string | null | undefined>>): LayoutProblem | null {
  for (const [field, text] of Object.entries(times)) {
    if (text !== null && text !== undefined && parseInstant(text) === null) {
      return { code: ErrorCode.VALIDATION_FAILED, message: `${field} must be a real date and time from 1970 to 9999 (no leap seconds)` };
    }
  }
  return null;
}

export function checkSalesWindow(openAt: string | null, closeAt: string | null): LayoutProblem | null {
  if (openAt !== null && closeAt !== null && Date.parse(closeAt) <= Date.parse(openAt)) {
    return { code: ErrorCode.VALIDATION_FAILED, message: 'salesCloseAt must be after salesOpenAt' };
  }
  return null;
}
