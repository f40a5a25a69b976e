-- reverse: create "sessions" table
DROP TABLE `sessions`;
-- reverse: create "menu_items" table
DROP TABLE `menu_items`;
-- reverse: create "day_counters" table
DROP TABLE `day_counters`;
-- reverse: create "call_events" table
DROP TABLE `call_events`;
-- reverse: create "tickets" table
DROP TABLE `tickets`;
-- reverse: create "sellers" table
DROP TABLE `sellers`;
-- reverse: create "users" table
DROP TABLE `users`;
