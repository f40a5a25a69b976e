-- reverse: create index "auditentry_created_at" to table: "audit_entries"
DROP INDEX `auditentry_created_at`;
-- reverse: create index "auditentry_target_id_created_at" to table: "audit_entries"
DROP INDEX `auditentry_target_id_created_at`;
-- reverse: create "audit_entries" table
DROP TABLE `audit_entries`;
-- reverse: add column "first_called_at" to table: "tickets"
ALTER TABLE `tickets` DROP COLUMN `first_called_at`;
-- reverse: create index "sellers_owner_id_key" to table: "sellers"
DROP INDEX `sellers_owner_id_key`;
-- reverse: create index "sellers_invite_hash_key" to table: "sellers"
DROP INDEX `sellers_invite_hash_key`;
-- reverse: create "new_sellers" table
DROP TABLE `new_sellers`;
-- reverse: create index "daycounter_seller_id_business_day" to table: "day_counters"
DROP INDEX `daycounter_seller_id_business_day`;
-- reverse: create "new_day_counters" table
DROP TABLE `new_day_counters`;
