-- +goose Up
ALTER TABLE organizers ADD COLUMN display_name text NOT NULL DEFAULT '';
ALTER TABLE organizers ADD COLUMN restricted_at timestamptz;
ALTER TABLE organizers ADD COLUMN purge_marked_at timestamptz;

-- The connection log (décret n° 2021-1362): one partition a month, so that the purge drops
-- whole months. Partitions are created ahead by the application (store.EnsureLogPartitions).
CREATE TABLE connection_log (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    at           timestamptz NOT NULL,
    actor_kind   text NOT NULL CHECK (actor_kind IN ('organizer', 'guest')),
    actor_id     text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    ip           text NOT NULL,
    port         integer NOT NULL DEFAULT 0,
    action       text NOT NULL,
    webinar_id   text NOT NULL DEFAULT '',
    protocol     text NOT NULL DEFAULT '',
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX connection_log_at_idx ON connection_log (at);
CREATE INDEX connection_log_ip_at_idx ON connection_log (ip, at);
CREATE INDEX connection_log_actor_idx ON connection_log (actor_id);

-- The deletion ledger: append-only, a hash chain, no personal data.
CREATE TABLE deletion_ledger (
    seq         bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    rule        text NOT NULL,
    category    text NOT NULL,
    object_hash text NOT NULL,
    count       bigint NOT NULL,
    stores      text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);

CREATE TABLE retention_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    dry_run     boolean NOT NULL,
    status      text NOT NULL,
    summary     text NOT NULL DEFAULT '',
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX retention_runs_started_idx ON retention_runs (started_at);

-- A lease per job, so that one replica at a time runs it.
CREATE TABLE job_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE job_leases;
DROP TABLE retention_runs;
DROP TABLE deletion_ledger;
DROP TABLE connection_log;
ALTER TABLE organizers DROP COLUMN purge_marked_at;
ALTER TABLE organizers DROP COLUMN restricted_at;
ALTER TABLE organizers DROP COLUMN display_name;
