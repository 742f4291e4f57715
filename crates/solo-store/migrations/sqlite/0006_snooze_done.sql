-- Snooze and done. A snoozed notification is out of the inbox (and read, so
-- out of the unread count) until `snoozed_until`, when the waker brings it
-- back unread; a done one is out of the inbox for good, listed under Done.
-- Both columns are NULL when a notification is created, so the insert path
-- writes nothing more.
ALTER TABLE notifications ADD COLUMN snoozed_until INTEGER;
ALTER TABLE notifications ADD COLUMN done_at INTEGER;
-- The waker's query: snoozes that are due, soonest first. Partial, so it holds
-- only snoozed notifications and an insert (snoozed_until NULL) never touches it.
CREATE INDEX notifications_snoozed ON notifications(snoozed_until) WHERE snoozed_until IS NOT NULL;
