-- reverse: create index "user_app_openid" to table: "users"
DROP INDEX `user_app_openid`;
-- reverse: create "new_users" table
DROP TABLE `new_users`;
