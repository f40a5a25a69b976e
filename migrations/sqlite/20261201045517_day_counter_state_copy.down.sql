-- Written by hand: nothing to undo; the columns go with day_counter_state's down file.
SELECT 1;
