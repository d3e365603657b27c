-- Scanning around the engine: scanner registrations (the built-in one and
-- Harbor pluggable adapters), which scanner a project uses, scan reports
-- per artifact digest + scanner + report MIME type, the scan job queue
-- with its leases, scan-all runs and CVE allowlists. Times are INTEGER
-- unix nanoseconds (UTC), NULL for "not yet"; booleans are 0 or 1.

CREATE TABLE scanners (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL DEFAULT '',
    url               TEXT NOT NULL DEFAULT '',
    auth              TEXT NOT NULL DEFAULT '',
    access_credential TEXT NOT NULL DEFAULT '',
    skip_cert_verify  INTEGER NOT NULL DEFAULT 0,
    use_internal_addr INTEGER NOT NULL DEFAULT 0,
    disabled          INTEGER NOT NULL DEFAULT 0,
    is_default        INTEGER NOT NULL DEFAULT 0,
    builtin           INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE project_scanners (
    project_id INTEGER NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    scanner_id INTEGER NOT NULL REFERENCES scanners (id) ON DELETE CASCADE
);

-- The latest report of one artifact by one scanner in one MIME type.
-- status is Harbor's: Pending, Running, Success, Error, Stopped.
CREATE TABLE scan_reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid         TEXT NOT NULL UNIQUE,
    digest       TEXT NOT NULL,
    scanner_uuid TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    status       TEXT NOT NULL,
    severity     TEXT NOT NULL DEFAULT '',
    summary      TEXT NOT NULL DEFAULT '',
    report       TEXT NOT NULL DEFAULT '',
    scanner      TEXT NOT NULL DEFAULT '',
    progress     INTEGER NOT NULL DEFAULT 0,
    log          TEXT NOT NULL DEFAULT '',
    start_time   INTEGER,
    end_time     INTEGER,
    UNIQUE (digest, scanner_uuid, mime_type)
);

-- One scan of one artifact. A worker on any node claims a queued job (or
-- one whose lease ran out) by setting lease_holder and lease_expires_at,
-- and renews the lease while it works.
CREATE TABLE scan_jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL CHECK (kind IN ('vulnerability', 'sbom')),
    scan_trigger     TEXT NOT NULL,
    repository       TEXT NOT NULL,
    digest           TEXT NOT NULL,
    media_type       TEXT NOT NULL DEFAULT '',
    scanner_uuid     TEXT NOT NULL,
    report_uuid      TEXT NOT NULL,
    scan_all_id      INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'success', 'error', 'stopped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL DEFAULT 3,
    progress         INTEGER NOT NULL DEFAULT 0,
    stop_requested   INTEGER NOT NULL DEFAULT 0,
    lease_holder     TEXT NOT NULL DEFAULT '',
    lease_expires_at INTEGER,
    next_run_at      INTEGER NOT NULL,
    log              TEXT NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    ended_at         INTEGER
);
CREATE INDEX scan_jobs_status ON scan_jobs (status, next_run_at);
CREATE INDEX scan_jobs_report ON scan_jobs (report_uuid);
CREATE INDEX scan_jobs_scan_all ON scan_jobs (scan_all_id);

CREATE TABLE scan_all_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_trigger TEXT NOT NULL,
    total      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- project_id 0 is the system allowlist; items is a JSON array of CVE ids;
-- expires_at is unix seconds, NULL for never.
CREATE TABLE cve_allowlists (
    project_id INTEGER NOT NULL PRIMARY KEY,
    expires_at INTEGER,
    items      TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
