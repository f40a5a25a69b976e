-- reverse: create index "notifygrant_ticket_id_used_at" to table: "notify_grants"
DROP INDEX `notifygrant_ticket_id_used_at`;
-- reverse: create "notify_grants" table
DROP TABLE `notify_grants`;
-- reverse: create index "notification_state_next_attempt_at" to table: "notifications"
DROP INDEX `notification_state_next_attempt_at`;
-- reverse: create index "notifications_grant_id_key" to table: "notifications"
DROP INDEX `notifications_grant_id_key`;
-- reverse: create "notifications" table
DROP TABLE `notifications`;
