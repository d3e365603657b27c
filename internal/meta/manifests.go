package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// manifestCols are the columns of Manifest except content, which only
// GetManifest reads.
const manifestCols = `repo_id, digest, media_type, artifact_type, subject, size, annotations, created_at`

func scanManifest(row interface{ Scan(...any) error }, content bool) (Manifest, error) {
	var m Manifest
	var ann sql.NullString
	dest := []any{&m.RepoID, &m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &m.Size, &ann,
		timeCol{&m.CreatedAt}}
	if content {
		dest = append(dest, &m.Content)
	}
	if err := row.Scan(dest...); err != nil {
		return Manifest{}, err
	}
	if ann.Valid && ann.String != "" {
		if err := json.Unmarshal([]byte(ann.String), &m.Annotations); err != nil {
			return Manifest{}, fmt.Errorf("manifest %s annotations: %w", m.Digest, err)
		}
	}
	return m, nil
}

func manifestNotFound(repoID int64, d oci.Digest) error {
	return errs.New(errs.NotFound, "", "manifest %s not found in repository %d", d, repoID)
}

// PutManifest stores m in its repository with the blobs and child
// manifests it references, atomically. If the repository already has a
// manifest with that digest nothing changes and it returns false: the
// content is the same by definition of the digest. A zero CreatedAt
// becomes now. NotFound if the repository does not exist.
func (q *Q) PutManifest(ctx context.Context, m Manifest, blobs []oci.Digest, children []oci.Digest) (bool, error) {
	var ann sql.NullString
	if len(m.Annotations) > 0 {
		b, err := json.Marshal(m.Annotations)
		if err != nil {
			return false, fmt.Errorf("put manifest %s: annotations: %w", m.Digest, err)
		}
		ann = sql.NullString{String: string(b), Valid: true}
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now()
	}
	if m.Content == nil {
		m.Content = []byte{}
	}
	created := false
	err := q.atomic(ctx, func(q *Q) error {
		n, err := q.execN(ctx, `INSERT INTO manifests (`+manifestCols+`, content)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repo_id, digest) DO NOTHING`,
			m.RepoID, m.Digest, m.MediaType, m.ArtifactType, m.Subject, m.Size, ann, q.ts(m.CreatedAt), m.Content)
		if err != nil || n == 0 {
			return err
		}
		created = true
		if err := q.insertRefs(ctx, "manifest_blobs", "blob_digest", m.RepoID, m.Digest, blobs); err != nil {
			return err
		}
		return q.insertRefs(ctx, "manifest_children", "child_digest", m.RepoID, m.Digest, children)
	})
	if isFKViolation(err) {
		return false, errs.Wrap(errs.NotFound, err, "repository %d not found", m.RepoID)
	}
	if err != nil {
		return false, fmt.Errorf("put manifest %s in repository %d: %w", m.Digest, m.RepoID, err)
	}
	return created, nil
}

// insertRefs adds (repo, parent, ref) rows to a reference table with
// multi-row INSERTs.
func (q *Q) insertRefs(ctx context.Context, table, col string, repoID int64, parent oci.Digest, refs []oci.Digest) error {
	parentCol := "manifest_digest"
	if table == "manifest_children" {
		parentCol = "parent_digest"
	}
	return chunks(uniq(refs), chunkSize/3, func(part []oci.Digest) error {
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + table + ` (repo_id, ` + parentCol + `, ` + col + `) VALUES `)
		args := make([]any, 0, 3*len(part))
		for i, d := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, repoID, parent, d)
		}
		b.WriteString(" ON CONFLICT DO NOTHING")
		_, err := q.exec(ctx, b.String(), args...)
		return err
	})
}

// GetManifest returns the manifest with its content.
func (q *Q) GetManifest(ctx context.Context, repoID int64, d oci.Digest) (Manifest, error) {
	m, err := scanManifest(q.queryRow(ctx, `SELECT `+manifestCols+`, content FROM manifests
		WHERE repo_id = ? AND digest = ?`, repoID, d), true)
	if errors.Is(err, sql.ErrNoRows) {
		return Manifest{}, manifestNotFound(repoID, d)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("get manifest %s in repository %d: %w", d, repoID, err)
	}
	return m, nil
}

// ManifestExists reports, for each digest in ds, whether the repository has
// that manifest. Every digest of ds is a key of the result.
func (q *Q) ManifestExists(ctx context.Context, repoID int64, ds []oci.Digest) (map[oci.Digest]bool, error) {
	out := make(map[oci.Digest]bool, len(ds))
	for _, d := range ds {
		out[d] = false
	}
	err := chunks(uniq(ds), chunkSize, func(part []oci.Digest) error {
		args := []any{repoID}
		for _, d := range part {
			args = append(args, d)
		}
		rows, err := q.query(ctx, `SELECT digest FROM manifests WHERE repo_id = ? AND digest IN (`+
			placeholders(len(part))+`)`, args...)
		if err != nil {
			return err
		}
		found, err := scanStrings(rows)
		for _, d := range found {
			out[oci.Digest(d)] = true
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("check manifests in repository %d: %w", repoID, err)
	}
	return out, nil
}

// DeleteManifest deletes the manifest, its reference rows and every tag of
// the repository that points at it (by cascade, in one statement).
func (q *Q) DeleteManifest(ctx context.Context, repoID int64, d oci.Digest) error {
	n, err := q.execN(ctx, `DELETE FROM manifests WHERE repo_id = ? AND digest = ?`, repoID, d)
	if err != nil {
		return fmt.Errorf("delete manifest %s in repository %d: %w", d, repoID, err)
	}
	if n == 0 {
		return manifestNotFound(repoID, d)
	}
	return nil
}

// ManifestParents returns the digests of the repository's index manifests
// that list d as a child, in digest order.
func (q *Q) ManifestParents(ctx context.Context, repoID int64, d oci.Digest) ([]oci.Digest, error) {
	rows, err := q.query(ctx, `SELECT parent_digest FROM manifest_children
		WHERE repo_id = ? AND child_digest = ? ORDER BY parent_digest`, repoID, d)
	if err != nil {
		return nil, fmt.Errorf("parents of manifest %s in repository %d: %w", d, repoID, err)
	}
	ss, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("parents of manifest %s in repository %d: %w", d, repoID, err)
	}
	out := make([]oci.Digest, len(ss))
	for i, s := range ss {
		out[i] = oci.Digest(s)
	}
	return out, nil
}

// ListReferrers returns the repository's manifests whose subject is
// subject, in digest order, without their content. A non-empty
// artifactType keeps only manifests of that artifact type.
func (q *Q) ListReferrers(ctx context.Context, repoID int64, subject oci.Digest, artifactType string) ([]Manifest, error) {
	if subject == "" {
		return []Manifest{}, nil // "" means "no subject" in the table
	}
	query := `SELECT ` + manifestCols + ` FROM manifests WHERE repo_id = ? AND subject = ?`
	args := []any{repoID, subject}
	if artifactType != "" {
		query += ` AND artifact_type = ?`
		args = append(args, artifactType)
	}
	rows, err := q.query(ctx, query+` ORDER BY digest`, args...)
	if err != nil {
		return nil, fmt.Errorf("list referrers of %s in repository %d: %w", subject, repoID, err)
	}
	defer rows.Close()
	out := []Manifest{}
	for rows.Next() {
		m, err := scanManifest(rows, false)
		if err != nil {
			return nil, fmt.Errorf("list referrers of %s in repository %d: %w", subject, repoID, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list referrers of %s in repository %d: %w", subject, repoID, err)
	}
	return out, nil
}
