-- reverse: create index "user_app_openid" to table: "users"
DROP INDEX `user_app_openid`;
-- reverse: create "users" table
DROP TABLE `users`;
-- reverse: create index "ticket_issued_by_idempotency_key" to table: "tickets"
DROP INDEX `ticket_issued_by_idempotency_key`;
-- reverse: create index "ticket_owner_id_business_day" to table: "tickets"
DROP INDEX `ticket_owner_id_business_day`;
-- reverse: create index "ticket_seller_id_business_day_issue_seq" to table: "tickets"
DROP INDEX `ticket_seller_id_business_day_issue_seq`;
-- reverse: create index "ticket_seller_id_business_day_active_number" to table: "tickets"
DROP INDEX `ticket_seller_id_business_day_active_number`;
-- reverse: create "tickets" table
DROP TABLE `tickets`;
-- reverse: create index "session_expires_at" to table: "sessions"
DROP INDEX `session_expires_at`;
-- reverse: create index "sessions_token_hash_key" to table: "sessions"
DROP INDEX `sessions_token_hash_key`;
-- reverse: create "sessions" table
DROP TABLE `sessions`;
-- reverse: create index "sellers_owner_id_key" to table: "sellers"
DROP INDEX `sellers_owner_id_key`;
-- reverse: create index "sellers_invite_hash_key" to table: "sellers"
DROP INDEX `sellers_invite_hash_key`;
-- reverse: create "sellers" table
DROP TABLE `sellers`;
-- reverse: create index "menuitem_seller_id_position" to table: "menu_items"
DROP INDEX `menuitem_seller_id_position`;
-- reverse: create "menu_items" table
DROP TABLE `menu_items`;
-- reverse: create index "daycounter_seller_id_business_day" to table: "day_counters"
DROP INDEX `daycounter_seller_id_business_day`;
-- reverse: create "day_counters" table
DROP TABLE `day_counters`;
-- reverse: create index "callevent_seller_id_business_day_seq" to table: "call_events"
DROP INDEX `callevent_seller_id_business_day_seq`;
-- reverse: create index "callevent_seller_id_seq" to table: "call_events"
DROP INDEX `callevent_seller_id_seq`;
-- reverse: create "call_events" table
DROP TABLE `call_events`;
