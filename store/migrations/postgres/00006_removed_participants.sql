-- +goose Up
-- Participants removed from a room by a moderator: no token brings them back before
-- until, on whichever node runs the room. Random ids only; a row goes once past.
CREATE TABLE removed_participants (
    room_id        text NOT NULL,
    participant_id text NOT NULL,
    until          timestamptz NOT NULL,
    PRIMARY KEY (room_id, participant_id)
);
CREATE INDEX removed_participants_until_idx ON removed_participants (until);

-- +goose Down
DROP TABLE removed_participants;
