-- reverse: create index "leases_name_key" to table: "leases"
DROP INDEX `leases_name_key`;
-- reverse: create "leases" table
DROP TABLE `leases`;
-- reverse: create index "notifygrant_created_at" to table: "notify_grants"
DROP INDEX `notifygrant_created_at`;
-- reverse: create index "notification_created_at" to table: "notifications"
DROP INDEX `notification_created_at`;
-- reverse: create index "daycounter_seller_id_business_day" to table: "day_counters"
DROP INDEX `daycounter_seller_id_business_day`;
-- reverse: create "new_day_counters" table
DROP TABLE `new_day_counters`;
-- reverse: create index "ticket_business_day" to table: "tickets"
DROP INDEX `ticket_business_day`;
-- reverse: create index "callevent_business_day" to table: "call_events"
DROP INDEX `callevent_business_day`;
