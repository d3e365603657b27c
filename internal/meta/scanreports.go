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

// Scan report states (Harbor's scan_status).
const (
	ReportPending = "Pending"
	ReportRunning = "Running"
	ReportSuccess = "Success"
	ReportError   = "Error"
	ReportStopped = "Stopped"
)

// ScanReport is the latest result of scanning one artifact (by digest)
// with one scanner in one report MIME type. Summary, Report and Scanner
// are JSON kept as the scanning code wrote them.
type ScanReport struct {
	ID          int64
	UUID        string
	Digest      oci.Digest
	ScannerUUID string
	MimeType    string
	Status      string
	Severity    string
	Summary     []byte
	Report      []byte
	Scanner     []byte
	Progress    int
	Log         string
	StartTime   time.Time
	EndTime     time.Time
}

const scanReportCols = `id, uuid, digest, scanner_uuid, mime_type, status, severity, summary, report, scanner,
	progress, log, start_time, end_time`

// scanReportSummaryCols leave out the full report, which listings do not need.
const scanReportSummaryCols = `id, uuid, digest, scanner_uuid, mime_type, status, severity, summary, '', scanner,
	progress, log, start_time, end_time`

func scanScanReport(row interface{ Scan(...any) error }) (ScanReport, error) {
	var r ScanReport
	var summary, report, scanner string
	err := row.Scan(&r.ID, &r.UUID, &r.Digest, &r.ScannerUUID, &r.MimeType, &r.Status, &r.Severity, &summary,
		&report, &scanner, &r.Progress, &r.Log, timeCol{&r.StartTime}, timeCol{&r.EndTime})
	r.Summary, r.Report, r.Scanner = []byte(summary), []byte(report), []byte(scanner)
	return r, err
}

func scanReportNotFound(id string) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "scan report %s not found", id)
}

// StartScanReport readies the report of (digest, scanner, MIME type) for
// a new scan: a new UUID, status Pending, the previous result kept until
// the new one replaces it.
func (q *Q) StartScanReport(ctx context.Context, r ScanReport) (ScanReport, error) {
	r.Status = ReportPending
	_, err := q.exec(ctx, `INSERT INTO scan_reports (uuid, digest, scanner_uuid, mime_type, status, progress, log,
		start_time, end_time) VALUES (?, ?, ?, ?, ?, 0, '', ?, NULL)
		ON CONFLICT (digest, scanner_uuid, mime_type) DO UPDATE SET uuid = excluded.uuid, status = excluded.status,
		progress = 0, log = '', start_time = excluded.start_time, end_time = NULL`,
		r.UUID, r.Digest, r.ScannerUUID, r.MimeType, r.Status, q.ts(now()))
	if err != nil {
		return ScanReport{}, fmt.Errorf("start scan report of %s: %w", r.Digest, err)
	}
	return q.GetScanReport(ctx, r.UUID)
}

// GetScanReport returns the report with uuid, full report included.
func (q *Q) GetScanReport(ctx context.Context, uuid string) (ScanReport, error) {
	r, err := scanScanReport(q.queryRow(ctx, `SELECT `+scanReportCols+` FROM scan_reports WHERE uuid = ?`, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return ScanReport{}, scanReportNotFound(uuid)
	}
	if err != nil {
		return ScanReport{}, fmt.Errorf("get scan report %s: %w", uuid, err)
	}
	return r, nil
}

// ListScanReports returns the reports of digests by scanner, without the
// full report unless full is set.
func (q *Q) ListScanReports(ctx context.Context, scannerUUID string, full bool, digests ...oci.Digest) ([]ScanReport, error) {
	cols := scanReportSummaryCols
	if full {
		cols = scanReportCols
	}
	out := []ScanReport{}
	err := chunks(uniq(digests), chunkSize, func(ds []oci.Digest) error {
		args := []any{scannerUUID}
		for _, d := range ds {
			args = append(args, d)
		}
		rows, err := q.query(ctx, `SELECT `+cols+` FROM scan_reports WHERE scanner_uuid = ? AND digest IN (`+
			placeholders(len(ds))+`) ORDER BY digest, mime_type`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanScanReport(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list scan reports: %w", err)
	}
	return out, nil
}

// UpdateScanReport stores a report's status, progress and log and, when
// r.Report is set, its result. NotFound if the report was restarted under
// another UUID (the caller's scan is no longer the latest).
func (q *Q) UpdateScanReport(ctx context.Context, r ScanReport) error {
	var end any
	if !r.EndTime.IsZero() {
		end = q.ts(r.EndTime)
	}
	query := `UPDATE scan_reports SET status = ?, progress = ?, log = ?, end_time = ?`
	args := []any{r.Status, r.Progress, r.Log, end}
	if len(r.Report) > 0 || len(r.Summary) > 0 {
		query += `, severity = ?, summary = ?, report = ?, scanner = ?`
		args = append(args, r.Severity, string(r.Summary), string(r.Report), string(r.Scanner))
	}
	n, err := q.execN(ctx, query+` WHERE uuid = ?`, append(args, r.UUID)...)
	if err != nil {
		return fmt.Errorf("update scan report %s: %w", r.UUID, err)
	}
	if n == 0 {
		return scanReportNotFound(r.UUID)
	}
	return nil
}

// DeleteOrphanScanReports removes the reports of artifacts no repository
// holds any more (deleted, or in a deleted project), except those a scan
// still queued or running will write; it returns how many went. GC runs
// it, so reports do not outlive their artifacts for long.
func (q *Q) DeleteOrphanScanReports(ctx context.Context) (int64, error) {
	n, err := q.execN(ctx, `DELETE FROM scan_reports WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = scan_reports.digest)
		AND NOT EXISTS (SELECT 1 FROM scan_jobs j WHERE j.report_uuid = scan_reports.uuid AND j.status IN (?, ?))`,
		ScanQueued, ScanRunning)
	if err != nil {
		return 0, fmt.Errorf("delete scan reports of deleted artifacts: %w", err)
	}
	return n, nil
}
