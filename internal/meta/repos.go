package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
)

const repoCols = `id, name, created_at, updated_at`

func scanRepo(row interface{ Scan(...any) error }) (Repo, error) {
	var r Repo
	err := row.Scan(&r.ID, &r.Name, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	return r, err
}

// EnsureRepo returns the repository called name, creating it if needed.
// Concurrent calls for the same name, from any number of nodes, all
// return the same row.
func (q *Q) EnsureRepo(ctx context.Context, name string) (Repo, error) {
	if name == "" {
		return Repo{}, errs.Invalidf("repository name is empty")
	}
	t := q.ts(now())
	// DO NOTHING waits for a concurrent inserter of the same name to
	// finish, so the SELECT that follows (a new statement, hence a new
	// snapshot at READ COMMITTED) sees its row.
	if _, err := q.exec(ctx, `INSERT INTO repositories (name, created_at, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, t, t); err != nil {
		return Repo{}, fmt.Errorf("ensure repository %s: %w", name, err)
	}
	// Read through the write side: outside a transaction on SQLite this
	// is the connection that just inserted.
	r, err := scanRepo(q.w.QueryRowContext(ctx, q.rebind(`SELECT `+repoCols+` FROM repositories WHERE name = ?`), name))
	if err != nil {
		return Repo{}, fmt.Errorf("ensure repository %s: %w", name, err)
	}
	return r, nil
}

// GetRepo returns the repository called name.
func (q *Q) GetRepo(ctx context.Context, name string) (Repo, error) {
	r, err := scanRepo(q.queryRow(ctx, `SELECT `+repoCols+` FROM repositories WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Repo{}, errs.New(errs.NotFound, "", "repository %s not found", name)
	}
	if err != nil {
		return Repo{}, fmt.Errorf("get repository %s: %w", name, err)
	}
	return r, nil
}

// ListRepos returns up to n repository names (all when n <= 0) that sort
// after last, in byte order.
func (q *Q) ListRepos(ctx context.Context, last string, n int) ([]string, error) {
	rows, err := q.query(ctx, `SELECT name FROM repositories WHERE name > ? ORDER BY name`+limit(n), last)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	names, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	return names, nil
}

// DeleteRepo deletes the repository and, by cascade, its links, manifests,
// manifest references, tags and upload sessions. Blob rows are global and
// stay for garbage collection.
func (q *Q) DeleteRepo(ctx context.Context, id int64) error {
	n, err := q.execN(ctx, `DELETE FROM repositories WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete repository %d: %w", id, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "repository %d not found", id)
	}
	return nil
}
