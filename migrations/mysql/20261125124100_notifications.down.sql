-- reverse: create "notify_grants" table
DROP TABLE `notify_grants`;
-- reverse: create "notifications" table
DROP TABLE `notifications`;
