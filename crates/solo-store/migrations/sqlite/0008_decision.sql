-- Explain: the decision record kept with each notification (JSON text): the
-- rule that chose its user (`owner`, `watcher`, `mention`,
-- `workstation_owner`, `direct`), what their quiet hours decided (`toast`,
-- `quiet`, `urgent_bypass`) and the window consulted. Written by the insert in
-- the row it writes anyway; NULL for notifications older than this column.
ALTER TABLE notifications ADD COLUMN decision TEXT;
