-- reverse: create index "daycounter_seller_id_business_day" to table: "day_counters"
DROP INDEX `daycounter_seller_id_business_day`;
-- reverse: create "new_day_counters" table
DROP TABLE `new_day_counters`;
