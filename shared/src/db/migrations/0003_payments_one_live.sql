DROP INDEX "payments_live_booking";--> statement-breakpoint
-- One live (not declined) payment per booking, checked at the end of the statement: deciding a
-- slice may decline one payment and record the buyer's next one together.
ALTER TABLE "payments" ADD CONSTRAINT "payments_one_live" EXCLUDE USING btree ("booking_id" WITH =) WHERE ("status" <> 'DECLINED') DEFERRABLE INITIALLY DEFERRED;
