-- +goose Up
-- Invitation links may give the captioner role: the one who types the live captions.
-- SQLite changes a CHECK constraint by making the table again.
CREATE TABLE invitations_new (
    id         TEXT PRIMARY KEY,
    webinar_id TEXT NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('attendee', 'presenter', 'moderator', 'captioner')),
    token      TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    revoked_at DATETIME
);
INSERT INTO invitations_new (id, webinar_id, role, token, created_at, revoked_at)
    SELECT id, webinar_id, role, token, created_at, revoked_at FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
CREATE INDEX invitations_webinar_idx ON invitations (webinar_id);

-- A PDF an organizer attaches to a webinar beforehand, for a presenter to show in its
-- room: one per webinar. expires_at is the webinar's date plus the retention policy's
-- period for slides, fixed when it is attached; the slides sweep deletes it then.
CREATE TABLE webinar_slides (
    webinar_id  TEXT PRIMARY KEY REFERENCES webinars (id) ON DELETE CASCADE,
    pdf         BLOB NOT NULL,
    pages       INTEGER NOT NULL,
    size_bytes  INTEGER NOT NULL,
    attached_at DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL
);
CREATE INDEX webinar_slides_expires_idx ON webinar_slides (expires_at, webinar_id);

-- +goose Down
DROP TABLE webinar_slides;
CREATE TABLE invitations_old (
    id         TEXT PRIMARY KEY,
    webinar_id TEXT NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('attendee', 'presenter', 'moderator')),
    token      TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    revoked_at DATETIME
);
INSERT INTO invitations_old (id, webinar_id, role, token, created_at, revoked_at)
    SELECT id, webinar_id, role, token, created_at, revoked_at FROM invitations WHERE role <> 'captioner';
DROP TABLE invitations;
ALTER TABLE invitations_old RENAME TO invitations;
CREATE INDEX invitations_webinar_idx ON invitations (webinar_id);
