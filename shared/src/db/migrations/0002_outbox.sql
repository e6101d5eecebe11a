CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"command" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
