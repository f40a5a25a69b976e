-- Written by hand: nothing to undo; the prefix is what the day's codes
-- already showed, and the column goes with stall_operations' down file.
SELECT 1;
