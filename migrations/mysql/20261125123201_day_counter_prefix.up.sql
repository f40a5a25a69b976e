-- Written by hand (a data migration; see README "Changing the schema").
-- stall_operations added day_counters.prefix with the default ''. Before it,
-- a fetch formatted codes with the seller's prefix as it was at that moment,
-- so a counter that existed when stall_operations ran (upgraded in the middle
-- of a business day) had been issuing the seller's prefix: it keeps doing
-- so instead of switching to bare numbers until the next day. Its version
-- sorts right after stall_operations, so only databases that apply
-- stall_operations run it (golang-migrate never runs a file below the
-- current version); counters created later hold the prefix of their day.
UPDATE `day_counters` SET `prefix` = (SELECT `prefix` FROM `sellers` WHERE `sellers`.`id` = `day_counters`.`seller_id`) WHERE `prefix` = '';
