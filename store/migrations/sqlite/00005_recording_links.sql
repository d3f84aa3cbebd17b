-- +goose Up
-- Share links of recordings: the link's id is its unguessable token (160 bits). audience
-- 'public' lets anyone with the link watch; 'invitees' asks also for a valid invitation
-- of the recording's webinar. A link ends at expires_at, when revoked, or with its
-- recording.
CREATE TABLE recording_links (
    id           TEXT PRIMARY KEY,
    recording_id TEXT NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    audience     TEXT NOT NULL CHECK (audience IN ('public', 'invitees')),
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    revoked_at   DATETIME
);
CREATE INDEX recording_links_recording_idx ON recording_links (recording_id);

-- +goose Down
DROP TABLE recording_links;
