-- modify "day_counters" table
ALTER TABLE `day_counters` ADD COLUMN `prefix` varchar(4) NOT NULL DEFAULT '';
-- modify "sellers" table
ALTER TABLE `sellers` ADD COLUMN `pickup_note` varchar(100) NULL, ADD COLUMN `no_show_after_calls` bigint NOT NULL DEFAULT 3, ADD COLUMN `no_show_after_minutes` bigint NOT NULL DEFAULT 0;
-- modify "tickets" table
ALTER TABLE `tickets` ADD COLUMN `first_called_at` datetime(6) NULL;
-- create "audit_entries" table
CREATE TABLE `audit_entries` (`id` bigint NOT NULL AUTO_INCREMENT, `actor_id` varchar(28) NOT NULL, `action` varchar(40) NOT NULL, `target_id` varchar(28) NOT NULL, `detail` varchar(400) NOT NULL DEFAULT '', `created_at` datetime(6) NOT NULL, PRIMARY KEY (`id`), INDEX `auditentry_target_id_created_at` (`target_id`, `created_at`), INDEX `auditentry_created_at` (`created_at`)) CHARSET utf8mb4 COLLATE utf8mb4_bin;
