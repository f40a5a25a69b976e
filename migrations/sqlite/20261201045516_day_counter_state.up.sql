-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_day_counters" table
CREATE TABLE `new_day_counters` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `business_day` integer NOT NULL, `last_number` integer NOT NULL DEFAULT (0), `issued` integer NOT NULL DEFAULT (0), `max_number` integer NOT NULL, `prefix` text NOT NULL DEFAULT (''), `purged_calls` integer NOT NULL DEFAULT (0), `open` bool NOT NULL DEFAULT (false), `paid_until` datetime NULL, `seller_id` text NOT NULL, CONSTRAINT `day_counters_sellers_counters` FOREIGN KEY (`seller_id`) REFERENCES `sellers` (`id`) ON DELETE NO ACTION);
-- copy rows from old table "day_counters" to new temporary table "new_day_counters"
INSERT INTO `new_day_counters` (`id`, `business_day`, `last_number`, `issued`, `max_number`, `prefix`, `purged_calls`, `seller_id`) SELECT `id`, `business_day`, `last_number`, `issued`, `max_number`, `prefix`, `purged_calls`, `seller_id` FROM `day_counters`;
-- drop "day_counters" table after copying rows
DROP TABLE `day_counters`;
-- rename temporary table "new_day_counters" to "day_counters"
ALTER TABLE `new_day_counters` RENAME TO `day_counters`;
-- create index "daycounter_seller_id_business_day" to table: "day_counters"
CREATE UNIQUE INDEX `daycounter_seller_id_business_day` ON `day_counters` (`seller_id`, `business_day`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
