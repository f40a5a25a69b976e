-- Written by hand (a data migration; see README "Changing the schema").
-- user_took added users.took with the default 0, but a customer may already
-- hold active tickets: a fetch that trusted 0 could take them past the cap.
-- took_day stays NULL, which makes took a bound on the active tickets of any
-- day: set it to their count. The first fetch or claim afterwards carries it
-- over into the day it happens on (canteen's tookUpdate).
UPDATE `users` SET `took` = (SELECT COUNT(*) FROM `tickets` WHERE `tickets`.`owner_id` = `users`.`id` AND `tickets`.`active_number` IS NOT NULL);
