import { Type } from 'typebox';
import {
  nameLengthMax,
  priceCentsMax,
  rowsPerSubsectionMax,
  seatsPerRowMax,
  sectionNameLengthMax,
  sectionsPerEventMax,
  subsectionsPerSectionMax,
} from '@ticketing/shared/domain/limits';
import { instantText, plainText } from '../schema-types.ts';

// A section name is printable text without separators that would make URLs or keys ambiguous.
const sectionName = Type.String({ minLength: 1, maxLength: sectionNameLengthMax, pattern: "^[\\p{L}\\p{N}][\\p{L}\\p{N} ._'-]*$" });

const holdDurationS = Type.Integer({ minimum: 10, maximum: 86_400, description: 'Seconds reserved seats are held for payment' });
const buyerSeatsMax = Type.Integer({ minimum: 1, maximum: 1000, description: 'Seats one buyer may hold or buy for this event' });

export const createEventBody = Type.Object(
  {
    name: plainText({ minLength: 1, maxLength: nameLengthMax }),
    startsAt: Type.Optional(instantText()),
    salesOpenAt: Type.Optional(instantText({ description: 'Bookings are refused before this (default: on sale at once)' })),
    salesCloseAt: Type.Optional(instantText({ description: 'Bookings are refused from this moment' })),
    holdDurationS: Type.Optional(holdDurationS),
    buyerSeatsMax: Type.Optional(buyerSeatsMax),
    sections: Type.Array(
      Type.Object(
        {
          name: sectionName,
          subsections: Type.Array(
            Type.Object(
              {
                number: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
                rows: Type.Integer({ minimum: 1, maximum: rowsPerSubsectionMax }),
                seatsPerRow: Type.Integer({ minimum: 1, maximum: seatsPerRowMax }),
                priceCents: Type.Integer({ minimum: 0, maximum: priceCentsMax }),
              },
              { additionalProperties: false },
            ),
            { minItems: 1, maxItems: subsectionsPerSectionMax },
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: sectionsPerEventMax },
    ),
  },
  { additionalProperties: false },
);

const counts = {
  capacity: Type.Integer(),
  available: Type.Integer(),
  reserved: Type.Integer(),
  sold: Type.Integer(),
};

const eventStatus = Type.Union([Type.Literal('SCHEDULED'), Type.Literal('ON_SALE'), Type.Literal('SOLD_OUT'), Type.Literal('CLOSED'), Type.Literal('CANCELLED')]);
const nullableTime = Type.Union([instantText(), Type.Null()]);

export const eventViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: eventStatus,
  startsAt: nullableTime,
  createdAt: Type.String({ format: 'date-time' }),
  salesOpenAt: nullableTime,
  salesCloseAt: nullableTime,
  holdDurationS: Type.Integer(),
  buyerSeatsMax: Type.Integer(),
  ...counts,
  sections: Type.Array(Type.Object({
    name: Type.String(),
    subsections: Type.Array(Type.Object({ number: Type.Integer(), rows: Type.Integer(), seatsPerRow: Type.Integer(), priceCents: Type.Integer(), ...counts })),
  })),
});

export const seatMapSchema = Type.Object({
  rows: Type.Integer(),
  seatsPerRow: Type.Integer(),
  rowStates: Type.Array(Type.String(), { description: "rowStates[i] is row i+1: '.' free, 'R' reserved, 'S' sold" }),
});

export const eventParams = Type.Object({ eventId: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export const seatMapParams = Type.Object(
  { eventId: Type.String({ maxLength: 64 }), section: Type.String({ maxLength: 128 }), number: Type.String({ pattern: '^[0-9]{1,7}$' }) },
  { additionalProperties: false },
);

export const eventStreamQuery = Type.Object({
  subsections: Type.Optional(Type.String({ maxLength: 4096, description: 'Comma-separated `section-number` list whose seat maps to stream, e.g. `A-1,A-2`' })),
});

export const patchEventBody = Type.Object(
  {
    name: Type.Optional(plainText({ minLength: 1, maxLength: nameLengthMax })),
    salesOpenAt: Type.Optional(nullableTime),
    salesCloseAt: Type.Optional(nullableTime),
    holdDurationS: Type.Optional(Type.Union([holdDurationS, Type.Null()])),
    buyerSeatsMax: Type.Optional(Type.Union([buyerSeatsMax, Type.Null()])),
    status: Type.Optional(Type.Union([Type.Literal('ON_SALE'), Type.Literal('CLOSED'), Type.Literal('CANCELLED')], {
      description: 'CLOSED stops sales now; ON_SALE reopens them; CANCELLED cancels the event and every open booking (final)',
    })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const eventListQuery = Type.Object(
  {
    status: Type.Optional(eventStatus),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
  },
  { additionalProperties: false },
);

export const eventSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: eventStatus,
  startsAt: nullableTime,
  salesOpenAt: nullableTime,
  salesCloseAt: nullableTime,
  capacity: Type.Integer(),
  available: Type.Integer(),
});

export const eventPage = Type.Object({ items: Type.Array(eventSummary), next: Type.Union([Type.String(), Type.Null()]) });
