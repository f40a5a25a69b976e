-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_sellers" table
CREATE TABLE `new_sellers` (`id` text NOT NULL, `name` text NOT NULL, `person_name` text NULL, `phone` text NULL, `photo` text NULL, `photo_status` text NOT NULL DEFAULT ('PUBLISHED'), `prefix` text NOT NULL DEFAULT (''), `max_number` integer NOT NULL DEFAULT (999), `open` bool NOT NULL DEFAULT (false), `pickup_note` text NULL, `no_show_after_calls` integer NOT NULL DEFAULT (3), `no_show_after_minutes` integer NOT NULL DEFAULT (0), `paid_until` datetime NULL, `invite_hash` text NULL, `call_seq` integer NOT NULL DEFAULT (0), `created_at` datetime NOT NULL, `owner_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `sellers_users_stall` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- copy rows from old table "sellers" to new temporary table "new_sellers"
INSERT INTO `new_sellers` (`id`, `name`, `person_name`, `phone`, `photo`, `prefix`, `max_number`, `open`, `pickup_note`, `no_show_after_calls`, `no_show_after_minutes`, `paid_until`, `invite_hash`, `call_seq`, `created_at`, `owner_id`) SELECT `id`, `name`, `person_name`, `phone`, `photo`, `prefix`, `max_number`, `open`, `pickup_note`, `no_show_after_calls`, `no_show_after_minutes`, `paid_until`, `invite_hash`, `call_seq`, `created_at`, `owner_id` FROM `sellers`;
-- drop "sellers" table after copying rows
DROP TABLE `sellers`;
-- rename temporary table "new_sellers" to "sellers"
ALTER TABLE `new_sellers` RENAME TO `sellers`;
-- create index "sellers_invite_hash_key" to table: "sellers"
CREATE UNIQUE INDEX `sellers_invite_hash_key` ON `sellers` (`invite_hash`);
-- create index "sellers_owner_id_key" to table: "sellers"
CREATE UNIQUE INDEX `sellers_owner_id_key` ON `sellers` (`owner_id`);
-- create "content_checks" table
CREATE TABLE `content_checks` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `subject` text NOT NULL, `seller_id` text NOT NULL, `target_id` text NOT NULL, `user_id` text NOT NULL, `app` text NOT NULL, `scene` integer NOT NULL, `content` text NOT NULL, `previous` text NULL, `state` text NOT NULL, `label` integer NOT NULL DEFAULT (0), `trace_id` text NULL, `reason` text NOT NULL DEFAULT (''), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `lease_until` datetime NULL, `created_at` datetime NOT NULL, `decided_at` datetime NULL);
-- create index "content_checks_trace_id_key" to table: "content_checks"
CREATE UNIQUE INDEX `content_checks_trace_id_key` ON `content_checks` (`trace_id`);
-- create index "contentcheck_state_next_attempt_at" to table: "content_checks"
CREATE INDEX `contentcheck_state_next_attempt_at` ON `content_checks` (`state`, `next_attempt_at`);
-- create index "contentcheck_seller_id_subject" to table: "content_checks"
CREATE INDEX `contentcheck_seller_id_subject` ON `content_checks` (`seller_id`, `subject`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
