-- reverse: modify "day_counters" table
ALTER TABLE `day_counters` DROP COLUMN `paid_until`, DROP COLUMN `open`;
