package meta

import (
	"context"
	"database/sql"
	"fmt"
)

// Stats are the store-wide figures a metrics scrape reports. They are
// the same whichever node is asked.
type Stats struct {
	UploadSessions int64            // upload sessions not yet completed or cancelled
	GCRuns         map[string]int64 // garbage collection runs by status
	GCBytesFreed   int64            // bytes freed by every run
}

// Stats reads the store-wide figures: three small aggregate queries.
func (q *Q) Stats(ctx context.Context) (Stats, error) {
	s := Stats{GCRuns: map[string]int64{}}
	if err := q.queryRow(ctx, `SELECT count(*) FROM uploads`).Scan(&s.UploadSessions); err != nil {
		return s, fmt.Errorf("count upload sessions: %w", err)
	}
	if err := q.queryRow(ctx, `SELECT COALESCE(sum(bytes_freed), 0) FROM gc_runs WHERE NOT dry_run`).Scan(&s.GCBytesFreed); err != nil {
		return s, fmt.Errorf("sum bytes freed by gc: %w", err)
	}
	rows, err := q.query(ctx, `SELECT status, count(*) FROM gc_runs GROUP BY status`)
	if err != nil {
		return s, fmt.Errorf("count gc runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return s, fmt.Errorf("count gc runs: %w", err)
		}
		s.GCRuns[st] = n
	}
	return s, rows.Err()
}

// Pools returns the connection pools by role ("write" and "read" on
// SQLite, "main" on PostgreSQL), for their statistics.
func (db *DB) Pools() map[string]*sql.DB {
	if db.r == db.w {
		return map[string]*sql.DB{"main": db.w}
	}
	return map[string]*sql.DB{"write": db.w, "read": db.r}
}
