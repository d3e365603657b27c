package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// Queries for garbage collection (internal/gc). The Each… readers feed
// GC's plan; they are plain reads, each statement on its own, and may be
// stale by the time GC acts. What makes deleting safe is the second kind:
// GC locks the row it is about to change (Lock…), and then, in a new
// statement, re-checks that it may (…Collectible, …Removable). On
// PostgreSQL's READ COMMITTED a statement that waited for a lock sees the
// locked row as its holder left it, but its subqueries still read the
// snapshot taken before the wait; a statement issued after the lock is
// granted takes a fresh snapshot and sees every reference committed by
// then (DESIGN.md, GC protocol).

// GCManifest is what GC's plan needs of a manifest.
type GCManifest struct {
	RepoID  int64
	Digest  oci.Digest
	Subject oci.Digest
	// Tagged is true when a tag other than one of cosign's tag scheme
	// (sha256-<hex>.sig, .att, .sbom) names it. TagSubject is the subject
	// such a scheme tag names: an accessory linked only by its tag, which
	// goes with its subject as a referrer does.
	Tagged     bool
	TagSubject oci.Digest
	CreatedAt  time.Time
}

// schemeTag matches, over the tags alias t, a tag of cosign's tag scheme
// (sha256-<hex>.sig, .att, .sbom); schemeSubject is the subject digest
// it names. Both dialects read them alike.
const (
	schemeTag = `(t.name LIKE 'sha256-%.sig' OR t.name LIKE 'sha256-%.att' OR t.name LIKE 'sha256-%.sbom')
		AND length(t.name) IN (75, 76)`
	schemeSubject = `('sha256:' || substr(t.name, 8, 64))`
)

// GCEdge is an index's listing of a child manifest in one repository.
type GCEdge struct {
	RepoID int64
	Parent oci.Digest
	Child  oci.Digest
}

// GCLink is a repository's link to a blob with the blob's last use; a
// zero LastSeen means the blob has no row.
type GCLink struct {
	RepoID    int64
	Digest    oci.Digest
	CreatedAt time.Time
	LastSeen  time.Time
}

// EachGCManifest calls fn for every manifest of every repository.
func (q *Q) EachGCManifest(ctx context.Context, fn func(GCManifest) error) error {
	rows, err := q.query(ctx, `SELECT m.repo_id, m.digest, m.subject, m.created_at,
		EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND NOT (`+schemeTag+`)),
		coalesce((SELECT min(`+schemeSubject+`) FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND `+schemeTag+`), '')
		FROM manifests m`)
	if err != nil {
		return fmt.Errorf("read manifests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m GCManifest
		if err := rows.Scan(&m.RepoID, &m.Digest, &m.Subject, timeCol{&m.CreatedAt}, &m.Tagged, &m.TagSubject); err != nil {
			return fmt.Errorf("read manifests: %w", err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachGCEdge calls fn for every index-to-child reference.
func (q *Q) EachGCEdge(ctx context.Context, fn func(GCEdge) error) error {
	rows, err := q.query(ctx, `SELECT repo_id, parent_digest, child_digest FROM manifest_children`)
	if err != nil {
		return fmt.Errorf("read manifest children: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e GCEdge
		if err := rows.Scan(&e.RepoID, &e.Parent, &e.Child); err != nil {
			return fmt.Errorf("read manifest children: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachGCBlobRef calls fn for every manifest-to-blob reference.
func (q *Q) EachGCBlobRef(ctx context.Context, fn func(repoID int64, manifest, blob oci.Digest) error) error {
	rows, err := q.query(ctx, `SELECT repo_id, manifest_digest, blob_digest FROM manifest_blobs`)
	if err != nil {
		return fmt.Errorf("read manifest blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var repo int64
		var m, b oci.Digest
		if err := rows.Scan(&repo, &m, &b); err != nil {
			return fmt.Errorf("read manifest blobs: %w", err)
		}
		if err := fn(repo, m, b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachGCLink calls fn for every repository-to-blob link.
func (q *Q) EachGCLink(ctx context.Context, fn func(GCLink) error) error {
	rows, err := q.query(ctx, `SELECT l.repo_id, l.digest, l.created_at, b.last_seen
		FROM repo_blobs l LEFT JOIN blobs b ON b.digest = l.digest`)
	if err != nil {
		return fmt.Errorf("read blob links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l GCLink
		if err := rows.Scan(&l.RepoID, &l.Digest, timeCol{&l.CreatedAt}, timeCol{&l.LastSeen}); err != nil {
			return fmt.Errorf("read blob links: %w", err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachBlob calls fn for every blob row.
func (q *Q) EachBlob(ctx context.Context, fn func(Blob) error) error {
	rows, err := q.query(ctx, `SELECT `+blobCols+` FROM blobs`)
	if err != nil {
		return fmt.Errorf("read blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBlob(rows)
		if err != nil {
			return fmt.Errorf("read blobs: %w", err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LockManifest holds the manifest's row until the transaction ends
// (PostgreSQL FOR UPDATE, which also waits for transactions that are
// tagging it or listing it in an index; SQLite's transaction owns the
// write lock already). It reports whether the manifest exists.
func (q *Q) LockManifest(ctx context.Context, repoID int64, d oci.Digest) (bool, error) {
	lock := ""
	if q.pg() {
		lock = " FOR UPDATE"
	}
	var one int
	err := q.queryRow(ctx, `SELECT 1 FROM manifests WHERE repo_id = ? AND digest = ?`+lock, repoID, d).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock manifest %s in repository %d: %w", d, repoID, err)
	}
	return true, nil
}

// LockManifestsShared reports which of ds the repository has and, inside
// a transaction, keeps those rows from being deleted until it ends
// (PostgreSQL FOR SHARE, in digest order). An index push uses it for the
// children it lists, so that GC cannot delete a child underneath it.
func (q *Q) LockManifestsShared(ctx context.Context, repoID int64, ds []oci.Digest) (map[oci.Digest]bool, error) {
	lock := ""
	if q.pg() {
		lock = " FOR SHARE"
	}
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
			placeholders(len(part))+`) ORDER BY digest`+lock, args...)
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
		return nil, fmt.Errorf("lock manifests in repository %d: %w", repoID, err)
	}
	return out, nil
}

// ManifestCollectible reports whether GC may delete the manifest now: it
// was created before cutoff, has no tag, no index of its repository lists
// it (tags of cosign's tag scheme aside), and either it is a referrer
// whose subject is not in the repository (an orphan), or an accessory
// linked by a scheme tag whose subject is not there, or untagged is set
// and it has no subject and no tag at all. Call it after
// LockManifest, as its own statement.
func (q *Q) ManifestCollectible(ctx context.Context, repoID int64, d oci.Digest, cutoff time.Time, untagged bool) (bool, error) {
	var ok bool
	err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = ? AND m.digest = ?
		AND m.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND NOT (`+schemeTag+`))
		AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo_id = m.repo_id AND c.child_digest = m.digest)
		AND ((m.subject <> '' AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = m.repo_id AND s.digest = m.subject))
			OR (m.subject = '' AND EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND `+schemeTag+`
				AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = m.repo_id AND s.digest = `+schemeSubject+`)))
			OR (? AND m.subject = '' AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest))))`,
		repoID, d, q.ts(cutoff), untagged).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check manifest %s in repository %d: %w", d, repoID, err)
	}
	return ok, nil
}

// RemoveLinkIfUnused deletes the repository's link to blob d if no
// manifest of the repository references d and neither the link nor the
// blob's last use is newer than cutoff. Call it after LockBlob, as its
// own statement; it reports whether the link went.
func (q *Q) RemoveLinkIfUnused(ctx context.Context, repoID int64, d oci.Digest, cutoff time.Time) (bool, error) {
	n, err := q.execN(ctx, `DELETE FROM repo_blobs WHERE repo_id = ? AND digest = ? AND created_at < ?
		AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.repo_id = repo_blobs.repo_id AND mb.blob_digest = repo_blobs.digest)
		AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = repo_blobs.digest AND b.last_seen >= ?)`,
		repoID, d, q.ts(cutoff), q.ts(cutoff))
	if err != nil {
		return false, fmt.Errorf("remove link of blob %s from repository %d: %w", d, repoID, err)
	}
	return n > 0, nil
}

// BlobCollectible reports whether GC may delete blob d now: its row is
// live, it was last used before cutoff, no repository links it and no
// manifest references it. Call it after LockBlob, as its own statement.
func (q *Q) BlobCollectible(ctx context.Context, d oci.Digest, cutoff time.Time) (bool, error) {
	var ok bool
	err := q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = ? AND b.state = 'live'
		AND b.last_seen < ?
		AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest)
		AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.blob_digest = b.digest))`,
		d, q.ts(cutoff)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check blob %s: %w", d, err)
	}
	return ok, nil
}

// DeleteDeletingBlob deletes blob d's row if it is in state deleting, the
// last step of collecting it, and reports whether it did.
func (q *Q) DeleteDeletingBlob(ctx context.Context, d oci.Digest) (bool, error) {
	n, err := q.execN(ctx, `DELETE FROM blobs WHERE digest = ? AND state = 'deleting'`, d)
	if err != nil {
		return false, fmt.Errorf("delete blob row %s: %w", d, err)
	}
	return n > 0, nil
}

// WaitOlderTransactions waits until every PostgreSQL transaction of this
// database that began before the call has ended, polling every interval,
// and reports false if some were still open at the deadline. On SQLite
// it returns true at once: there a transaction holds the write lock from
// its start, so one that GC could wait for cannot be open beside GC's.
//
// GC uses it after claiming bytes that have no row (a crash left them, or
// an upload is committing them right now): an upload commit that had put
// the bytes in place before the claim holds no lock GC could wait on, but
// it is a transaction that began earlier.
//
// All nodes must connect as the same role (or one allowed to read
// pg_stat_activity of others): a transaction GC cannot see is not waited
// for.
func (db *DB) WaitOlderTransactions(ctx context.Context, timeout, interval time.Duration) (bool, error) {
	if db.dialect != Postgres {
		return true, nil
	}
	var since time.Time
	if err := db.w.QueryRowContext(ctx, `SELECT clock_timestamp()`).Scan(&since); err != nil {
		return false, fmt.Errorf("read database clock: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		var n int
		err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			AND xact_start IS NOT NULL AND xact_start < $1`, since).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("list open transactions: %w", err)
		}
		if n == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}
