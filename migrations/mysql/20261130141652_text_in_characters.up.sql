-- modify "tickets" table
ALTER TABLE `tickets` MODIFY COLUMN `note` varchar(100) NULL;
