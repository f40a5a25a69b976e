-- modify "day_counters" table
ALTER TABLE `day_counters` ADD COLUMN `open` bool NOT NULL DEFAULT false, ADD COLUMN `paid_until` datetime(6) NULL;
