-- disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- create "new_users" table
CREATE TABLE `new_users` (`id` text NOT NULL, `app` text NOT NULL, `openid` text NOT NULL, `unionid` text NULL, `created_at` datetime NOT NULL, `took` integer NOT NULL DEFAULT (0), `took_day` integer NULL, PRIMARY KEY (`id`));
-- copy rows from old table "users" to new temporary table "new_users"
INSERT INTO `new_users` (`id`, `app`, `openid`, `unionid`, `created_at`) SELECT `id`, `app`, `openid`, `unionid`, `created_at` FROM `users`;
-- drop "users" table after copying rows
DROP TABLE `users`;
-- rename temporary table "new_users" to "users"
ALTER TABLE `new_users` RENAME TO `users`;
-- create index "user_app_openid" to table: "users"
CREATE UNIQUE INDEX `user_app_openid` ON `users` (`app`, `openid`);
-- enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
