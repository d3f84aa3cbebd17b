-- +goose Up
ALTER TABLE organizers ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE organizers ADD COLUMN restricted_at DATETIME;
ALTER TABLE organizers ADD COLUMN purge_marked_at DATETIME;

-- The connection log (décret n° 2021-1362); purged by batched deletes.
CREATE TABLE connection_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           DATETIME NOT NULL,
    actor_kind   TEXT NOT NULL CHECK (actor_kind IN ('organizer', 'guest')),
    actor_id     TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL,
    port         INTEGER NOT NULL DEFAULT 0,
    action       TEXT NOT NULL,
    webinar_id   TEXT NOT NULL DEFAULT '',
    protocol     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX connection_log_at_idx ON connection_log (at);
CREATE INDEX connection_log_ip_at_idx ON connection_log (ip, at);
CREATE INDEX connection_log_actor_idx ON connection_log (actor_id);

-- The deletion ledger: append-only, a hash chain, no personal data.
CREATE TABLE deletion_ledger (
    seq         INTEGER PRIMARY KEY,
    at          DATETIME NOT NULL,
    rule        TEXT NOT NULL,
    category    TEXT NOT NULL,
    object_hash TEXT NOT NULL,
    count       INTEGER NOT NULL,
    stores      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

CREATE TABLE retention_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  DATETIME NOT NULL,
    finished_at DATETIME,
    dry_run     BOOLEAN NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX retention_runs_started_idx ON retention_runs (started_at);

CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE job_leases;
DROP TABLE retention_runs;
DROP TABLE deletion_ledger;
DROP TABLE connection_log;
ALTER TABLE organizers DROP COLUMN purge_marked_at;
ALTER TABLE organizers DROP COLUMN restricted_at;
ALTER TABLE organizers DROP COLUMN display_name;
