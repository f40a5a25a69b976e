-- add column "claim_code" to table: "tickets"
ALTER TABLE `tickets` ADD COLUMN `claim_code` text NULL;
