-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_day_counters" table
CREATE TABLE `new_day_counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `business_day` integer NOT NULL, `last_number` integer NOT NULL DEFAULT (0), `issued` integer NOT NULL DEFAULT (0), `max_number` integer NOT NULL, `prefix` text NOT NULL DEFAULT (''), `seller_id` text NOT NULL, CONSTRAINT `day_counters_sellers_counters` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "day_counters" to new temporary table "new_day_counters"
INSERT INTO `new_day_counters` (`id`, `business_day`, `last_number`, `issued`, `max_number`, `seller_id`) SELECT `id`, `business_day`, `last_number`, `issued`, `max_number`, `seller_id` FROM `day_counters`;
-- drop "day_counters" table after copying rows
DROP TABLE `day_counters`;
-- rename temporary table "new_day_counters" to "day_counters"
ALTER TABLE `new_day_counters` RENAME TO `day_counters`;
-- create index "daycounter_seller_id_business_day" to table: "day_counters"
CREATE UNIQUE INDEX `daycounter_seller_id_business_day` ON `day_counters` (`seller_id`, `business_day`);
-- create "new_sellers" table
CREATE TABLE `new_sellers` (`id` text NOT NULL, `name` text NOT NULL, `person_name` text NULL, `phone` text NULL, `photo` text NULL, `prefix` text NOT NULL DEFAULT (''), `max_number` integer NOT NULL DEFAULT (999), `open` bool NOT NULL DEFAULT (false), `pickup_note` text NULL, `no_show_after_calls` integer NOT NULL DEFAULT (3), `no_show_after_minutes` integer NOT NULL DEFAULT (0), `paid_until` datetime NULL, `invite_hash` text NULL, `call_seq` integer NOT NULL DEFAULT (0), `created_at` datetime NOT NULL, `owner_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `sellers_users_stall` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- copy rows from old table "sellers" to new temporary table "new_sellers"
INSERT INTO `new_sellers` (`id`, `name`, `person_name`, `phone`, `photo`, `prefix`, `max_number`, `open`, `paid_until`, `invite_hash`, `call_seq`, `created_at`, `owner_id`) SELECT `id`, `name`, `person_name`, `phone`, `photo`, `prefix`, `max_number`, `open`, `paid_until`, `invite_hash`, `call_seq`, `created_at`, `owner_id` FROM `sellers`;
-- drop "sellers" table after copying rows
DROP TABLE `sellers`;
-- rename temporary table "new_sellers" to "sellers"
ALTER TABLE `new_sellers` RENAME TO `sellers`;
-- create index "sellers_invite_hash_key" to table: "sellers"
CREATE UNIQUE INDEX `sellers_invite_hash_key` ON `sellers` (`invite_hash`);
-- create index "sellers_owner_id_key" to table: "sellers"
CREATE UNIQUE INDEX `sellers_owner_id_key` ON `sellers` (`owner_id`);
-- add column "first_called_at" to table: "tickets"
ALTER TABLE `tickets` ADD COLUMN `first_called_at` datetime NULL;
-- create "audit_entries" table
CREATE TABLE `audit_entries` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `actor_id` text NOT NULL, `action` text NOT NULL, `target_id` text NOT NULL, `detail` text NOT NULL DEFAULT (''), `created_at` datetime NOT NULL);
-- create index "auditentry_target_id_created_at" to table: "audit_entries"
CREATE INDEX `auditentry_target_id_created_at` ON `audit_entries` (`target_id`, `created_at`);
-- create index "auditentry_created_at" to table: "audit_entries"
CREATE INDEX `auditentry_created_at` ON `audit_entries` (`created_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
