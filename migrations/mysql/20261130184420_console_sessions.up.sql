-- modify "sessions" table
ALTER TABLE `sessions` ADD COLUMN `console` bool NOT NULL DEFAULT false;
