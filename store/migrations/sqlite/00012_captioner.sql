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

-- +goose Down
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
