-- +goose Up
CREATE TABLE organizers (
    id               uuid PRIMARY KEY,
    issuer           text NOT NULL,
    subject          text NOT NULL,
    family_name      text NOT NULL DEFAULT '',
    given_name       text NOT NULL DEFAULT '',
    email            text NOT NULL DEFAULT '',
    last_activity_at timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    CONSTRAINT organizers_issuer_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX organizers_email_idx ON organizers (lower(email));
CREATE INDEX organizers_last_activity_idx ON organizers (last_activity_at);

CREATE TABLE sessions (
    id           text PRIMARY KEY,
    organizer_id uuid NOT NULL REFERENCES organizers (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    is_admin     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_organizer_idx ON sessions (organizer_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE login_flows (
    id         text PRIMARY KEY,
    nonce      text NOT NULL,
    verifier   text NOT NULL,
    return_to  text NOT NULL DEFAULT '',
    expires_at timestamptz NOT NULL
);
CREATE INDEX login_flows_expires_idx ON login_flows (expires_at);

CREATE TABLE webinars (
    id                uuid PRIMARY KEY,
    organizer_id      uuid NOT NULL REFERENCES organizers (id) ON DELETE CASCADE,
    title             text NOT NULL,
    description       text NOT NULL DEFAULT '',
    kind              text NOT NULL CHECK (kind IN ('meeting', 'webinar')),
    starts_at         timestamptz NOT NULL,
    duration_minutes  integer NOT NULL CHECK (duration_minutes > 0),
    room_id           text NOT NULL UNIQUE,
    lobby_enabled     boolean NOT NULL DEFAULT false,
    recording_allowed boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX webinars_organizer_starts_idx ON webinars (organizer_id, starts_at, id);

CREATE TABLE invitations (
    id         uuid PRIMARY KEY,
    webinar_id uuid NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('attendee', 'presenter', 'moderator')),
    token      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX invitations_webinar_idx ON invitations (webinar_id);

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_id    uuid REFERENCES organizers (id) ON DELETE SET NULL,
    action      text NOT NULL,
    object_type text NOT NULL DEFAULT '',
    object_id   text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE invitations;
DROP TABLE webinars;
DROP TABLE login_flows;
DROP TABLE sessions;
DROP TABLE organizers;
