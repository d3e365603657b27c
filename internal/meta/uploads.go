package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

const uploadCols = `id, repo_id, algorithm, upload_offset, hash_state, created_at, updated_at`

func scanUpload(row interface{ Scan(...any) error }) (Upload, error) {
	var u Upload
	err := row.Scan(&u.ID, &u.RepoID, &u.Algorithm, &u.Offset, &u.HashState,
		timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	return u, err
}

func uploadNotFound(id string) error {
	return errs.New(errs.NotFound, "", "upload %s not found", id)
}

// CreateUpload starts an upload session. Zero times become now. NotFound
// if the repository does not exist; Conflict if the id is taken.
func (q *Q) CreateUpload(ctx context.Context, u Upload) error {
	t := now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = t
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	n, err := q.execN(ctx, `INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		u.ID, u.RepoID, u.Algorithm, u.Offset, u.HashState, q.ts(u.CreatedAt), q.ts(u.UpdatedAt))
	if isFKViolation(err) {
		return errs.Wrap(errs.NotFound, err, "repository %d not found", u.RepoID)
	}
	if err != nil {
		return fmt.Errorf("create upload %s: %w", u.ID, err)
	}
	if n == 0 {
		return errs.Conflictf("upload %s exists already", u.ID)
	}
	return nil
}

// GetUpload returns the upload session.
func (q *Q) GetUpload(ctx context.Context, id string) (Upload, error) {
	u, err := scanUpload(q.queryRow(ctx, `SELECT `+uploadCols+` FROM uploads WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Upload{}, uploadNotFound(id)
	}
	if err != nil {
		return Upload{}, fmt.Errorf("get upload %s: %w", id, err)
	}
	return u, nil
}

// AdvanceUpload records that the session now holds toOffset bytes hashed
// into hashState, but only if it still holds fromOffset: two writers of
// the same session (nodes, retried requests) cannot both advance it.
// Conflict if the offset moved; NotFound if the session is gone.
func (q *Q) AdvanceUpload(ctx context.Context, id string, fromOffset, toOffset int64, hashState []byte) error {
	n, err := q.execN(ctx, `UPDATE uploads SET upload_offset = ?, hash_state = ?, updated_at = ?
		WHERE id = ? AND upload_offset = ?`, toOffset, hashState, q.ts(now()), id, fromOffset)
	if err != nil {
		return fmt.Errorf("advance upload %s: %w", id, err)
	}
	if n > 0 {
		return nil
	}
	u, err := q.GetUpload(ctx, id)
	if err != nil {
		return err
	}
	return errs.Conflictf("upload %s is at offset %d, not %d", id, u.Offset, fromOffset)
}

// DeleteUpload ends the session; NotFound if it is gone already.
func (q *Q) DeleteUpload(ctx context.Context, id string) error {
	n, err := q.execN(ctx, `DELETE FROM uploads WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete upload %s: %w", id, err)
	}
	if n == 0 {
		return uploadNotFound(id)
	}
	return nil
}

// ListUploadsBefore returns up to n sessions (all when n <= 0) last
// updated before t, oldest first, for sweeping abandoned uploads.
func (q *Q) ListUploadsBefore(ctx context.Context, t time.Time, n int) ([]Upload, error) {
	rows, err := q.query(ctx, `SELECT `+uploadCols+` FROM uploads WHERE updated_at < ?
		ORDER BY updated_at, id`+limit(n), q.ts(t))
	if err != nil {
		return nil, fmt.Errorf("list stale uploads: %w", err)
	}
	defer rows.Close()
	out := []Upload{}
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("list stale uploads: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stale uploads: %w", err)
	}
	return out, nil
}
