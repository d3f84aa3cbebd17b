-- +goose Up
-- The roles a moderator gave in a room during its session, for whichever node runs the
-- room next: a participant promoted (or demoted) keeps the role given when it comes back,
-- on this node or another. Random ids only; a row goes once past.
CREATE TABLE room_roles (
    room_id        text NOT NULL,
    participant_id text NOT NULL,
    role           text NOT NULL,
    until          timestamptz NOT NULL,
    PRIMARY KEY (room_id, participant_id)
);
CREATE INDEX room_roles_until_idx ON room_roles (until);

-- +goose Down
DROP TABLE room_roles;
