-- reverse: modify "users" table
ALTER TABLE `users` DROP COLUMN `took_day`, DROP COLUMN `took`;
