-- modify "tickets" table
ALTER TABLE `tickets` ADD COLUMN `track_token` varchar(32) NULL, ADD UNIQUE INDEX `track_token` (`track_token`);
-- create "console_challenges" table
CREATE TABLE `console_challenges` (`id` bigint NOT NULL AUTO_INCREMENT, `challenge_hash` varchar(64) NOT NULL, `secret_hash` varchar(64) NOT NULL, `created_at` datetime(6) NOT NULL, `expires_at` datetime(6) NOT NULL, `approved_by` varchar(28) NULL, `approved_at` datetime(6) NULL, `used_at` datetime(6) NULL, PRIMARY KEY (`id`), UNIQUE INDEX `challenge_hash` (`challenge_hash`), UNIQUE INDEX `secret_hash` (`secret_hash`), INDEX `consolechallenge_expires_at` (`expires_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
