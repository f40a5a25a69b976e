-- reverse: create index "consolechallenge_expires_at" to table: "console_challenges"
DROP INDEX `consolechallenge_expires_at`;
-- reverse: create index "console_challenges_secret_hash_key" to table: "console_challenges"
DROP INDEX `console_challenges_secret_hash_key`;
-- reverse: create index "console_challenges_challenge_hash_key" to table: "console_challenges"
DROP INDEX `console_challenges_challenge_hash_key`;
-- reverse: create "console_challenges" table
DROP TABLE `console_challenges`;
-- reverse: create index "ticket_business_day" to table: "tickets"
DROP INDEX `ticket_business_day`;
-- reverse: create index "ticket_issued_by_idempotency_key" to table: "tickets"
DROP INDEX `ticket_issued_by_idempotency_key`;
-- reverse: create index "ticket_owner_id_business_day" to table: "tickets"
DROP INDEX `ticket_owner_id_business_day`;
-- reverse: create index "ticket_seller_id_business_day_issue_seq" to table: "tickets"
DROP INDEX `ticket_seller_id_business_day_issue_seq`;
-- reverse: create index "ticket_seller_id_business_day_active_number" to table: "tickets"
DROP INDEX `ticket_seller_id_business_day_active_number`;
-- reverse: create index "tickets_track_token_key" to table: "tickets"
DROP INDEX `tickets_track_token_key`;
-- reverse: create "new_tickets" table
DROP TABLE `new_tickets`;
