-- modify "call_events" table
ALTER TABLE `call_events` ADD INDEX `callevent_business_day` (`business_day`);
-- modify "day_counters" table
ALTER TABLE `day_counters` ADD COLUMN `purged_calls` bigint NOT NULL DEFAULT 0;
-- modify "notifications" table
ALTER TABLE `notifications` ADD INDEX `notification_created_at` (`created_at`);
-- modify "notify_grants" table
ALTER TABLE `notify_grants` ADD INDEX `notifygrant_created_at` (`created_at`);
-- modify "tickets" table
ALTER TABLE `tickets` ADD INDEX `ticket_business_day` (`business_day`);
-- create "leases" table
CREATE TABLE `leases` (`id` bigint NOT NULL AUTO_INCREMENT, `name` varchar(40) NOT NULL, `holder` varchar(40) NOT NULL DEFAULT '', `expires_at` datetime(6) NOT NULL, `mark` bigint NOT NULL DEFAULT 0, PRIMARY KEY (`id`), UNIQUE INDEX `name` (`name`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
