package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// manifestColsM are manifestCols of the manifests table aliased m.
const manifestColsM = `m.repo_id, m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.annotations, m.created_at`

// ResolveManifest returns, with its content, the manifest that tag names
// in the repository called repo, or the one with digest d when tag is "",
// in one query (the hot path of manifest GET and HEAD). NotFound when the
// repository, tag or manifest is missing; a caller that must say which
// asks again with GetRepo, GetTag and GetManifest.
func (q *Q) ResolveManifest(ctx context.Context, repo, tag string, d oci.Digest) (Manifest, error) {
	var row *sql.Row
	if tag != "" {
		row = q.queryRow(ctx, `SELECT `+manifestColsM+`, m.content FROM repositories r
			JOIN tags t ON t.repo_id = r.id AND t.name = ?
			JOIN manifests m ON m.repo_id = r.id AND m.digest = t.digest
			WHERE r.name = ?`, tag, repo)
	} else {
		row = q.queryRow(ctx, `SELECT `+manifestColsM+`, m.content FROM repositories r
			JOIN manifests m ON m.repo_id = r.id AND m.digest = ?
			WHERE r.name = ?`, d, repo)
	}
	m, err := scanManifest(row, true)
	if errors.Is(err, sql.ErrNoRows) {
		return Manifest{}, errs.New(errs.NotFound, "", "manifest %s%s not found in repository %s", tag, d, repo)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("resolve manifest %s%s in repository %s: %w", tag, d, repo, err)
	}
	return m, nil
}

// ResolveLinkedBlob returns the row of blob d when the repository called
// repo links it, in one query (the hot path of blob GET and HEAD).
// NotFound when the repository, the link or the blob is missing; a caller
// that must say which asks again.
func (q *Q) ResolveLinkedBlob(ctx context.Context, repo string, d oci.Digest) (Blob, error) {
	b, err := scanBlob(q.queryRow(ctx, `SELECT b.digest, b.size, b.state, b.last_seen, b.created_at
		FROM repositories r
		JOIN repo_blobs l ON l.repo_id = r.id AND l.digest = ?
		JOIN blobs b ON b.digest = l.digest
		WHERE r.name = ?`, d, repo))
	if errors.Is(err, sql.ErrNoRows) {
		return Blob{}, errs.New(errs.NotFound, "", "blob %s not found in repository %s", d, repo)
	}
	if err != nil {
		return Blob{}, fmt.Errorf("resolve blob %s in repository %s: %w", d, repo, err)
	}
	return b, nil
}
