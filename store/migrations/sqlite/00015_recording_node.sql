-- +goose Up
-- node_id: the node that records a recording, whose local folder holds its files until
-- they are finalized (and kept, without S3): that node alone repairs what a crash of its
-- own left unfinished, and the other nodes pass the downloads of its files on to it.
-- Empty for the recordings made before nodes were named: any node repairs those.
ALTER TABLE recordings ADD COLUMN node_id TEXT NOT NULL DEFAULT '';
CREATE INDEX recordings_node_state_idx ON recordings (node_id, state);

-- +goose Down
DROP INDEX recordings_node_state_idx;
ALTER TABLE recordings DROP COLUMN node_id;
