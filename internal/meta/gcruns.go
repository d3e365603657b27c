package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// GC run states (gc_runs.status).
const (
	GCPending = "pending"
	GCRunning = "running"
	GCSuccess = "success"
	GCError   = "error"
	GCStopped = "stopped"
)

// GCRun is one garbage collection run: its parameters, its progress while
// it runs and its outcome afterwards.
type GCRun struct {
	ID             int64
	Kind           string // MANUAL or SCHEDULE
	Status         string
	DryRun         bool
	DeleteUntagged bool
	TimeWindow     time.Duration // grace period, kept to the second
	Workers        int
	Node           string // who ran it (the lease holder)
	StopRequested  bool
	Phase          string
	GCCounts
	Log       string
	CreatedAt time.Time
	UpdatedAt time.Time
	EndedAt   time.Time // zero while the run goes on
}

// GCCounts is what a run deleted, or for a dry run would delete.
type GCCounts struct {
	ManifestsDeleted int64
	LinksRemoved     int64
	BlobsDeleted     int64
	BytesFreed       int64
	UploadsRemoved   int64
}

const gcRunCols = `id, kind, status, dry_run, delete_untagged, time_window, workers, node, stop_requested, phase,
	manifests_deleted, links_removed, blobs_deleted, bytes_freed, uploads_removed, log, created_at, updated_at, ended_at`

func scanGCRun(row interface{ Scan(...any) error }) (GCRun, error) {
	var r GCRun
	var window int64
	err := row.Scan(&r.ID, &r.Kind, &r.Status, &r.DryRun, &r.DeleteUntagged, &window, &r.Workers, &r.Node,
		&r.StopRequested, &r.Phase, &r.ManifestsDeleted, &r.LinksRemoved, &r.BlobsDeleted, &r.BytesFreed,
		&r.UploadsRemoved, &r.Log, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, timeCol{&r.EndedAt})
	r.TimeWindow = time.Duration(window) * time.Second
	return r, err
}

func gcRunNotFound(id int64) error {
	return errs.New(errs.NotFound, "", "gc run %d not found", id)
}

// CreateGCRun records a new run and returns it with its ID. Zero times
// become now.
func (q *Q) CreateGCRun(ctx context.Context, r GCRun) (GCRun, error) {
	t := now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = t
	}
	r.UpdatedAt = r.CreatedAt
	var id int64
	err := q.w.QueryRowContext(ctx, q.rebind(`INSERT INTO gc_runs (kind, status, dry_run, delete_untagged,
		time_window, workers, node, phase, log, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`), r.Kind, r.Status, r.DryRun, r.DeleteUntagged, int64(r.TimeWindow/time.Second), r.Workers,
		r.Node, r.Phase, r.Log, q.ts(r.CreatedAt), q.ts(r.UpdatedAt)).Scan(&id)
	if err != nil {
		return GCRun{}, fmt.Errorf("create gc run: %w", err)
	}
	r.ID = id
	r.CreatedAt, r.UpdatedAt = normTime(r.CreatedAt), normTime(r.UpdatedAt)
	return r, nil
}

// GetGCRun returns run id.
func (q *Q) GetGCRun(ctx context.Context, id int64) (GCRun, error) {
	r, err := scanGCRun(q.queryRow(ctx, `SELECT `+gcRunCols+` FROM gc_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return GCRun{}, gcRunNotFound(id)
	}
	if err != nil {
		return GCRun{}, fmt.Errorf("get gc run %d: %w", id, err)
	}
	return r, nil
}

var gcRunListing = &listing{
	what: "gc runs",
	fields: map[string]field{
		"id":            {col: "id", kind: intField},
		"job_status":    {col: "status", kind: textField},
		"job_kind":      {col: "kind", kind: textField},
		"status":        {col: "status", kind: textField},
		"creation_time": {col: "created_at", kind: timeField},
	},
	sorts: map[string]string{
		"id":            "id",
		"creation_time": "created_at",
		"update_time":   "updated_at",
		"job_status":    "status",
	},
	order: []SortKey{{Key: "creation_time", Desc: true}, {Key: "id", Desc: true}},
	id:    "id",
}

// ListGCRuns returns a page of the run history, newest first unless o
// says otherwise, and the number of runs matching o.Query. Query keys:
// id, job_status (or status), job_kind, creation_time; sort fields: id,
// creation_time, update_time, job_status.
func (q *Q) ListGCRuns(ctx context.Context, o ListOptions) ([]GCRun, int, error) {
	out := []GCRun{}
	total, err := q.list(ctx, gcRunListing, o, gcRunCols, "gc_runs", &where{}, func(rows *sql.Rows) error {
		r, err := scanGCRun(rows)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// UpdateGCRun records a running run's phase and counts and appends text
// to its log. NotFound if the run is gone.
func (q *Q) UpdateGCRun(ctx context.Context, id int64, phase string, c GCCounts, appendLog string) error {
	n, err := q.execN(ctx, `UPDATE gc_runs SET phase = ?, manifests_deleted = ?, links_removed = ?,
		blobs_deleted = ?, bytes_freed = ?, uploads_removed = ?, log = log || ?, updated_at = ? WHERE id = ?`,
		phase, c.ManifestsDeleted, c.LinksRemoved, c.BlobsDeleted, c.BytesFreed, c.UploadsRemoved, appendLog,
		q.ts(now()), id)
	if err != nil {
		return fmt.Errorf("update gc run %d: %w", id, err)
	}
	if n == 0 {
		return gcRunNotFound(id)
	}
	return nil
}

// FinishGCRun sets the final status of a run that is still pending or
// running, with its final counts and the rest of its log. A run that has
// already ended keeps its outcome; finished reports whether this call
// ended it.
func (q *Q) FinishGCRun(ctx context.Context, id int64, status string, c GCCounts, appendLog string) (finished bool, err error) {
	t := q.ts(now())
	n, err := q.execN(ctx, `UPDATE gc_runs SET status = ?, phase = '', manifests_deleted = ?, links_removed = ?,
		blobs_deleted = ?, bytes_freed = ?, uploads_removed = ?, log = log || ?, updated_at = ?, ended_at = ?
		WHERE id = ? AND status IN ('pending', 'running')`,
		status, c.ManifestsDeleted, c.LinksRemoved, c.BlobsDeleted, c.BytesFreed, c.UploadsRemoved, appendLog,
		t, t, id)
	if err != nil {
		return false, fmt.Errorf("finish gc run %d: %w", id, err)
	}
	return n > 0, nil
}

// RequestGCRunStop asks run id to stop; the node running it sees the flag
// and stops between two steps. It reports whether the run was still going
// (pending or running). NotFound if there is no such run.
func (q *Q) RequestGCRunStop(ctx context.Context, id int64) (bool, error) {
	n, err := q.execN(ctx, `UPDATE gc_runs SET stop_requested = ?, updated_at = ?
		WHERE id = ? AND status IN ('pending', 'running')`, true, q.ts(now()), id)
	if err != nil {
		return false, fmt.Errorf("stop gc run %d: %w", id, err)
	}
	if n > 0 {
		return true, nil
	}
	if _, err := q.GetGCRun(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// GCRunStopRequested reports whether someone asked run id to stop.
func (q *Q) GCRunStopRequested(ctx context.Context, id int64) (bool, error) {
	var stop bool
	err := q.queryRow(ctx, `SELECT stop_requested FROM gc_runs WHERE id = ?`, id).Scan(&stop)
	if errors.Is(err, sql.ErrNoRows) {
		return false, gcRunNotFound(id)
	}
	if err != nil {
		return false, fmt.Errorf("read gc run %d: %w", id, err)
	}
	return stop, nil
}

// AbandonGCRuns ends, with status error and the given log line, every run
// other than keep that still looks pending or running. The lease holder
// calls it: a run it does not own can only be left over from a node that
// died or lost the lease.
func (q *Q) AbandonGCRuns(ctx context.Context, keep int64, line string) (int64, error) {
	t := q.ts(now())
	n, err := q.execN(ctx, `UPDATE gc_runs SET status = 'error', phase = '', log = log || ?, updated_at = ?, ended_at = ?
		WHERE id <> ? AND status IN ('pending', 'running')`, line, t, t, keep)
	if err != nil {
		return 0, fmt.Errorf("abandon gc runs: %w", err)
	}
	return n, nil
}

// The GC lease: one row that names the process allowed to collect. It
// is taken and renewed with single conditional UPDATEs, which PostgreSQL
// re-evaluates after waiting for a concurrent writer of the row, so of
// two nodes racing for a free lease exactly one matches.

// AcquireGCLease takes the lease for holder until expires, if it is free
// or expired at now. It reports whether holder has it.
func (q *Q) AcquireGCLease(ctx context.Context, holder string, now, expires time.Time) (bool, error) {
	if holder == "" {
		return false, errs.Invalidf("gc lease holder is empty")
	}
	n, err := q.execN(ctx, `UPDATE gc_lease SET holder = ?, run_id = 0, expires_at = ?
		WHERE id = 1 AND (holder = '' OR expires_at < ?)`, holder, q.ts(expires), q.ts(now))
	if err != nil {
		return false, fmt.Errorf("acquire gc lease: %w", err)
	}
	return n > 0, nil
}

// RenewGCLease extends holder's lease to expires and records the run it
// serves. It reports false when holder no longer has the lease: it
// expired and someone else took it, or it was released.
func (q *Q) RenewGCLease(ctx context.Context, holder string, runID int64, expires time.Time) (bool, error) {
	n, err := q.execN(ctx, `UPDATE gc_lease SET expires_at = ?, run_id = ? WHERE id = 1 AND holder = ?`,
		q.ts(expires), runID, holder)
	if err != nil {
		return false, fmt.Errorf("renew gc lease: %w", err)
	}
	return n > 0, nil
}

// ReleaseGCLease gives the lease up if holder has it.
func (q *Q) ReleaseGCLease(ctx context.Context, holder string) error {
	if _, err := q.exec(ctx, `UPDATE gc_lease SET holder = '', run_id = 0, expires_at = ? WHERE id = 1 AND holder = ?`,
		q.ts(time.Unix(0, 0)), holder); err != nil {
		return fmt.Errorf("release gc lease: %w", err)
	}
	return nil
}

// GCLease is the lease row as stored.
type GCLease struct {
	Holder    string
	RunID     int64
	ExpiresAt time.Time
}

// GetGCLease returns the lease row.
func (q *Q) GetGCLease(ctx context.Context) (GCLease, error) {
	var l GCLease
	err := q.queryRow(ctx, `SELECT holder, run_id, expires_at FROM gc_lease WHERE id = 1`).
		Scan(&l.Holder, &l.RunID, timeCol{&l.ExpiresAt})
	if err != nil {
		return GCLease{}, fmt.Errorf("read gc lease: %w", err)
	}
	return l, nil
}
