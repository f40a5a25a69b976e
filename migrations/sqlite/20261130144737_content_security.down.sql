-- reverse: create index "contentcheck_seller_id_subject" to table: "content_checks"
DROP INDEX `contentcheck_seller_id_subject`;
-- reverse: create index "contentcheck_state_next_attempt_at" to table: "content_checks"
DROP INDEX `contentcheck_state_next_attempt_at`;
-- reverse: create index "content_checks_trace_id_key" to table: "content_checks"
DROP INDEX `content_checks_trace_id_key`;
-- reverse: create "content_checks" table
DROP TABLE `content_checks`;
-- reverse: create index "sellers_owner_id_key" to table: "sellers"
DROP INDEX `sellers_owner_id_key`;
-- reverse: create index "sellers_invite_hash_key" to table: "sellers"
DROP INDEX `sellers_invite_hash_key`;
-- reverse: create "new_sellers" table
DROP TABLE `new_sellers`;
