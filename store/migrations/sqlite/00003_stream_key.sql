-- +goose Up
-- The SHA-256 (hex) of the webinar's WHIP stream key; NULL: WHIP is off for the webinar.
ALTER TABLE webinars ADD COLUMN stream_key_hash TEXT;

-- +goose Down
ALTER TABLE webinars DROP COLUMN stream_key_hash;
