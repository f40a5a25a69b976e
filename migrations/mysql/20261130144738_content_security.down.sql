-- reverse: create "content_checks" table
DROP TABLE `content_checks`;
-- reverse: modify "sellers" table
ALTER TABLE `sellers` DROP COLUMN `photo_status`;
