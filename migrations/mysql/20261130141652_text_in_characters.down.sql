-- reverse: modify "tickets" table
ALTER TABLE `tickets` MODIFY COLUMN `note` varchar(400) NULL;
