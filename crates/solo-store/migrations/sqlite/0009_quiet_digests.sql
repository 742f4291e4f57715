-- Quiet-hours digests to send: one row per user and quiet window in which a
-- notification arrived quietly, written in that notification's transaction.
-- Once the window has ended, the digest worker (on any node) deletes the row
-- and, in the same transaction, sends the user one notification summarising
-- what arrived quietly in it. No row: nothing arrived, no digest.
CREATE TABLE quiet_digests (
    user_id      TEXT NOT NULL,
    window_end   INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    PRIMARY KEY (user_id, window_end)
);
CREATE INDEX quiet_digests_due ON quiet_digests (window_end);
