-- Written by hand (a data migration; see README "Changing the schema").
-- day_counter_state added the seller's open switch and paid term to the
-- counter rows with the defaults closed and unpaid, and the fast fetch now
-- checks them there instead of on the seller: copy them from the seller, or
-- a stall open today would refuse the fast fetch (it would still issue, on
-- the general path, which reads the seller). From here on canteen writes
-- them with the seller's (SetOpen, RenewSeller, ensureCounter).
UPDATE `day_counters` JOIN `sellers` ON `sellers`.`id` = `day_counters`.`seller_id`
SET `day_counters`.`open` = `sellers`.`open`, `day_counters`.`paid_until` = `sellers`.`paid_until`;
