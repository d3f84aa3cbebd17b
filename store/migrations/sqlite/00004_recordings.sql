-- +goose Up
-- Recordings of webinars. The files live in the recording storage under the recording's
-- id (an unguessable 160-bit id); a row names them. expires_at is the webinar's date plus
-- the retention policy's period, fixed when the recording starts.
CREATE TABLE recordings (
    id          TEXT PRIMARY KEY,
    webinar_id  TEXT NOT NULL REFERENCES webinars (id) ON DELETE CASCADE,
    state       TEXT NOT NULL CHECK (state IN ('recording', 'finalizing', 'ready', 'failed')),
    started_at  DATETIME NOT NULL,
    ended_at    DATETIME,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    size_bytes  INTEGER NOT NULL DEFAULT 0,
    sha256      TEXT NOT NULL DEFAULT '',
    expires_at  DATETIME NOT NULL,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX recordings_webinar_idx ON recordings (webinar_id, started_at);
CREATE INDEX recordings_expires_idx ON recordings (expires_at, id);

-- +goose Down
DROP TABLE recordings;
