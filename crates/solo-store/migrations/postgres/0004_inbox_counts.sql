-- Unread counts are kept on the inbox row and changed in the same statement
-- that bumps its counts version. Counting them from the notifications table on
-- every change cost time in proportion to the unread inbox, so a user with a
-- large backlog made every new notification slower.
ALTER TABLE inboxes ADD COLUMN unread_missions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inboxes ADD COLUMN unread_workstations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inboxes ADD COLUMN unread_community BIGINT NOT NULL DEFAULT 0;
ALTER TABLE inboxes ADD COLUMN unread_system BIGINT NOT NULL DEFAULT 0;

-- Every user with notifications has an inbox row; existing rows start from
-- what is stored now.
INSERT INTO inboxes (user_id, counts_version)
    SELECT DISTINCT user_id, 0 FROM notifications
    WHERE user_id NOT IN (SELECT user_id FROM inboxes);
UPDATE inboxes SET
    unread_missions = (SELECT COUNT(*) FROM notifications n
        WHERE n.user_id = inboxes.user_id AND n.read_at IS NULL AND n.category = 'missions'),
    unread_workstations = (SELECT COUNT(*) FROM notifications n
        WHERE n.user_id = inboxes.user_id AND n.read_at IS NULL AND n.category = 'workstations'),
    unread_community = (SELECT COUNT(*) FROM notifications n
        WHERE n.user_id = inboxes.user_id AND n.read_at IS NULL AND n.category = 'community'),
    unread_system = (SELECT COUNT(*) FROM notifications n
        WHERE n.user_id = inboxes.user_id AND n.read_at IS NULL AND n.category = 'system');
