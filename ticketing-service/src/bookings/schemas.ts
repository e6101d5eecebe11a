import { Type } from 'typebox';
import { rowsPerSubsectionMax, seatsPerRowMax, sectionNameLengthMax } from '@ticketing/shared/domain/limits';
import { errorBodySchema } from '../plugins/errors.ts';
import { tokenText, uuidText } from '../schema-types.ts';

// Route schemas are the validation and the response serialisers. Bounds here are the
// absolute ones; the configured quantity limit and the subsection's real grid are checked by
// the use case, which answers with a specific code.

export const seatSchema = Type.Object(
  { row: Type.Integer({ minimum: 1, maximum: rowsPerSubsectionMax }), seat: Type.Integer({ minimum: 1, maximum: seatsPerRowMax }) },
  { additionalProperties: false },
);

export const createBookingBody = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, description: 'Client-generated UUIDv7; resend the same id to retry safely' }),
    eventId: uuidText(),
    section: Type.String({ minLength: 1, maxLength: sectionNameLengthMax }),
    subsection: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    quantity: Type.Integer({ minimum: 1, maximum: 10 }),
    seats: Type.Optional(Type.Array(seatSchema, { minItems: 1, maxItems: 10, description: 'Manual pick; seats.length must equal quantity' })),
  },
  { additionalProperties: false },
);

const decidedStatus = Type.Union([Type.Literal('RESERVED'), Type.Literal('REJECTED'), Type.Literal('PAID'), Type.Literal('EXPIRED'), Type.Literal('CANCELLED')]);
const bookingStatus = Type.Union([Type.Literal('PENDING'), decidedStatus]);

const bookingFields = {
  id: Type.String(),
  eventId: Type.String(),
  section: Type.String(),
  subsection: Type.Integer(),
  quantity: Type.Integer(),
  status: bookingStatus,
  reason: Type.Optional(Type.String({ description: 'Why it was rejected, expired or cancelled: SOLD_OUT, SEATS_UNAVAILABLE, LIMIT_EXCEEDED, EVENT_NOT_ON_SALE, HOLD_EXPIRED, CANCELLED_BY_BUYER, …' })),
  seats: Type.Array(Type.Object({ row: Type.Integer(), seat: Type.Integer() })),
  createdAt: Type.String({ format: 'date-time' }),
  decidedAt: Type.Optional(Type.String({ format: 'date-time' })),
  holdExpiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'A RESERVED booking must be paid before this' })),
  paidAt: Type.Optional(Type.String({ format: 'date-time' })),
  releasedAt: Type.Optional(Type.String({ format: 'date-time' })),
  version: Type.Integer({ description: 'Grows by one with every change of state' }),
};

export const bookingView = Type.Object(bookingFields);

// Page sizes: default 50, at most 200.
export function pageLimit(text: string | undefined): number {
  const value = text === undefined ? 50 : Number(text);
  return Math.min(Math.max(value, 1), 200);
}

export const bookingListQuery = Type.Object(
  {
    eventId: Type.Optional(uuidText()),
    status: Type.Optional(decidedStatus),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
  },
  { additionalProperties: false },
);

export const bookingPage = Type.Object({
  items: Type.Array(Type.Object({ ...bookingFields, userId: Type.Optional(Type.String()) })),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page' }),
});

export const paymentBody = Type.Object({ paymentToken: tokenText({ minLength: 1, maxLength: 512, description: "The payment provider's single-use token" }) }, { additionalProperties: false });

export const paymentAccepted = Type.Object({ bookingId: Type.String(), paymentId: Type.String(), status: Type.Literal('PROCESSING') });

export const cancelAccepted = Type.Object({ bookingId: Type.String(), status: Type.Literal('CANCELLING') });

export const acceptedBody = Type.Object({ id: Type.String(), status: Type.Literal('PENDING') });

export const bookingParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export const streamQuery = Type.Object({ access_token: Type.Optional(Type.String({ maxLength: 4096 })) });

export const errorResponses = {
  400: errorBodySchema,
  401: errorBodySchema,
  403: errorBodySchema,
  404: errorBodySchema,
  405: errorBodySchema,
  409: errorBodySchema,
  413: errorBodySchema,
  415: errorBodySchema,
  429: errorBodySchema,
  503: errorBodySchema,
};
