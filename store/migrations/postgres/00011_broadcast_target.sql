-- +goose Up
-- The webinar's live broadcast target: an rtmp:// or rtmps:// URL and the stream key the
-- target gave. The key is sent to the target, so it is kept as it is; the API never
-- returns it. NULL: no target.
ALTER TABLE webinars ADD COLUMN broadcast_url text;
ALTER TABLE webinars ADD COLUMN broadcast_key text;

-- +goose Down
ALTER TABLE webinars DROP COLUMN broadcast_key;
ALTER TABLE webinars DROP COLUMN broadcast_url;
