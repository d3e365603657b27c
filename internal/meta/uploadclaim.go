package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Upload writer claims: one request at a time, on any node, may write an
// upload session's bytes. The offset compare-and-set of AdvanceUpload
// stops two writers from both advancing the session, but by then both
// may have written bytes at the same place of a shared object store; the
// claim stops the second before it writes anything.

// ClaimUpload makes writer the session's only writer until until, unless
// another writer's claim is still valid at now, and returns the session
// as it is once claimed. Conflict when another request is writing it;
// NotFound when the session is gone.
func (q *Q) ClaimUpload(ctx context.Context, id, writer string, now, until time.Time) (Upload, error) {
	if writer == "" {
		return Upload{}, errs.Invalidf("upload writer is empty")
	}
	u, err := scanUpload(q.w.QueryRowContext(ctx, q.rebind(`UPDATE uploads SET writer = ?, writer_until = ?
		WHERE id = ? AND (writer = '' OR writer = ? OR writer_until < ?) RETURNING `+uploadCols),
		writer, q.ts(until), id, writer, q.ts(now)))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := q.GetUpload(ctx, id); err != nil {
			return Upload{}, err
		}
		return Upload{}, errs.Conflictf("another request is writing upload %s; retry when it has finished", id)
	}
	if err != nil {
		return Upload{}, fmt.Errorf("claim upload %s: %w", id, err)
	}
	return u, nil
}

// RenewUploadClaim extends writer's claim to until; false when writer no
// longer holds it.
func (q *Q) RenewUploadClaim(ctx context.Context, id, writer string, until time.Time) (bool, error) {
	n, err := q.execN(ctx, `UPDATE uploads SET writer_until = ? WHERE id = ? AND writer = ?`, q.ts(until), id, writer)
	if err != nil {
		return false, fmt.Errorf("renew claim of upload %s: %w", id, err)
	}
	return n > 0, nil
}

// ReleaseUploadClaim ends writer's claim, if it still holds it.
func (q *Q) ReleaseUploadClaim(ctx context.Context, id, writer string) error {
	if _, err := q.exec(ctx, `UPDATE uploads SET writer = '', writer_until = ? WHERE id = ? AND writer = ?`,
		q.ts(time.Unix(0, 0)), id, writer); err != nil {
		return fmt.Errorf("release claim of upload %s: %w", id, err)
	}
	return nil
}
