-- create "call_events" table
CREATE TABLE `call_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `business_day` integer NOT NULL, `seq` integer NOT NULL, `called_at` datetime NOT NULL, `ticket_id` text NOT NULL, `seller_id` text NOT NULL, CONSTRAINT `call_events_tickets_ticket` FOREIGN KEY (`ticket_id`) REFERENCES `tickets` (`id`) ON DELETE NO ACTION, CONSTRAINT `call_events_sellers_call_events` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION);
-- create index "callevent_seller_id_seq" to table: "call_events"
CREATE UNIQUE INDEX `callevent_seller_id_seq` ON `call_events` (`seller_id`, `seq`);
-- create index "callevent_seller_id_business_day_seq" to table: "call_events"
CREATE UNIQUE INDEX `callevent_seller_id_business_day_seq` ON `call_events` (`seller_id`, `business_day`, `seq`);
-- create "day_counters" table
CREATE TABLE `day_counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `business_day` integer NOT NULL, `last_number` integer NOT NULL DEFAULT (0), `issued` integer NOT NULL DEFAULT (0), `max_number` integer NOT NULL, `seller_id` text NOT NULL, CONSTRAINT `day_counters_sellers_counters` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION);
-- create index "daycounter_seller_id_business_day" to table: "day_counters"
CREATE UNIQUE INDEX `daycounter_seller_id_business_day` ON `day_counters` (`seller_id`, `business_day`);
-- create "menu_items" table
CREATE TABLE `menu_items` (`id` text NOT NULL, `name` text NOT NULL, `price_cents` integer NULL, `available` bool NOT NULL DEFAULT (true), `position` integer NOT NULL DEFAULT (0), `seller_id` text NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `menu_items_sellers_menu` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION);
-- create index "menuitem_seller_id_position" to table: "menu_items"
CREATE INDEX `menuitem_seller_id_position` ON `menu_items` (`seller_id`, `position`);
-- create "sellers" table
CREATE TABLE `sellers` (`id` text NOT NULL, `name` text NOT NULL, `person_name` text NULL, `phone` text NULL, `photo` text NULL, `prefix` text NOT NULL DEFAULT (''), `max_number` integer NOT NULL DEFAULT (999), `open` bool NOT NULL DEFAULT (false), `paid_until` datetime NULL, `invite_hash` text NULL, `call_seq` integer NOT NULL DEFAULT (0), `created_at` datetime NOT NULL, `owner_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `sellers_users_stall` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- create index "sellers_invite_hash_key" to table: "sellers"
CREATE UNIQUE INDEX `sellers_invite_hash_key` ON `sellers` (`invite_hash`);
-- create index "sellers_owner_id_key" to table: "sellers"
CREATE UNIQUE INDEX `sellers_owner_id_key` ON `sellers` (`owner_id`);
-- create "sessions" table
CREATE TABLE `sessions` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `token_hash` text NOT NULL, `app` text NOT NULL, `session_key` text NULL, `created_at` datetime NOT NULL, `last_seen_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `user_id` text NOT NULL, CONSTRAINT `sessions_users_sessions` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE NO ACTION);
-- create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX `sessions_token_hash_key` ON `sessions` (`token_hash`);
-- create index "session_expires_at" to table: "sessions"
CREATE INDEX `session_expires_at` ON `sessions` (`expires_at`);
-- create "tickets" table
CREATE TABLE `tickets` (`id` text NOT NULL, `business_day` integer NOT NULL, `number` integer NOT NULL, `code` text NOT NULL, `active_number` integer NULL, `issue_seq` integer NOT NULL, `status` text NOT NULL DEFAULT ('WAITING'), `note` text NULL, `issued_by` text NOT NULL, `idempotency_key` text NULL, `call_count` integer NOT NULL DEFAULT (0), `version` integer NOT NULL DEFAULT (1), `created_at` datetime NOT NULL, `claimed_at` datetime NULL, `called_at` datetime NULL, `done_at` datetime NULL, `called_by` text NULL, `done_by` text NULL, `seller_id` text NOT NULL, `owner_id` text NULL, PRIMARY KEY (`id`), CONSTRAINT `tickets_sellers_tickets` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION, CONSTRAINT `tickets_users_tickets` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE SET NULL);
-- create index "ticket_seller_id_business_day_active_number" to table: "tickets"
CREATE UNIQUE INDEX `ticket_seller_id_business_day_active_number` ON `tickets` (`seller_id`, `business_day`, `active_number`);
-- create index "ticket_seller_id_business_day_issue_seq" to table: "tickets"
CREATE INDEX `ticket_seller_id_business_day_issue_seq` ON `tickets` (`seller_id`, `business_day`, `issue_seq`);
-- create index "ticket_owner_id_business_day" to table: "tickets"
CREATE INDEX `ticket_owner_id_business_day` ON `tickets` (`owner_id`, `business_day`);
-- create index "ticket_issued_by_idempotency_key" to table: "tickets"
CREATE UNIQUE INDEX `ticket_issued_by_idempotency_key` ON `tickets` (`issued_by`, `idempotency_key`);
-- create "users" table
CREATE TABLE `users` (`id` text NOT NULL, `app` text NOT NULL, `openid` text NOT NULL, `unionid` text NULL, `created_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- create index "user_app_openid" to table: "users"
CREATE UNIQUE INDEX `user_app_openid` ON `users` (`app`, `openid`);
