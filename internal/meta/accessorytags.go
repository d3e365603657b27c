package meta

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/oci"
)

// TagDigests returns, for those of names that are tags of the repository,
// the digest each names. Cosign's tag scheme links a signature to its
// subject only by such a name (sha256-<hex>.sig), so finding an
// artifact's tag-scheme accessories is a lookup of a few names.
func (q *Q) TagDigests(ctx context.Context, repoID int64, names []string) (map[string]oci.Digest, error) {
	out := make(map[string]oci.Digest, len(names))
	err := chunks(uniq(names), chunkSize, func(part []string) error {
		args := []any{repoID}
		for _, n := range part {
			args = append(args, n)
		}
		rows, err := q.query(ctx, `SELECT name, digest FROM tags WHERE repo_id = ? AND name IN (`+placeholders(len(part))+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			var d oci.Digest
			if err := rows.Scan(&n, &d); err != nil {
				return err
			}
			out[n] = d
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("look up tags in repository %d: %w", repoID, err)
	}
	return out, nil
}
