-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_tickets" table
CREATE TABLE `new_tickets` (`id` text NOT NULL, `business_day` integer NOT NULL, `number` integer NOT NULL, `code` text NOT NULL, `active_number` integer NULL, `issue_seq` integer NOT NULL, `status` text NOT NULL DEFAULT ('WAITING'), `note` text NULL, `issued_by` text NOT NULL, `idempotency_key` text NULL, `claim_code` text NULL, `track_token` text NULL, `call_count` integer NOT NULL DEFAULT (0), `version` integer NOT NULL DEFAULT (1), `created_at` datetime NOT NULL, `claimed_at` datetime NULL, `first_called_at` datetime NULL, `called_at` datetime NULL, `done_at` datetime NULL, `called_by` text NULL, `done_by` text NULL, `seller_id` text NOT NULL, `owner_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `tickets_sellers_tickets` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION, CONSTRAINT `tickets_users_tickets` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- copy rows from old table "tickets" to new temporary table "new_tickets"
INSERT INTO `new_tickets` (`id`, `business_day`, `number`, `code`, `active_number`, `issue_seq`, `status`, `note`, `issued_by`, `idempotency_key`, `claim_code`, `call_count`, `version`, `created_at`, `claimed_at`, `first_called_at`, `called_at`, `done_at`, `called_by`, `done_by`, `seller_id`, `owner_id`) SELECT `id`, `business_day`, `number`, `code`, `active_number`, `issue_seq`, `status`, `note`, `issued_by`, `idempotency_key`, `claim_code`, `call_count`, `version`, `created_at`, `claimed_at`, `first_called_at`, `called_at`, `done_at`, `called_by`, `done_by`, `seller_id`, `owner_id` FROM `tickets`;
-- drop "tickets" table after copying rows
DROP TABLE `tickets`;
-- rename temporary table "new_tickets" to "tickets"
ALTER TABLE `new_tickets` RENAME TO `tickets`;
-- create index "tickets_track_token_key" to table: "tickets"
CREATE UNIQUE INDEX `tickets_track_token_key` ON `tickets` (`track_token`);
-- create index "ticket_seller_id_business_day_active_number" to table: "tickets"
CREATE UNIQUE INDEX `ticket_seller_id_business_day_active_number` ON `tickets` (`seller_id`, `business_day`, `active_number`);
-- create index "ticket_seller_id_business_day_issue_seq" to table: "tickets"
CREATE INDEX `ticket_seller_id_business_day_issue_seq` ON `tickets` (`seller_id`, `business_day`, `issue_seq`);
-- create index "ticket_owner_id_business_day" to table: "tickets"
CREATE INDEX `ticket_owner_id_business_day` ON `tickets` (`owner_id`, `business_day`);
-- create index "ticket_issued_by_idempotency_key" to table: "tickets"
CREATE UNIQUE INDEX `ticket_issued_by_idempotency_key` ON `tickets` (`issued_by`, `idempotency_key`);
-- create index "ticket_business_day" to table: "tickets"
CREATE INDEX `ticket_business_day` ON `tickets` (`business_day`);
-- create "console_challenges" table
CREATE TABLE `console_challenges` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `challenge_hash` text NOT NULL, `secret_hash` text NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `approved_by` text NULL, `approved_at` datetime NULL, `used_at` datetime NULL);
-- create index "console_challenges_challenge_hash_key" to table: "console_challenges"
CREATE UNIQUE INDEX `console_challenges_challenge_hash_key` ON `console_challenges` (`challenge_hash`);
-- create index "console_challenges_secret_hash_key" to table: "console_challenges"
CREATE UNIQUE INDEX `console_challenges_secret_hash_key` ON `console_challenges` (`secret_hash`);
-- create index "consolechallenge_expires_at" to table: "console_challenges"
CREATE INDEX `consolechallenge_expires_at` ON `console_challenges` (`expires_at`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
