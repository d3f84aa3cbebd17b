-- +goose Up
-- Invitation links may give the captioner role: the one who types the live captions.
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_role_check
    CHECK (role IN ('attendee', 'presenter', 'moderator', 'captioner'));

-- A PDF an organizer attaches to a webinar beforehand, for a presenter to show in its
-- room: one per webinar. expires_at is the webinar's date plus the retention policy's
-- period for slides, fixed when it is attached; the slides sweep deletes it then.
CREATE TABLE webinar_slides (
    webinar_id  uuid PRIMARY KEY REFERENCES webinars (id) ON DELETE CASCADE,
    pdf         bytea NOT NULL,
    pages       integer NOT NULL,
    size_bytes  bigint NOT NULL,
    attached_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX webinar_slides_expires_idx ON webinar_slides (expires_at, webinar_id);

-- +goose Down
DROP TABLE webinar_slides;
DELETE FROM invitations WHERE role = 'captioner';
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_role_check
    CHECK (role IN ('attendee', 'presenter', 'moderator'));
