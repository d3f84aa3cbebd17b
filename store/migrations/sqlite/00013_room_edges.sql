-- +goose Up
-- The edge nodes of a room at one epoch of its placement: nodes that receive the room's
-- tracks from its node (the origin) for viewers the origin has no seat for. Placement
-- fills a room's edges before it takes another. No personal data.
CREATE TABLE room_edges (
    room_id   TEXT NOT NULL REFERENCES webinars (room_id) ON DELETE CASCADE,
    node_id   TEXT NOT NULL,
    epoch     INTEGER NOT NULL,
    placed_at DATETIME NOT NULL,
    PRIMARY KEY (room_id, node_id)
);
CREATE INDEX room_edges_node_id_idx ON room_edges (node_id);

-- +goose Down
DROP TABLE room_edges;
