package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// PutTag points the tag at manifest d, creating or moving it. NotFound if
// the repository has no manifest d (on PostgreSQL this also aborts the
// surrounding transaction, so check first when that matters).
func (q *Q) PutTag(ctx context.Context, repoID int64, name string, d oci.Digest) error {
	_, err := q.exec(ctx, `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		repoID, name, d, q.ts(now()))
	if isFKViolation(err) {
		return errs.Wrap(errs.NotFound, err, "manifest %s not found in repository %d", d, repoID)
	}
	if err != nil {
		return fmt.Errorf("put tag %s in repository %d: %w", name, repoID, err)
	}
	return nil
}

// GetTag returns the tag called name.
func (q *Q) GetTag(ctx context.Context, repoID int64, name string) (Tag, error) {
	t := Tag{RepoID: repoID, Name: name}
	err := q.queryRow(ctx, `SELECT digest, updated_at FROM tags WHERE repo_id = ? AND name = ?`,
		repoID, name).Scan(&t.Digest, timeCol{&t.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Tag{}, errs.New(errs.NotFound, "", "tag %s not found in repository %d", name, repoID)
	}
	if err != nil {
		return Tag{}, fmt.Errorf("get tag %s in repository %d: %w", name, repoID, err)
	}
	return t, nil
}

// DeleteTag deletes the tag; the manifest stays.
func (q *Q) DeleteTag(ctx context.Context, repoID int64, name string) error {
	n, err := q.execN(ctx, `DELETE FROM tags WHERE repo_id = ? AND name = ?`, repoID, name)
	if err != nil {
		return fmt.Errorf("delete tag %s in repository %d: %w", name, repoID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "tag %s not found in repository %d", name, repoID)
	}
	return nil
}

// ListTags returns up to n tag names of the repository (all when n <= 0)
// that sort after last, in byte order.
func (q *Q) ListTags(ctx context.Context, repoID int64, last string, n int) ([]string, error) {
	rows, err := q.query(ctx, `SELECT name FROM tags WHERE repo_id = ? AND name > ? ORDER BY name`+limit(n),
		repoID, last)
	if err != nil {
		return nil, fmt.Errorf("list tags of repository %d: %w", repoID, err)
	}
	names, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("list tags of repository %d: %w", repoID, err)
	}
	return names, nil
}

// TagsFor returns the names of the repository's tags that point at d, in
// byte order.
func (q *Q) TagsFor(ctx context.Context, repoID int64, d oci.Digest) ([]string, error) {
	rows, err := q.query(ctx, `SELECT name FROM tags WHERE repo_id = ? AND digest = ? ORDER BY name`, repoID, d)
	if err != nil {
		return nil, fmt.Errorf("tags of %s in repository %d: %w", d, repoID, err)
	}
	names, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("tags of %s in repository %d: %w", d, repoID, err)
	}
	return names, nil
}
