-- reverse: add column "claim_code" to table: "tickets"
ALTER TABLE `tickets` DROP COLUMN `claim_code`;
