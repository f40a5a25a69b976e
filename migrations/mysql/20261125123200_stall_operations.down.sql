-- reverse: create "audit_entries" table
DROP TABLE `audit_entries`;
-- reverse: modify "tickets" table
ALTER TABLE `tickets` DROP COLUMN `first_called_at`;
-- reverse: modify "sellers" table
ALTER TABLE `sellers` DROP COLUMN `no_show_after_minutes`, DROP COLUMN `no_show_after_calls`, DROP COLUMN `pickup_note`;
-- reverse: modify "day_counters" table
ALTER TABLE `day_counters` DROP COLUMN `prefix`;
