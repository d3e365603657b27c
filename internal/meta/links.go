package meta

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/oci"
)

// ReposLinking lists up to n names of repositories that hold blob d, in
// name order (for automatic cross-repository mounts).
func (q *Q) ReposLinking(ctx context.Context, d oci.Digest, n int) ([]string, error) {
	rows, err := q.query(ctx, `SELECT r.name FROM repo_blobs l JOIN repositories r ON r.id = l.repo_id
		WHERE l.digest = ? ORDER BY r.name LIMIT ?`, string(d), n)
	if err != nil {
		return nil, fmt.Errorf("repositories holding %s: %w", d, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}
