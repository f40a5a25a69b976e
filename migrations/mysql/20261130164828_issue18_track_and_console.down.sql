-- reverse: create "console_challenges" table
DROP TABLE `console_challenges`;
-- reverse: modify "tickets" table
ALTER TABLE `tickets` DROP INDEX `track_token`, DROP COLUMN `track_token`;
