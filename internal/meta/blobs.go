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

const blobCols = `digest, size, state, last_seen, created_at`

func scanBlob(row interface{ Scan(...any) error }) (Blob, error) {
	var b Blob
	err := row.Scan(&b.Digest, &b.Size, &b.State, timeCol{&b.LastSeen}, timeCol{&b.CreatedAt})
	return b, err
}

func blobNotFound(d oci.Digest) error {
	return errs.New(errs.NotFound, "", "blob %s not found", d)
}

// GetBlob returns the blob row for d.
func (q *Q) GetBlob(ctx context.Context, d oci.Digest) (Blob, error) {
	return q.getBlob(ctx, d, "")
}

// LockBlob returns the blob row for d and, inside a transaction, holds it
// exclusively until the transaction ends (PostgreSQL FOR UPDATE; SQLite's
// transaction already owns the database's write lock). It is how an upload
// commit and GC agree on a blob's fate (DESIGN.md, GC protocol).
func (q *Q) LockBlob(ctx context.Context, d oci.Digest) (Blob, error) {
	return q.getBlob(ctx, d, " FOR UPDATE")
}

func (q *Q) getBlob(ctx context.Context, d oci.Digest, lock string) (Blob, error) {
	if !q.pg() {
		lock = ""
	}
	b, err := scanBlob(q.queryRow(ctx, `SELECT `+blobCols+` FROM blobs WHERE digest = ?`+lock, d))
	if errors.Is(err, sql.ErrNoRows) {
		return Blob{}, blobNotFound(d)
	}
	if err != nil {
		return Blob{}, fmt.Errorf("get blob %s: %w", d, err)
	}
	return b, nil
}

// LockBlobsShared returns the rows of those digests in ds that exist and,
// inside a transaction, keeps them from changing until it ends
// (PostgreSQL FOR SHARE, taken in digest order). A manifest commit uses it
// so that GC cannot start deleting a layer the manifest is about to name.
func (q *Q) LockBlobsShared(ctx context.Context, ds []oci.Digest) (map[oci.Digest]Blob, error) {
	lock := ""
	if q.pg() {
		lock = " FOR SHARE"
	}
	out := make(map[oci.Digest]Blob, len(ds))
	err := chunks(uniq(ds), chunkSize, func(part []oci.Digest) error {
		args := make([]any, len(part))
		for i, d := range part {
			args[i] = d
		}
		rows, err := q.query(ctx, `SELECT `+blobCols+` FROM blobs WHERE digest IN (`+
			placeholders(len(part))+`) ORDER BY digest`+lock, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBlob(rows)
			if err != nil {
				return err
			}
			out[b.Digest] = b
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("lock blobs: %w", err)
	}
	return out, nil
}

// InsertBlob adds a blob row unless one exists for the digest already.
// Zero times become now and an empty state becomes BlobLive.
func (q *Q) InsertBlob(ctx context.Context, b Blob) (bool, error) {
	if b.State == "" {
		b.State = BlobLive
	}
	if b.State != BlobLive && b.State != BlobDeleting {
		return false, errs.Invalidf("blob %s: unknown state %q", b.Digest, b.State)
	}
	t := now()
	if b.LastSeen.IsZero() {
		b.LastSeen = t
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = t
	}
	n, err := q.execN(ctx, `INSERT INTO blobs (`+blobCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (digest) DO NOTHING`,
		b.Digest, b.Size, b.State, q.ts(b.LastSeen), q.ts(b.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("insert blob %s: %w", b.Digest, err)
	}
	return n > 0, nil
}

// TouchBlob sets the blob's last_seen, which keeps GC's grace period from
// expiring while the blob is being used.
func (q *Q) TouchBlob(ctx context.Context, d oci.Digest, t time.Time) error {
	return q.updateBlob(ctx, d, "touch", `UPDATE blobs SET last_seen = ? WHERE digest = ?`, q.ts(t), d)
}

// SetBlobState sets the blob's state to BlobLive or BlobDeleting.
func (q *Q) SetBlobState(ctx context.Context, d oci.Digest, state string) error {
	if state != BlobLive && state != BlobDeleting {
		return errs.Invalidf("blob %s: unknown state %q", d, state)
	}
	return q.updateBlob(ctx, d, "set state of", `UPDATE blobs SET state = ? WHERE digest = ?`, state, d)
}

// DeleteBlob deletes the blob row; NotFound if there is none.
func (q *Q) DeleteBlob(ctx context.Context, d oci.Digest) error {
	return q.updateBlob(ctx, d, "delete", `DELETE FROM blobs WHERE digest = ?`, d)
}

func (q *Q) updateBlob(ctx context.Context, d oci.Digest, verb, query string, args ...any) error {
	n, err := q.execN(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s blob %s: %w", verb, d, err)
	}
	if n == 0 {
		return blobNotFound(d)
	}
	return nil
}

// LinkBlob records that the repository holds the blob (pushed or mounted).
// Linking again is a no-op; NotFound if the repository does not exist.
func (q *Q) LinkBlob(ctx context.Context, repoID int64, d oci.Digest) error {
	_, err := q.exec(ctx, `INSERT INTO repo_blobs (repo_id, digest, created_at) VALUES (?, ?, ?)
		ON CONFLICT (repo_id, digest) DO NOTHING`, repoID, d, q.ts(now()))
	if isFKViolation(err) {
		return errs.Wrap(errs.NotFound, err, "repository %d not found", repoID)
	}
	if err != nil {
		return fmt.Errorf("link blob %s to repository %d: %w", d, repoID, err)
	}
	return nil
}

// IsBlobLinked reports whether the repository holds the blob.
func (q *Q) IsBlobLinked(ctx context.Context, repoID int64, d oci.Digest) (bool, error) {
	var ok bool
	err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM repo_blobs WHERE repo_id = ? AND digest = ?)`,
		repoID, d).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check link of blob %s in repository %d: %w", d, repoID, err)
	}
	return ok, nil
}

// UnlinkBlob removes the blob from the repository and reports whether it
// was there.
func (q *Q) UnlinkBlob(ctx context.Context, repoID int64, d oci.Digest) (bool, error) {
	n, err := q.execN(ctx, `DELETE FROM repo_blobs WHERE repo_id = ? AND digest = ?`, repoID, d)
	if err != nil {
		return false, fmt.Errorf("unlink blob %s from repository %d: %w", d, repoID, err)
	}
	return n > 0, nil
}

// BlobReferenced reports whether any repository links the blob or any
// manifest names it. GC calls it after LockBlob, in a new statement, so it
// sees every reference committed before the lock was granted.
func (q *Q) BlobReferenced(ctx context.Context, d oci.Digest) (bool, error) {
	var ok bool
	err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = ?)
		OR EXISTS (SELECT 1 FROM manifest_blobs WHERE blob_digest = ?)`, d, d).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check references to blob %s: %w", d, err)
	}
	return ok, nil
}
