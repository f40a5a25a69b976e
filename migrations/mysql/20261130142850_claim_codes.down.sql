-- reverse: modify "tickets" table
ALTER TABLE `tickets` DROP COLUMN `claim_code`;
