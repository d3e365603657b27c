-- Garbage collection: the history of runs and the lease that lets only
-- one run at a time across every process sharing the database. Times are
-- INTEGER unix nanoseconds (UTC), NULL for "not yet"; booleans are 0 or 1;
-- time_window is the run's grace period in seconds.

CREATE TABLE gc_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT NOT NULL CHECK (kind IN ('MANUAL', 'SCHEDULE')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'running', 'success', 'error', 'stopped')),
    dry_run           INTEGER NOT NULL DEFAULT 0,
    delete_untagged   INTEGER NOT NULL DEFAULT 0,
    time_window       INTEGER NOT NULL DEFAULT 0,
    workers           INTEGER NOT NULL DEFAULT 1,
    node              TEXT NOT NULL DEFAULT '',
    stop_requested    INTEGER NOT NULL DEFAULT 0,
    phase             TEXT NOT NULL DEFAULT '',
    manifests_deleted INTEGER NOT NULL DEFAULT 0,
    links_removed     INTEGER NOT NULL DEFAULT 0,
    blobs_deleted     INTEGER NOT NULL DEFAULT 0,
    bytes_freed       INTEGER NOT NULL DEFAULT 0,
    uploads_removed   INTEGER NOT NULL DEFAULT 0,
    log               TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    ended_at          INTEGER
);
CREATE INDEX gc_runs_status ON gc_runs (status);

-- One row. holder is empty when nobody holds the lease; a holder that
-- stops renewing loses it at expires_at.
CREATE TABLE gc_lease (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL DEFAULT '',
    run_id     INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL DEFAULT 0
);
INSERT INTO gc_lease (id) VALUES (1);
