-- +goose Up
-- The client that started a pending login, for the bound on pending logins per client: a
-- keyed hash of its address (of its /64 for IPv6), never the address itself. The index
-- serves the count of a client's pending logins.
ALTER TABLE login_flows ADD COLUMN client_key text NOT NULL DEFAULT '';
CREATE INDEX login_flows_client_idx ON login_flows (client_key, expires_at);

-- +goose Down
DROP INDEX login_flows_client_idx;
ALTER TABLE login_flows DROP COLUMN client_key;
