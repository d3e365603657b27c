package meta

import (
	"context"
	"fmt"
)

// Counts is how many projects and repositories there are, public and
// private, for Harbor's /statistics.
type Counts struct {
	PublicProjects, PrivateProjects int64
	PublicRepos, PrivateRepos       int64
}

// CountProjects counts public projects and their repositories, all of
// them, and the private ones f lets the caller see (f.PublicOnly: none).
// A repository belongs to the project named by its first path component;
// each project's repositories are one range of the name index.
func (q *Q) CountProjects(ctx context.Context, f ProjectFilter) (Counts, error) {
	coll := ""
	if q.pg() {
		coll = ` COLLATE "C"`
	}
	w := &where{}
	if !f.All {
		cond, args := "p.public = ?", []any{true}
		if !f.PublicOnly {
			if f.UserID > 0 {
				cond += ` OR p.id IN (SELECT project_id FROM project_members WHERE entity_type = 'u' AND entity_id = ?)`
				args = append(args, f.UserID)
			}
			if ids := uniq(f.ExtraIDs); len(ids) > 0 {
				cond += " OR p.id IN (" + placeholders(len(ids)) + ")"
				for _, id := range ids {
					args = append(args, id)
				}
			}
		}
		w.add(cond, args...)
	}
	rows, err := q.query(ctx, `SELECT p.public, count(DISTINCT p.id), count(r.id) FROM projects p
		LEFT JOIN repositories r ON r.name >= (p.name || '/')`+coll+` AND r.name < (p.name || '0')`+coll+
		w.sql()+` GROUP BY p.public`, w.args...)
	if err != nil {
		return Counts{}, fmt.Errorf("count projects: %w", err)
	}
	defer rows.Close()
	var c Counts
	for rows.Next() {
		var (
			public          bool
			projects, repos int64
		)
		if err := rows.Scan(&public, &projects, &repos); err != nil {
			return Counts{}, fmt.Errorf("count projects: %w", err)
		}
		if public {
			c.PublicProjects, c.PublicRepos = projects, repos
		} else {
			c.PrivateProjects, c.PrivateRepos = projects, repos
		}
	}
	if err := rows.Err(); err != nil {
		return Counts{}, fmt.Errorf("count projects: %w", err)
	}
	return c, nil
}

// StoredBytes is the total size of the distinct blobs that some
// repository links: what the registry's content takes in the blob store,
// each layer once however many repositories share it, not counting
// unreferenced blobs that garbage collection has yet to remove.
func (q *Q) StoredBytes(ctx context.Context) (int64, error) {
	var n int64
	err := q.queryRow(ctx, `SELECT coalesce(sum(b.size), 0) FROM blobs b
		WHERE EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest)`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("total stored bytes: %w", err)
	}
	return n, nil
}
