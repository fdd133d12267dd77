-- Nodes: one row per yupiao process sharing this database. A node is live while its heartbeat
-- is younger than the lease time; `instance` tells two processes with the same name apart.
CREATE TABLE node (
    name          text PRIMARY KEY CHECK (name <> ''),
    instance      text NOT NULL,
    address       text,
    version       text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    requests_5m   integer NOT NULL DEFAULT 0 CHECK (requests_5m >= 0),
    backoff_until timestamptz
);

-- Leases: who polls which query. One row per distinct query key (route, date, purpose); a
-- lease is free when it has no holder or its expiry has passed.
CREATE TABLE lease (
    query_key   text PRIMARY KEY,
    holder      text REFERENCES node (name) ON DELETE SET NULL,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity',
    renewed_at  timestamptz,
    acquired_at timestamptz
);
CREATE INDEX lease_by_holder ON lease (holder);
