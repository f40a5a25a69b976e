-- modify "users" table
ALTER TABLE `users` ADD COLUMN `took` bigint NOT NULL DEFAULT 0, ADD COLUMN `took_day` bigint NULL;
