-- +goose Up
CREATE TABLE organizers (
    id               TEXT PRIMARY KEY,
    issuer           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    family_name      TEXT NOT NULL DEFAULT '',
    given_name       TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    last_activity_at DATETIME NOT NULL,
    created_at       DATETIME NOT NULL,
    CONSTRAINT organizers_issuer_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX organizers_email_idx ON organizers (lower(email));
CREATE INDEX organizers_last_activity_idx ON organizers (last_activity_at);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    organizer_id TEXT NOT NULL REFERENCES organizers (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    is_admin     BOOLEAN NOT NULL DEFAULT 0,
    created_at   DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL
);
CREATE INDEX sessions_organizer_idx ON sessions (organizer_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE login_flows (
    id         TEXT PRIMARY KEY,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    return_to  TEXT NOT NULL DEFAULT '',
    expires_at DATETIME NOT NULL
);
CREATE INDEX login_flows_expires_idx ON login_flows (expires_at);

CREATE TABLE webinars (
    id                TEXT PRIMARY KEY,
    organizer_id      TEXT NOT NULL REFERENCES organizers (id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    kind              TEXT NOT NULL CHECK (kind IN ('meeting', 'webinar')),
    starts_at         DATETIME NOT NULL,
    duration_minutes  INTEGER NOT NULL CHECK (duration_minutes > 0),
    room_id           TEXT NOT NULL UNIQUE,
    lobby_enabled     BOOLEAN NOT NULL DEFAULT 0,
    recording_allowed BOOLEAN NOT NULL DEFAULT 0,
    created_at        DATETIME NOT NULL,
    updated_at        DATETIME NOT NULL
);
CREATE INDEX webinars_organizer_starts_idx ON webinars (organizer_id, starts_at, id);

CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    webinar_id TEXT NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('attendee', 'presenter', 'moderator')),
    token      TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    revoked_at DATETIME
);
CREATE INDEX invitations_webinar_idx ON invitations (webinar_id);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          DATETIME NOT NULL,
    actor_id    TEXT REFERENCES organizers (id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE invitations;
DROP TABLE webinars;
DROP TABLE login_flows;
DROP TABLE sessions;
DROP TABLE organizers;
