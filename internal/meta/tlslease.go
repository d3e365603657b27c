package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// The TLS lease: one row naming the node allowed to replace the generated
// server certificate, taken and given up as the GC lease is (one
// conditional UPDATE, so of two nodes racing for a free lease exactly one
// matches).

// AcquireTLSLease takes the lease for holder until expires, if it is free
// or expired at now (or holder already has it); it reports whether
// holder has it.
func (q *Q) AcquireTLSLease(ctx context.Context, holder string, now, expires time.Time) (bool, error) {
	if holder == "" {
		return false, errs.Invalidf("tls lease holder is empty")
	}
	n, err := q.execN(ctx, `UPDATE tls_lease SET holder = ?, expires_at = ?
		WHERE id = 1 AND (holder = '' OR holder = ? OR expires_at < ?)`, holder, q.ts(expires), holder, q.ts(now))
	if err != nil {
		return false, fmt.Errorf("acquire tls lease: %w", err)
	}
	return n > 0, nil
}

// ReleaseTLSLease gives the lease up if holder has it.
func (q *Q) ReleaseTLSLease(ctx context.Context, holder string) error {
	if _, err := q.exec(ctx, `UPDATE tls_lease SET holder = '', expires_at = ? WHERE id = 1 AND holder = ?`,
		q.ts(time.Unix(0, 0)), holder); err != nil {
		return fmt.Errorf("release tls lease: %w", err)
	}
	return nil
}

// TLSLeaseHolder returns who holds the TLS lease ("" for nobody) and
// until when.
func (q *Q) TLSLeaseHolder(ctx context.Context) (string, time.Time, error) {
	var holder string
	var exp time.Time
	if err := q.queryRow(ctx, `SELECT holder, expires_at FROM tls_lease WHERE id = 1`).Scan(&holder, timeCol{&exp}); err != nil {
		return "", time.Time{}, fmt.Errorf("read tls lease: %w", err)
	}
	return holder, exp, nil
}
