-- Written by hand: nothing to undo; the column goes with user_took's down file.
SELECT 1;
