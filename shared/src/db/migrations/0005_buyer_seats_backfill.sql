-- 0001 added buyer_seats (seats each buyer holds per event, kept by every decision) but did
-- not count the holds that already existed. Releasing such a hold decrements a row that is not
-- there, the guarded write refuses the slice, and the partition retries it forever. Count them
-- now; rows that exist are already kept exact by the decisions since 0001.
INSERT INTO "buyer_seats" ("event_id", "user_id", "seats")
SELECT "event_id", "user_id", sum("quantity")
FROM "bookings"
WHERE "status" IN ('RESERVED', 'PAID')
GROUP BY "event_id", "user_id"
ON CONFLICT ("event_id", "user_id") DO NOTHING;
