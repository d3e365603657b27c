-- A scan-all run is recorded at once and its scans are queued in the
-- background: enqueued is 0 until a node has walked every repository.
-- The node walking holds enqueue_holder until enqueue_until (unix
-- nanoseconds, UTC); when it dies another node takes the walk over.
-- Runs recorded before this migration queued their scans in the request.
ALTER TABLE scan_all_runs ADD COLUMN enqueued INTEGER NOT NULL DEFAULT 1;
ALTER TABLE scan_all_runs ADD COLUMN enqueue_holder TEXT NOT NULL DEFAULT '';
ALTER TABLE scan_all_runs ADD COLUMN enqueue_until INTEGER NOT NULL DEFAULT 0;

-- GC removes the scan reports of digests no repository holds
-- (DeleteOrphanScanReports), which looks manifests up by digest alone.
CREATE INDEX manifests_digest ON manifests (digest);
