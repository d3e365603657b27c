package meta

import (
	"context"
	"fmt"
)

// Count runs a read-only "SELECT count(*) …" query written with '?'
// placeholders. It exists for tests and diagnostics that check rows
// directly; services use the typed methods.
func (db *DB) Count(ctx context.Context, query string, args ...any) (int, error) {
	q := db.Q()
	var n int
	if err := q.r.QueryRowContext(ctx, q.rebind(query), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}
