-- reverse: create "leases" table
DROP TABLE `leases`;
-- reverse: modify "tickets" table
ALTER TABLE `tickets` DROP INDEX `ticket_business_day`;
-- reverse: modify "notify_grants" table
ALTER TABLE `notify_grants` DROP INDEX `notifygrant_created_at`;
-- reverse: modify "notifications" table
ALTER TABLE `notifications` DROP INDEX `notification_created_at`;
-- reverse: modify "day_counters" table
ALTER TABLE `day_counters` DROP COLUMN `purged_calls`;
-- reverse: modify "call_events" table
ALTER TABLE `call_events` DROP INDEX `callevent_business_day`;
