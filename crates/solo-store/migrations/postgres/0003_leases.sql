-- Leases: a named role (e.g. the outbox dispatcher) held by one node at a time,
-- for a bounded time, renewed while the node lives.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
