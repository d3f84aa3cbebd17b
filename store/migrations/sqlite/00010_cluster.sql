-- +goose Up
-- The nodes of the cluster: each writes its row every heartbeat, with its load; a node
-- whose heartbeat is older than the node timeout is gone. No personal data.
CREATE TABLE cluster_nodes (
    id                 TEXT PRIMARY KEY,
    url                TEXT NOT NULL,
    media_address      TEXT NOT NULL,
    roles              TEXT NOT NULL,
    capacity           INTEGER NOT NULL,
    rooms              INTEGER NOT NULL,
    participants       INTEGER NOT NULL,
    packets_per_second INTEGER NOT NULL,
    cpu_percent        INTEGER NOT NULL,
    started_at         DATETIME NOT NULL,
    heartbeat_at       DATETIME NOT NULL
);
CREATE INDEX cluster_nodes_heartbeat_at_idx ON cluster_nodes (heartbeat_at);

-- Which node runs a room, at which epoch. The epoch goes up at every move and never
-- down; node_id is NULL once the room has closed on its node (the next join places it
-- again). The row goes with its webinar.
CREATE TABLE room_placements (
    room_id   TEXT PRIMARY KEY REFERENCES webinars (room_id) ON DELETE CASCADE,
    node_id   TEXT,
    epoch     INTEGER NOT NULL,
    placed_at DATETIME NOT NULL
);
CREATE INDEX room_placements_node_id_idx ON room_placements (node_id);

-- A seat reserved on a node by a join that has not reached it yet: placement counts it
-- with the load the node reported, so that a burst of joins does not overshoot on stale
-- figures. It goes when its participant enters, or at until.
CREATE TABLE seat_reservations (
    room_id        TEXT NOT NULL REFERENCES webinars (room_id) ON DELETE CASCADE,
    participant_id TEXT NOT NULL,
    node_id        TEXT NOT NULL,
    until          DATETIME NOT NULL,
    PRIMARY KEY (room_id, participant_id)
);
CREATE INDEX seat_reservations_node_id_until_idx ON seat_reservations (node_id, until);

-- +goose Down
DROP TABLE seat_reservations;
DROP TABLE room_placements;
DROP TABLE cluster_nodes;
