-- Scanning around the engine: scanner registrations (the built-in one and
-- Harbor pluggable adapters), which scanner a project uses, scan reports
-- per artifact digest + scanner + report MIME type, the scan job queue
-- with its leases, scan-all runs and CVE allowlists. Times are
-- TIMESTAMPTZ, NULL for "not yet".

CREATE TABLE scanners (
    id                BIGSERIAL PRIMARY KEY,
    uuid              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL UNIQUE,
    description       TEXT NOT NULL DEFAULT '',
    url               TEXT NOT NULL DEFAULT '',
    auth              TEXT NOT NULL DEFAULT '',
    access_credential TEXT NOT NULL DEFAULT '',
    skip_cert_verify  BOOLEAN NOT NULL DEFAULT FALSE,
    use_internal_addr BOOLEAN NOT NULL DEFAULT FALSE,
    disabled          BOOLEAN NOT NULL DEFAULT FALSE,
    is_default        BOOLEAN NOT NULL DEFAULT FALSE,
    builtin           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE project_scanners (
    project_id BIGINT NOT NULL PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    scanner_id BIGINT NOT NULL REFERENCES scanners (id) ON DELETE CASCADE
);

-- The latest report of one artifact by one scanner in one MIME type.
-- status is Harbor's: Pending, Running, Success, Error, Stopped.
CREATE TABLE scan_reports (
    id           BIGSERIAL PRIMARY KEY,
    uuid         TEXT NOT NULL UNIQUE,
    digest       TEXT NOT NULL,
    scanner_uuid TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    status       TEXT NOT NULL,
    severity     TEXT NOT NULL DEFAULT '',
    summary      TEXT NOT NULL DEFAULT '',
    report       TEXT NOT NULL DEFAULT '',
    scanner      TEXT NOT NULL DEFAULT '',
    progress     BIGINT NOT NULL DEFAULT 0,
    log          TEXT NOT NULL DEFAULT '',
    start_time   TIMESTAMPTZ,
    end_time     TIMESTAMPTZ,
    UNIQUE (digest, scanner_uuid, mime_type)
);

-- One scan of one artifact. A worker on any node claims a queued job (or
-- one whose lease ran out) by setting lease_holder and lease_expires_at,
-- and renews the lease while it works.
CREATE TABLE scan_jobs (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('vulnerability', 'sbom')),
    scan_trigger     TEXT NOT NULL,
    repository       TEXT NOT NULL,
    digest           TEXT NOT NULL,
    media_type       TEXT NOT NULL DEFAULT '',
    scanner_uuid     TEXT NOT NULL,
    report_uuid      TEXT NOT NULL,
    scan_all_id      BIGINT NOT NULL DEFAULT 0,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'success', 'error', 'stopped')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL DEFAULT 3,
    progress         BIGINT NOT NULL DEFAULT 0,
    stop_requested   BOOLEAN NOT NULL DEFAULT FALSE,
    lease_holder     TEXT NOT NULL DEFAULT '',
    lease_expires_at TIMESTAMPTZ,
    next_run_at      TIMESTAMPTZ NOT NULL,
    log              TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    ended_at         TIMESTAMPTZ
);
CREATE INDEX scan_jobs_status ON scan_jobs (status, next_run_at);
CREATE INDEX scan_jobs_report ON scan_jobs (report_uuid);
CREATE INDEX scan_jobs_scan_all ON scan_jobs (scan_all_id);

CREATE TABLE scan_all_runs (
    id         BIGSERIAL PRIMARY KEY,
    scan_trigger TEXT NOT NULL,
    total      BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- project_id 0 is the system allowlist; items is a JSON array of CVE ids;
-- expires_at is unix seconds, NULL for never.
CREATE TABLE cve_allowlists (
    project_id BIGINT NOT NULL PRIMARY KEY,
    expires_at BIGINT,
    items      TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
