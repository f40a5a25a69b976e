-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create index "callevent_business_day" to table: "call_events"
CREATE INDEX `callevent_business_day` ON `call_events` (`business_day`);
-- create index "ticket_business_day" to table: "tickets"
CREATE INDEX `ticket_business_day` ON `tickets` (`business_day`);
-- create "new_day_counters" table
CREATE TABLE `new_day_counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `business_day` integer NOT NULL, `last_number` integer NOT NULL DEFAULT (0), `issued` integer NOT NULL DEFAULT (0), `max_number` integer NOT NULL, `prefix` text NOT NULL DEFAULT (''), `purged_calls` integer NOT NULL DEFAULT (0), `seller_id` text NOT NULL, CONSTRAINT `day_counters_sellers_counters` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "day_counters" to new temporary table "new_day_counters"
INSERT INTO `new_day_counters` (`id`, `business_day`, `last_number`, `issued`, `max_number`, `prefix`, `seller_id`) SELECT `id`, `business_day`, `last_number`, `issued`, `max_number`, `prefix`, `seller_id` FROM `day_counters`;
-- drop "day_counters" table after copying rows
DROP TABLE `day_counters`;
-- rename temporary table "new_day_counters" to "day_counters"
ALTER TABLE `new_day_counters` RENAME TO `day_counters`;
-- create index "daycounter_seller_id_business_day" to table: "day_counters"
CREATE UNIQUE INDEX `daycounter_seller_id_business_day` ON `day_counters` (`seller_id`, `business_day`);
-- create index "notification_created_at" to table: "notifications"
CREATE INDEX `notification_created_at` ON `notifications` (`created_at`);
-- create index "notifygrant_created_at" to table: "notify_grants"
CREATE INDEX `notifygrant_created_at` ON `notify_grants` (`created_at`);
-- create "leases" table
CREATE TABLE `leases` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `holder` text NOT NULL DEFAULT (''), `expires_at` datetime NOT NULL, `mark` integer NOT NULL DEFAULT (0));
-- create index "leases_name_key" to table: "leases"
CREATE UNIQUE INDEX `leases_name_key` ON `leases` (`name`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
