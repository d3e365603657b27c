package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// Scan job states (scan_jobs.status).
const (
	ScanQueued  = "queued"
	ScanRunning = "running"
	ScanSuccess = "success"
	ScanError   = "error"
	ScanStopped = "stopped"
)

// ScanJob is one scan of one artifact, queued in the database so that a
// worker on any node can run it.
type ScanJob struct {
	ID             int64
	Kind           string // "vulnerability" or "sbom"
	Trigger        string // MANUAL, AUTO (on push), SCHEDULE (scan all)
	Repository     string
	Digest         oci.Digest
	MediaType      string // the manifest's
	ScannerUUID    string
	ReportUUID     string
	ScanAllID      int64
	Status         string
	Attempts       int
	MaxAttempts    int
	Progress       int
	StopRequested  bool
	LeaseHolder    string
	LeaseExpiresAt time.Time
	NextRunAt      time.Time
	Log            string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	EndedAt        time.Time
}

const scanJobCols = `id, kind, scan_trigger, repository, digest, media_type, scanner_uuid, report_uuid, scan_all_id,
	status, attempts, max_attempts, progress, stop_requested, lease_holder, lease_expires_at, next_run_at, log,
	created_at, updated_at, ended_at`

func scanScanJob(row interface{ Scan(...any) error }) (ScanJob, error) {
	var j ScanJob
	err := row.Scan(&j.ID, &j.Kind, &j.Trigger, &j.Repository, &j.Digest, &j.MediaType, &j.ScannerUUID,
		&j.ReportUUID, &j.ScanAllID, &j.Status, &j.Attempts, &j.MaxAttempts, &j.Progress, &j.StopRequested,
		&j.LeaseHolder, timeCol{&j.LeaseExpiresAt}, timeCol{&j.NextRunAt}, &j.Log, timeCol{&j.CreatedAt},
		timeCol{&j.UpdatedAt}, timeCol{&j.EndedAt})
	return j, err
}

func scanJobNotFound(id int64) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "scan job %d not found", id)
}

// CreateScanJob queues j (status queued, runnable now unless NextRunAt
// says later).
func (q *Q) CreateScanJob(ctx context.Context, j ScanJob) (ScanJob, error) {
	t := now()
	j.Status, j.CreatedAt, j.UpdatedAt = ScanQueued, t, t
	if j.NextRunAt.IsZero() {
		j.NextRunAt = t
	}
	if j.MaxAttempts <= 0 {
		j.MaxAttempts = 3
	}
	id, _, err := q.insertID(ctx, `INSERT INTO scan_jobs (kind, scan_trigger, repository, digest, media_type,
		scanner_uuid, report_uuid, scan_all_id, status, max_attempts, next_run_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, j.Kind, j.Trigger, j.Repository, j.Digest,
		j.MediaType, j.ScannerUUID, j.ReportUUID, j.ScanAllID, j.Status, j.MaxAttempts, q.ts(j.NextRunAt),
		q.ts(t), q.ts(t))
	if err != nil {
		return ScanJob{}, fmt.Errorf("queue scan of %s: %w", j.Digest, err)
	}
	j.ID = id
	return j, nil
}

// GetScanJob returns job id.
func (q *Q) GetScanJob(ctx context.Context, id int64) (ScanJob, error) {
	j, err := scanScanJob(q.queryRow(ctx, `SELECT `+scanJobCols+` FROM scan_jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return ScanJob{}, scanJobNotFound(id)
	}
	if err != nil {
		return ScanJob{}, fmt.Errorf("get scan job %d: %w", id, err)
	}
	return j, nil
}

// ScanJobOfReport returns the newest job that writes report uuid.
func (q *Q) ScanJobOfReport(ctx context.Context, reportUUID string) (ScanJob, error) {
	j, err := scanScanJob(q.queryRow(ctx, `SELECT `+scanJobCols+` FROM scan_jobs WHERE report_uuid = ?
		ORDER BY id DESC LIMIT 1`, reportUUID))
	if errors.Is(err, sql.ErrNoRows) {
		return ScanJob{}, errs.New(errs.NotFound, "NOT_FOUND", "no scan job for report %s", reportUUID)
	}
	if err != nil {
		return ScanJob{}, fmt.Errorf("get scan job of report %s: %w", reportUUID, err)
	}
	return j, nil
}

// ActiveScanJobs returns the queued or running jobs of digest by scanner
// (any scanner when scannerUUID is "").
func (q *Q) ActiveScanJobs(ctx context.Context, digest oci.Digest, scannerUUID string) ([]ScanJob, error) {
	query := `SELECT ` + scanJobCols + ` FROM scan_jobs WHERE digest = ? AND status IN (?, ?)`
	args := []any{digest, ScanQueued, ScanRunning}
	if scannerUUID != "" {
		query += ` AND scanner_uuid = ?`
		args = append(args, scannerUUID)
	}
	rows, err := q.query(ctx, query+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list scan jobs of %s: %w", digest, err)
	}
	defer rows.Close()
	out := []ScanJob{}
	for rows.Next() {
		j, err := scanScanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ClaimScanJob hands holder the oldest runnable job: a queued one whose
// time has come, or a running one whose holder stopped renewing its
// lease. The claim counts as an attempt. On PostgreSQL, SKIP LOCKED lets
// nodes claim side by side without waiting on each other; on SQLite the
// write lock makes the claim atomic. ok is false when nothing is
// runnable.
func (q *Q) ClaimScanJob(ctx context.Context, holder string, lease time.Duration) (j ScanJob, ok bool, err error) {
	t := now()
	lock := ""
	if q.pg() {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	j, err = scanScanJob(q.w.QueryRowContext(ctx, q.rebind(`UPDATE scan_jobs SET status = ?, lease_holder = ?,
		lease_expires_at = ?, attempts = attempts + 1, updated_at = ?
		WHERE id = (SELECT id FROM scan_jobs WHERE (status = ? AND next_run_at <= ?) OR (status = ? AND lease_expires_at < ?)
			ORDER BY next_run_at, id LIMIT 1`+lock+`)
		RETURNING `+scanJobCols), ScanRunning, holder, q.ts(t.Add(lease)), q.ts(t),
		ScanQueued, q.ts(t), ScanRunning, q.ts(t)))
	if errors.Is(err, sql.ErrNoRows) {
		return ScanJob{}, false, nil
	}
	if err != nil {
		return ScanJob{}, false, fmt.Errorf("claim scan job: %w", err)
	}
	return j, true, nil
}

// errLeaseLost is returned to a holder whose job was taken over or ended.
func errLeaseLost(id int64) error {
	return errs.New(errs.Conflict, "LEASE_LOST", "scan job %d is no longer held by this worker", id)
}

// RenewScanJob extends holder's lease on job id and records its progress;
// it returns whether a stop was requested. Conflict when holder lost it.
func (q *Q) RenewScanJob(ctx context.Context, id int64, holder string, lease time.Duration, progress int) (stop bool, err error) {
	t := now()
	err = q.w.QueryRowContext(ctx, q.rebind(`UPDATE scan_jobs SET lease_expires_at = ?, progress = ?, updated_at = ?
		WHERE id = ? AND lease_holder = ? AND status = ? RETURNING stop_requested`),
		q.ts(t.Add(lease)), progress, q.ts(t), id, holder, ScanRunning).Scan(&stop)
	if errors.Is(err, sql.ErrNoRows) {
		return false, errLeaseLost(id)
	}
	if err != nil {
		return false, fmt.Errorf("renew scan job %d: %w", id, err)
	}
	return stop, nil
}

// FinishScanJob ends holder's job id with status (success, error,
// stopped) or, when retryAt is not zero, queues it again for then. The
// text is appended to the job's log. Conflict when holder lost it.
func (q *Q) FinishScanJob(ctx context.Context, id int64, holder, status string, retryAt time.Time, logText string) error {
	t := now()
	var n int64
	var err error
	if !retryAt.IsZero() {
		n, err = q.execN(ctx, `UPDATE scan_jobs SET status = ?, lease_holder = '', lease_expires_at = NULL,
			next_run_at = ?, log = log || ?, updated_at = ? WHERE id = ? AND lease_holder = ? AND status = ?`,
			ScanQueued, q.ts(retryAt), logText, q.ts(t), id, holder, ScanRunning)
	} else {
		progress := 0
		if status == ScanSuccess {
			progress = 100
		}
		n, err = q.execN(ctx, `UPDATE scan_jobs SET status = ?, progress = CASE WHEN ? > progress THEN ? ELSE progress END,
			lease_holder = '', lease_expires_at = NULL, log = log || ?, updated_at = ?, ended_at = ?
			WHERE id = ? AND lease_holder = ? AND status = ?`,
			status, progress, progress, logText, q.ts(t), q.ts(t), id, holder, ScanRunning)
	}
	if err != nil {
		return fmt.Errorf("finish scan job %d: %w", id, err)
	}
	if n == 0 {
		return errLeaseLost(id)
	}
	return nil
}

// StopScanJobs asks the active jobs of report uuid to stop: queued ones
// stop at once, running ones when their worker next renews its lease. It
// returns how many jobs it reached.
func (q *Q) StopScanJobs(ctx context.Context, reportUUID string) (int64, error) {
	var total int64
	err := q.atomic(ctx, func(q *Q) error {
		t := q.ts(now())
		n, err := q.execN(ctx, `UPDATE scan_jobs SET status = ?, stop_requested = ?, updated_at = ?, ended_at = ?,
			log = log || ? WHERE report_uuid = ? AND status = ?`, ScanStopped, true, t, t, "stopped before it ran\n",
			reportUUID, ScanQueued)
		if err != nil {
			return err
		}
		m, err := q.execN(ctx, `UPDATE scan_jobs SET stop_requested = ?, updated_at = ? WHERE report_uuid = ? AND status = ?`,
			true, t, reportUUID, ScanRunning)
		total = n + m
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("stop scans of report %s: %w", reportUUID, err)
	}
	return total, nil
}

// ScanJobCounts counts jobs by status: those of scan-all run id, or every
// job when id is 0.
func (q *Q) ScanJobCounts(ctx context.Context, scanAllID int64) (map[string]int, error) {
	query := `SELECT status, count(*) FROM scan_jobs`
	var args []any
	if scanAllID > 0 {
		query += ` WHERE scan_all_id = ?`
		args = append(args, scanAllID)
	}
	rows, err := q.query(ctx, query+` GROUP BY status`, args...)
	if err != nil {
		return nil, fmt.Errorf("count scan jobs: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// ScanAllRun is one "scan all" request: which artifacts it queued is in
// scan_jobs.scan_all_id.
type ScanAllRun struct {
	ID        int64
	Trigger   string // Manual or Schedule
	Total     int
	Enqueued  bool // every scan of the run is queued (the walk is over)
	CreatedAt time.Time
	UpdatedAt time.Time
}

const scanAllCols = `id, scan_trigger, total, enqueued, created_at, updated_at`

func scanScanAllRun(row interface{ Scan(...any) error }) (ScanAllRun, error) {
	var r ScanAllRun
	err := row.Scan(&r.ID, &r.Trigger, &r.Total, &r.Enqueued, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	return r, err
}

// CreateScanAllRun records a scan-all request whose scans are still to be
// queued (ClaimScanAllWalk).
func (q *Q) CreateScanAllRun(ctx context.Context, trigger string) (ScanAllRun, error) {
	t := now()
	id, _, err := q.insertID(ctx, `INSERT INTO scan_all_runs (scan_trigger, total, enqueued, created_at, updated_at)
		VALUES (?, 0, ?, ?, ?) RETURNING id`, trigger, false, q.ts(t), q.ts(t))
	if err != nil {
		return ScanAllRun{}, fmt.Errorf("create scan-all run: %w", err)
	}
	return ScanAllRun{ID: id, Trigger: trigger, CreatedAt: t, UpdatedAt: t}, nil
}

// ClaimScanAllWalk gives holder, until until, the walk of the oldest run
// whose scans are not all queued and that nobody else walks (or whose
// walker's claim ran out at now). ok is false when there is none. One
// conditional UPDATE, re-checked on the row it locks, so of two nodes
// racing for a run exactly one gets it.
func (q *Q) ClaimScanAllWalk(ctx context.Context, holder string, now, until time.Time) (ScanAllRun, bool, error) {
	if holder == "" {
		return ScanAllRun{}, false, errs.Invalidf("scan-all walker is empty")
	}
	for range 10 { // another node may win each candidate; bounded
		var id int64
		err := q.queryRow(ctx, `SELECT id FROM scan_all_runs WHERE enqueued = ? AND (enqueue_holder = '' OR enqueue_until < ?)
			ORDER BY id LIMIT 1`, false, q.ts(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ScanAllRun{}, false, nil
		}
		if err != nil {
			return ScanAllRun{}, false, fmt.Errorf("find scan-all run to walk: %w", err)
		}
		n, err := q.execN(ctx, `UPDATE scan_all_runs SET enqueue_holder = ?, enqueue_until = ?
			WHERE id = ? AND enqueued = ? AND (enqueue_holder = '' OR enqueue_until < ?)`,
			holder, q.ts(until), id, false, q.ts(now))
		if err != nil {
			return ScanAllRun{}, false, fmt.Errorf("claim scan-all run %d: %w", id, err)
		}
		if n == 0 {
			continue
		}
		r, err := scanScanAllRun(q.queryRow(ctx, `SELECT `+scanAllCols+` FROM scan_all_runs WHERE id = ?`, id))
		if err != nil {
			return ScanAllRun{}, false, fmt.Errorf("read scan-all run %d: %w", id, err)
		}
		return r, true, nil
	}
	return ScanAllRun{}, false, nil
}

// ExtendScanAllWalk keeps holder's claim on run id until until; false
// when holder no longer has it (it ran out and another node took over).
func (q *Q) ExtendScanAllWalk(ctx context.Context, id int64, holder string, until time.Time) (bool, error) {
	n, err := q.execN(ctx, `UPDATE scan_all_runs SET enqueue_until = ? WHERE id = ? AND enqueue_holder = ? AND enqueued = ?`,
		q.ts(until), id, holder, false)
	if err != nil {
		return false, fmt.Errorf("extend scan-all walk %d: %w", id, err)
	}
	return n > 0, nil
}

// FinishScanAllWalk marks run id's scans all queued (total of them), if
// holder still walks it.
func (q *Q) FinishScanAllWalk(ctx context.Context, id int64, holder string, total int) (bool, error) {
	n, err := q.execN(ctx, `UPDATE scan_all_runs SET enqueued = ?, enqueue_holder = '', total = total + ?, updated_at = ?
		WHERE id = ? AND enqueue_holder = ? AND enqueued = ?`, true, total, q.ts(now()), id, holder, false)
	if err != nil {
		return false, fmt.Errorf("finish scan-all walk %d: %w", id, err)
	}
	return n > 0, nil
}

// SetScanAllTotal records how many scans run id queued.
func (q *Q) SetScanAllTotal(ctx context.Context, id int64, total int) error {
	_, err := q.exec(ctx, `UPDATE scan_all_runs SET total = ?, updated_at = ? WHERE id = ?`, total, q.ts(now()), id)
	return err
}

// LatestScanAllRun returns the newest scan-all run with trigger (any when
// ""); NotFound when there is none.
func (q *Q) LatestScanAllRun(ctx context.Context, trigger string) (ScanAllRun, error) {
	query := `SELECT ` + scanAllCols + ` FROM scan_all_runs`
	var args []any
	if trigger != "" {
		query += ` WHERE scan_trigger = ?`
		args = append(args, trigger)
	}
	r, err := scanScanAllRun(q.queryRow(ctx, query+` ORDER BY id DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return ScanAllRun{}, errs.New(errs.NotFound, "NOT_FOUND", "no scan-all run yet")
	}
	if err != nil {
		return ScanAllRun{}, fmt.Errorf("get scan-all run: %w", err)
	}
	return r, nil
}

// StopScanAllJobs stops the queued jobs of scan-all run id and asks its
// running ones to stop.
func (q *Q) StopScanAllJobs(ctx context.Context, id int64) (int64, error) {
	var total int64
	err := q.atomic(ctx, func(q *Q) error {
		t := q.ts(now())
		n, err := q.execN(ctx, `UPDATE scan_jobs SET status = ?, stop_requested = ?, updated_at = ?, ended_at = ?,
			log = log || ? WHERE scan_all_id = ? AND status = ?`, ScanStopped, true, t, t, "stopped before it ran\n", id, ScanQueued)
		if err != nil {
			return err
		}
		m, err := q.execN(ctx, `UPDATE scan_jobs SET stop_requested = ?, updated_at = ? WHERE scan_all_id = ? AND status = ?`,
			true, t, id, ScanRunning)
		total = n + m
		if err != nil {
			return err
		}
		// A walk still queueing the run's scans ends (its next extension
		// fails); its queued scans were stopped above.
		_, err = q.exec(ctx, `UPDATE scan_all_runs SET enqueued = ?, enqueue_holder = '' WHERE id = ?`, true, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("stop scan-all run %d: %w", id, err)
	}
	return total, nil
}
