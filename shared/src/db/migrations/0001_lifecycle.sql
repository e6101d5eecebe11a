CREATE TABLE "buyer_seats" (
	"event_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"seats" integer NOT NULL,
	CONSTRAINT "buyer_seats_pk" PRIMARY KEY("event_id","user_id"),
	CONSTRAINT "buyer_seats_count" CHECK ("buyer_seats"."seats" >= 0)
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"booking_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"amount_cents" integer NOT NULL,
	"status" text NOT NULL,
	"token" text,
	"provider_ref" text,
	"decline_reason" text,
	"refund_ref" text,
	"refunded_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"leased_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_status" CHECK ("payments"."status" in ('REQUESTED', 'CAPTURED', 'DECLINED', 'REFUND_REQUIRED', 'REFUNDED'))
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"email" text NOT NULL,
	"password_hash" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email" UNIQUE("email"),
	CONSTRAINT "users_role" CHECK ("users"."role" in ('buyer', 'organizer'))
);
--> statement-breakpoint
ALTER TABLE "bookings" DROP CONSTRAINT "bookings_status";--> statement-breakpoint
ALTER TABLE "bookings" DROP CONSTRAINT "bookings_seats_match";--> statement-breakpoint
DROP INDEX "bookings_event_status";--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "hold_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "paid_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "released_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "version" smallint DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "expiry_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "sales_open_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "sales_close_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "hold_duration_s" integer;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "buyer_seats_max" integer;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "cancelled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "buyer_seats" ADD CONSTRAINT "buyer_seats_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_booking_id_bookings_id_fk" FOREIGN KEY ("booking_id") REFERENCES "public"."bookings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "payments_live_booking" ON "payments" USING btree ("booking_id") WHERE "payments"."status" <> 'DECLINED';--> statement-breakpoint
CREATE INDEX "payments_work" ON "payments" USING btree ("status","leased_until") WHERE "payments"."status" in ('REQUESTED', 'REFUND_REQUIRED');--> statement-breakpoint
CREATE INDEX "bookings_holds" ON "bookings" USING btree ("hold_expires_at") WHERE "bookings"."status" = 'RESERVED';--> statement-breakpoint
CREATE INDEX "events_created" ON "events" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "bookings_event_status" ON "bookings" USING btree ("event_id","status","created_at");--> statement-breakpoint
UPDATE "bookings" SET "hold_expires_at" = "decided_at" + interval '10 minutes' WHERE "status" = 'RESERVED' AND "hold_expires_at" IS NULL;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_hold" CHECK ("bookings"."status" = 'REJECTED' or "bookings"."hold_expires_at" is not null);--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_status" CHECK ("bookings"."status" in ('RESERVED', 'REJECTED', 'PAID', 'EXPIRED', 'CANCELLED'));--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_seats_match" CHECK (("bookings"."status" = 'REJECTED') = (cardinality("bookings"."seats") = 0) and ("bookings"."status" = 'REJECTED' or cardinality("bookings"."seats") = "bookings"."quantity"));--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_sales_window" CHECK ("events"."sales_close_at" is null or "events"."sales_open_at" is null or "events"."sales_close_at" > "events"."sales_open_at");--> statement-breakpoint
-- Lets one statement check what it changed and undo itself: a batch whose guarded updates did
-- not all apply (another writer moved a booking first) raises TKS01 and rolls back whole.
CREATE OR REPLACE FUNCTION ticketing_assert(condition boolean, message text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF condition IS NOT TRUE THEN
    RAISE EXCEPTION '%', message USING ERRCODE = 'TKS01';
  END IF;
  RETURN true;
END
$$;
