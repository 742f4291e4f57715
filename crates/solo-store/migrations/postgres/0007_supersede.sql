-- Supersede: a rule's notification about a mission or a workstation is
-- replaced by a later one of the same type about the same subject while it is
-- unread. `subject_key` names the subject (`mission:m_…`; NULL for direct
-- notifications, which are never replaced), `updates` counts the
-- replacements, `updated_at` is the latest, and `history` lists the source
-- events replaced, oldest first, comma-separated.
ALTER TABLE notifications ADD COLUMN subject_key TEXT;
ALTER TABLE notifications ADD COLUMN updates BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN updated_at BIGINT;
ALTER TABLE notifications ADD COLUMN history TEXT;
-- The one unread notification per user, type and subject: the insert's
-- conflict target (its upsert replaces the row in the same statement). Partial,
-- so read notifications (never changed) and direct ones (no subject) stay out
-- of it, and it costs an index entry only for unread notifications about a
-- mission or a workstation.
CREATE UNIQUE INDEX notifications_supersede ON notifications(user_id, type, subject_key)
    WHERE read_at IS NULL AND subject_key IS NOT NULL;
