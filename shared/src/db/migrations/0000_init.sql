CREATE TABLE "bookings" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"event_id" uuid NOT NULL,
	"subsection_id" integer NOT NULL,
	"quantity" smallint NOT NULL,
	"requested_seats" integer[],
	"seats" integer[] NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"fingerprint" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone NOT NULL,
	CONSTRAINT "bookings_status" CHECK ("bookings"."status" in ('RESERVED', 'REJECTED')),
	CONSTRAINT "bookings_seats_match" CHECK (("bookings"."status" = 'RESERVED') = (cardinality("bookings"."seats") = "bookings"."quantity"))
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organizer_id" text NOT NULL,
	"name" text NOT NULL,
	"starts_at" timestamp with time zone,
	"capacity" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "seat_allocations" (
	"subsection_id" integer NOT NULL,
	"seat_index" integer NOT NULL,
	"booking_id" uuid NOT NULL,
	"state" smallint NOT NULL,
	CONSTRAINT "seat_allocations_seat" PRIMARY KEY("subsection_id","seat_index"),
	CONSTRAINT "seat_allocations_state" CHECK ("seat_allocations"."state" in (1, 2))
);
--> statement-breakpoint
CREATE TABLE "subsections" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "subsections_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"event_id" uuid NOT NULL,
	"section" text NOT NULL,
	"number" integer NOT NULL,
	"section_order" smallint NOT NULL,
	"rows" integer NOT NULL,
	"seats_per_row" integer NOT NULL,
	"price_cents" integer NOT NULL,
	"capacity" integer NOT NULL,
	"reserved_count" integer DEFAULT 0 NOT NULL,
	"sold_count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "subsections_event_section_number" UNIQUE("event_id","section","number"),
	CONSTRAINT "subsections_counts" CHECK ("subsections"."reserved_count" >= 0 and "subsections"."sold_count" >= 0 and "subsections"."reserved_count" + "subsections"."sold_count" <= "subsections"."capacity"),
	CONSTRAINT "subsections_shape" CHECK ("subsections"."rows" > 0 and "subsections"."seats_per_row" > 0 and "subsections"."capacity" = "subsections"."rows" * "subsections"."seats_per_row")
);
--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_subsection_id_subsections_id_fk" FOREIGN KEY ("subsection_id") REFERENCES "public"."subsections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seat_allocations" ADD CONSTRAINT "seat_allocations_subsection_id_subsections_id_fk" FOREIGN KEY ("subsection_id") REFERENCES "public"."subsections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "seat_allocations" ADD CONSTRAINT "seat_allocations_booking_id_bookings_id_fk" FOREIGN KEY ("booking_id") REFERENCES "public"."bookings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subsections" ADD CONSTRAINT "subsections_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bookings_user_created" ON "bookings" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "bookings_event_status" ON "bookings" USING btree ("event_id","status");--> statement-breakpoint
CREATE INDEX "seat_allocations_booking" ON "seat_allocations" USING btree ("booking_id");