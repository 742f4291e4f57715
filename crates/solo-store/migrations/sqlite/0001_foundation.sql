-- Solo Realtime, embedded mode (SQLite). Instants are Unix milliseconds.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    avatar_url     TEXT,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);

CREATE TABLE memberships (
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships(user_id);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

CREATE TABLE access_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX access_tokens_by_user ON access_tokens(user_id);

CREATE TABLE missions (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    owner_id      TEXT NOT NULL REFERENCES users(id),
    stage         TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX missions_by_workspace ON missions(workspace_id, id);

CREATE TABLE mission_watchers (
    mission_id  TEXT NOT NULL REFERENCES missions(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (mission_id, user_id)
);

CREATE TABLE reviews (
    id           TEXT PRIMARY KEY,
    mission_id   TEXT NOT NULL REFERENCES missions(id) ON DELETE CASCADE,
    reviewer_id  TEXT NOT NULL REFERENCES users(id),
    decision     TEXT NOT NULL,
    comment      TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX reviews_by_mission ON reviews(mission_id);

CREATE TABLE fallbacks (
    id          TEXT PRIMARY KEY,
    mission_id  TEXT NOT NULL REFERENCES missions(id) ON DELETE CASCADE,
    reason      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES users(id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX fallbacks_by_mission ON fallbacks(mission_id);

CREATE TABLE workstations (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    owner_id           TEXT NOT NULL REFERENCES users(id),
    status             TEXT NOT NULL,
    version            INTEGER NOT NULL,
    last_heartbeat_at  INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX workstations_by_workspace ON workstations(workspace_id, id);

CREATE TABLE agents (
    workstation_id  TEXT NOT NULL REFERENCES workstations(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    mission_id      TEXT,
    version         INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (workstation_id, id)
);

CREATE TABLE community_posts (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    author_id     TEXT NOT NULL REFERENCES users(id),
    body          TEXT NOT NULL,
    mentions      TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX community_posts_by_workspace ON community_posts(workspace_id, id);

-- Settings and preferences, shared by every feature that needs a small keyed document
-- (quiet hours today, configuration templates later). `scope` is e.g. `user:u_…` or `server`.
CREATE TABLE config (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

-- The event log and transactional outbox. `envelope` is the event's wire JSON, serialized
-- once at commit; `routes` lists the channels with the offsets assigned in that transaction.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    version       INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    trace_id      TEXT NOT NULL,
    envelope      TEXT NOT NULL,
    routes        TEXT NOT NULL,
    published_at  INTEGER,
    UNIQUE (subject_kind, subject_id, version)
);
CREATE INDEX events_unpublished ON events(seq) WHERE published_at IS NULL;
CREATE INDEX events_by_ts ON events(ts);

-- One row per channel stream: its epoch (changes only when history is lost) and last offset.
CREATE TABLE channels (
    name        TEXT PRIMARY KEY,
    epoch       TEXT NOT NULL,
    top_offset  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Channel history: which event sits at which offset of which stream.
CREATE TABLE publications (
    channel        TEXT NOT NULL,
    stream_offset  INTEGER NOT NULL,
    event_seq      INTEGER NOT NULL,
    ts             INTEGER NOT NULL,
    PRIMARY KEY (channel, stream_offset)
) WITHOUT ROWID;
CREATE INDEX publications_by_ts ON publications(ts);
CREATE INDEX publications_by_event ON publications(event_seq);
