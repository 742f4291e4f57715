-- Unified notifications: one inbox per user, fed by the rules in the same
-- transaction as the event that caused them, or created directly.

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    category         TEXT NOT NULL,
    type             TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT,
    link             TEXT,
    severity         TEXT NOT NULL,
    quiet            INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    source_event_id  TEXT,
    created_by       TEXT,
    idempotency_key  TEXT,
    request_hash     TEXT,
    created_at       INTEGER NOT NULL,
    read_at          INTEGER
);
-- One notification per user and source event, whatever retries happen.
CREATE UNIQUE INDEX notifications_by_source ON notifications(user_id, source_event_id) WHERE source_event_id IS NOT NULL;
-- Direct creation is idempotent per creator and Idempotency-Key.
CREATE UNIQUE INDEX notifications_by_idempotency ON notifications(created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The inbox, newest first (ids are time-ordered), and the unread counts.
CREATE INDEX notifications_inbox ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id, category) WHERE read_at IS NULL;

-- Per user: the version of their unread counts, +1 on every change, so a
-- client can tell it missed one.
CREATE TABLE inboxes (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    counts_version  INTEGER NOT NULL
);
