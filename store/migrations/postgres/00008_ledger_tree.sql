-- +goose Up
-- The deletion ledger becomes a transparency log: each entry is a leaf of an RFC 6962
-- Merkle tree, whose hashes are kept here at tlog.StoredHashIndex. The entries written
-- before keep their chain hashes (prev_hash, hash); the server checks that chain once more
-- and puts those entries into the tree at its next start. Entries written since have empty
-- chain hashes.
CREATE TABLE ledger_tree (
    idx  bigint PRIMARY KEY,
    hash bytea NOT NULL
);

-- +goose Down
DROP TABLE ledger_tree;
