-- A scan-all run is recorded at once and its scans are queued in the
-- background: enqueued is false until a node has walked every repository.
-- The node walking holds enqueue_holder until enqueue_until; when it dies
-- another node takes the walk over. Runs recorded before this migration
-- queued their scans in the request.
ALTER TABLE scan_all_runs ADD COLUMN enqueued BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE scan_all_runs ADD COLUMN enqueue_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE scan_all_runs ADD COLUMN enqueue_until TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01 00:00:00+00';

-- GC removes the scan reports of digests no repository holds
-- (DeleteOrphanScanReports), which looks manifests up by digest alone.
CREATE INDEX manifests_digest ON manifests (digest);
