-- +goose Up
-- files_missing_at: when the orphans sweep found that a recording's files are gone from the
-- recording storage; the row stays for its organizer to see, and the mark goes if the files
-- come back. recording_orphans: recordings whose files no row names, past their grace
-- period, marked by the orphans sweep before it deletes their files; a mark goes with the
-- ledger entry of the deletion, in one transaction.
ALTER TABLE recordings ADD COLUMN files_missing_at DATETIME;
CREATE TABLE recording_orphans (
    id       TEXT PRIMARY KEY,
    found_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE recording_orphans;
ALTER TABLE recordings DROP COLUMN files_missing_at;
