-- create "notifications" table
CREATE TABLE `notifications` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `grant_id` integer NOT NULL, `ticket_id` text NOT NULL, `user_id` text NOT NULL, `template_id` text NOT NULL, `data` text NOT NULL, `state` text NOT NULL DEFAULT ('PENDING'), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `lease_until` datetime NULL, `last_error` text NOT NULL DEFAULT (''), `created_at` datetime NOT NULL, `sent_at` datetime NULL);
-- create index "notifications_grant_id_key" to table: "notifications"
CREATE UNIQUE INDEX `notifications_grant_id_key` ON `notifications` (`grant_id`);
-- create index "notification_state_next_attempt_at" to table: "notifications"
CREATE INDEX `notification_state_next_attempt_at` ON `notifications` (`state`, `next_attempt_at`);
-- create "notify_grants" table
CREATE TABLE `notify_grants` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `ticket_id` text NOT NULL, `user_id` text NOT NULL, `template_id` text NOT NULL, `created_at` datetime NOT NULL, `used_at` datetime NULL);
-- create index "notifygrant_ticket_id_used_at" to table: "notify_grants"
CREATE INDEX `notifygrant_ticket_id_used_at` ON `notify_grants` (`ticket_id`, `used_at`);
