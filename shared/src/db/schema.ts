import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  check,
  jsonb,
  index,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

// Postgres is the arbiter of seat ownership. The rule that makes a double sale impossible is
// the primary key of seat_allocations: one row per (subsection, seat) while the seat is taken,
// whoever tries to insert it, however many consumers believe they own the partition.
// Seats are not pre-created: an event of a million seats is a handful of subsection rows.

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    // Stored lower-cased: addresses differing only in case are one account.
    email: text('email').notNull(),
    // scrypt$<N>$<r>$<p>$<salt>$<hash>, see ticketing-service/src/accounts/passwords.ts.
    passwordHash: text('password_hash').notNull(),
    role: text('role').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [unique('users_email').on(table.email), check('users_role', sql`${table.role} in ('buyer', 'organizer')`)],
);

export const events = pgTable(
  'events',
  {
    id: uuid('id').primaryKey(),
    organizerId: text('organizer_id').notNull(),
    name: text('name').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }),
    capacity: integer('capacity').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    // Null: sales are open from creation, or never close by themselves.
    salesOpenAt: timestamp('sales_open_at', { withTimezone: true }),
    salesCloseAt: timestamp('sales_close_at', { withTimezone: true }),
    // Null: the deployment's defaults (HOLD_DURATION_S, BUYER_SEATS_MAX).
    holdDurationS: integer('hold_duration_s'),
    buyerSeatsMax: integer('buyer_seats_max'),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
  },
  (table) => [
    index('events_created').on(table.createdAt, table.id),
    check('events_sales_window', sql`${table.salesCloseAt} is null or ${table.salesOpenAt} is null or ${table.salesCloseAt} > ${table.salesOpenAt}`),
  ],
);

export const subsections = pgTable(
  'subsections',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    section: text('section').notNull(),
    number: integer('number').notNull(),
    // Position of the section in the organizer's list, so responses keep their order.
    sectionOrder: smallint('section_order').notNull(),
    rows: integer('rows').notNull(),
    seatsPerRow: integer('seats_per_row').notNull(),
    priceCents: integer('price_cents').notNull(),
    capacity: integer('capacity').notNull(),
    // Maintained in the same statement that inserts or deletes allocations, so it is exact.
    reservedCount: integer('reserved_count').notNull().default(0),
    soldCount: integer('sold_count').notNull().default(0),
    // Bumped by every slice that decides commands for the subsection. The Redis projection
    // keeps the version it reflects and refuses older writes, so a stalled process that
    // resumes after another took its partition over cannot roll the seat map back.
    projectionVersion: bigint('projection_version', { mode: 'number' }).notNull().default(0),
  },
  (table) => [
    unique('subsections_event_section_number').on(table.eventId, table.section, table.number),
    check('subsections_counts', sql`${table.reservedCount} >= 0 and ${table.soldCount} >= 0 and ${table.reservedCount} + ${table.soldCount} <= ${table.capacity}`),
    check('subsections_shape', sql`${table.rows} > 0 and ${table.seatsPerRow} > 0 and ${table.capacity} = ${table.rows} * ${table.seatsPerRow}`),
  ],
);

export const bookings = pgTable(
  'bookings',
  {
    id: uuid('id').primaryKey(),
    userId: text('user_id').notNull(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    subsectionId: integer('subsection_id')
      .notNull()
      .references(() => subsections.id, { onDelete: 'cascade' }),
    quantity: smallint('quantity').notNull(),
    // Seat indexes ((row-1)*seatsPerRow + seat-1) the booking asked for (manual) or received;
    // a released booking keeps the seats it held, for its history.
    requestedSeats: integer('requested_seats').array(),
    seats: integer('seats').array().notNull(),
    status: text('status').notNull(),
    reason: text('reason'),
    // sha-256 of (user, event, section, subsection, quantity, requested seats): a retry with the
    // same id must carry the same request.
    fingerprint: text('fingerprint').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true }).notNull(),
    holdExpiresAt: timestamp('hold_expires_at', { withTimezone: true }),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    releasedAt: timestamp('released_at', { withTimezone: true }),
    // Bumped on every transition; SSE ids and optimistic checks use it.
    version: smallint('version').notNull().default(1),
    // When an expiry sweeper last asked the booking's partition to expire it.
    expiryRequestedAt: timestamp('expiry_requested_at', { withTimezone: true }),
  },
  (table) => [
    index('bookings_user_created').on(table.userId, table.createdAt),
    index('bookings_event_status').on(table.eventId, table.status, table.createdAt),
    index('bookings_holds').on(table.holdExpiresAt).where(sql`${table.status} = 'RESERVED'`),
    // A slice that cancels or pays reads the holds of its subsections; without this every
    // slice's read scanned all holds of every event (94 ms at 118,000 holds).
    index('bookings_reserved_by_subsection').on(table.subsectionId).where(sql`${table.status} = 'RESERVED'`),
    check('bookings_status', sql`${table.status} in ('RESERVED', 'REJECTED', 'PAID', 'EXPIRED', 'CANCELLED')`),
    check('bookings_seats_match', sql`(${table.status} = 'REJECTED') = (cardinality(${table.seats}) = 0) and (${table.status} = 'REJECTED' or cardinality(${table.seats}) = ${table.quantity})`),
    check('bookings_hold', sql`${table.status} = 'REJECTED' or ${table.holdExpiresAt} is not null`),
  ],
);

// Seats each buyer holds or bought per event, across every section (and so across partitions).
// The per-buyer cap is enforced atomically where the row is incremented: the increment applies
// only while the total stays within the cap, so two partitions deciding bookings of the same
// buyer at once cannot both pass it (the loser's batch rolls back and is decided again).
export const buyerSeats = pgTable(
  'buyer_seats',
  {
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    seats: integer('seats').notNull(),
  },
  (table) => [primaryKey({ name: 'buyer_seats_pk', columns: [table.eventId, table.userId] }), check('buyer_seats_count', sql`${table.seats} >= 0`)],
);

export const payments = pgTable(
  'payments',
  {
    // Also the idempotency key sent to the payment provider: retries of one payment never
    // charge twice.
    id: uuid('id').primaryKey(),
    bookingId: uuid('booking_id')
      .notNull()
      .references(() => bookings.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    amountCents: integer('amount_cents').notNull(),
    // REQUESTED → CAPTURED | DECLINED; CAPTURED → REFUND_REQUIRED → REFUNDED when the hold ended
    // before the payment landed.
    status: text('status').notNull(),
    // The provider's single-use payment token; erased once the provider answered.
    token: text('token'),
    providerRef: text('provider_ref'),
    declineReason: text('decline_reason'),
    refundRef: text('refund_ref'),
    refundedAt: timestamp('refunded_at', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    leasedUntil: timestamp('leased_until', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // One live payment per booking is enforced by the deferred exclusion constraint
    // payments_one_live (migration 0003): a slice may decline one payment and record the next
    // in the same statement, so the rule is checked when the statement ends, not row by row.
    index('payments_work').on(table.status, table.leasedUntil).where(sql`${table.status} in ('REQUESTED', 'REFUND_REQUIRED')`),
    check('payments_status', sql`${table.status} in ('REQUESTED', 'CAPTURED', 'DECLINED', 'REFUND_REQUIRED', 'REFUNDED')`),
  ],
);

export const seatAllocations = pgTable(
  'seat_allocations',
  {
    subsectionId: integer('subsection_id')
      .notNull()
      .references(() => subsections.id, { onDelete: 'cascade' }),
    seatIndex: integer('seat_index').notNull(),
    bookingId: uuid('booking_id')
      .notNull()
      .references(() => bookings.id, { onDelete: 'cascade' }),
    // 1 = reserved, 2 = sold (the SeatState values of the Redis bitmap).
    state: smallint('state').notNull(),
  },
  (table) => [
    primaryKey({ name: 'seat_allocations_seat', columns: [table.subsectionId, table.seatIndex] }),
    index('seat_allocations_booking').on(table.bookingId),
    check('seat_allocations_state', sql`${table.state} in (1, 2)`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type PaymentRow = typeof payments.$inferSelect;
export type SubsectionRow = typeof subsections.$inferSelect;
export type BookingRow = typeof bookings.$inferSelect;
export type SeatAllocationRow = typeof seatAllocations.$inferSelect;

// Commands accepted while Kafka could not take them (the transactional-outbox fallback): the
// 202 is answered once the row commits, and a relay publishes rows in id order when the
// brokers are back, deleting each only after Kafka acknowledged it.
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    command: jsonb('command').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
);
