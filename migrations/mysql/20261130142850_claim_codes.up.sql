-- modify "tickets" table
ALTER TABLE `tickets` ADD COLUMN `claim_code` varchar(8) NULL;
