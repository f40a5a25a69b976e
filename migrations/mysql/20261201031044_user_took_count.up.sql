-- Written by hand (a data migration; see README "Changing the schema").
-- user_took added users.took with the default 0, but a customer may already
-- hold active tickets, or cancelled and no-show ones a seller can reopen:
-- a fetch that trusted 0 could take them past the cap. took_day stays NULL,
-- which makes took a bound on those tickets of any day: set it to their
-- count (an overcount only makes that day's fetches count). The first
-- fetch or claim afterwards carries it over into its day (canteen's
-- tookUpdate). Only rows of customers holding such tickets are written,
-- so the rest of the users table is not locked meanwhile.
UPDATE `users` SET `took` = (SELECT COUNT(*) FROM `tickets` WHERE `tickets`.`owner_id` = `users`.`id` AND (`tickets`.`active_number` IS NOT NULL OR `tickets`.`status` IN ('CANCELLED', 'NO_SHOW')))
WHERE `id` IN (SELECT `owner_id` FROM `tickets` WHERE `active_number` IS NOT NULL OR `status` IN ('CANCELLED', 'NO_SHOW'));
