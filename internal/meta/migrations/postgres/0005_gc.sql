-- Garbage collection: the history of runs and the lease that lets only
-- one run at a time across every node sharing the database. time_window
-- is the run's grace period in seconds.

CREATE TABLE gc_runs (
    id                BIGSERIAL PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('MANUAL', 'SCHEDULE')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'error', 'stopped')),
    dry_run           BOOLEAN NOT NULL DEFAULT FALSE,
    delete_untagged   BOOLEAN NOT NULL DEFAULT FALSE,
    time_window       BIGINT NOT NULL DEFAULT 0,
    workers           INTEGER NOT NULL DEFAULT 1,
    node              TEXT NOT NULL DEFAULT '',
    stop_requested    BOOLEAN NOT NULL DEFAULT FALSE,
    phase             TEXT NOT NULL DEFAULT '',
    manifests_deleted BIGINT NOT NULL DEFAULT 0,
    links_removed     BIGINT NOT NULL DEFAULT 0,
    blobs_deleted     BIGINT NOT NULL DEFAULT 0,
    bytes_freed       BIGINT NOT NULL DEFAULT 0,
    uploads_removed   BIGINT NOT NULL DEFAULT 0,
    log               TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    ended_at          TIMESTAMPTZ
);
CREATE INDEX gc_runs_status ON gc_runs (status);

-- One row. holder is empty when nobody holds the lease; a holder that
-- stops renewing loses it at expires_at.
CREATE TABLE gc_lease (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL DEFAULT '',
    run_id     BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01 00:00:00+00'
);
INSERT INTO gc_lease (id) VALUES (1);
