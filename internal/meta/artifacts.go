package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// Artifacts are manifests as Harbor's management API shows them: each
// with a stable integer id (assigned by the database when the row is
// inserted, never reused), its last pull time and a cache of its extra
// attributes. The OCI rows stay the source of truth; this file only reads
// them and keeps the few columns Harbor adds.

// Artifact is a manifest row with what Harbor's API adds to it.
type Artifact struct {
	Manifest             // Content included
	ID         int64     // stable integer id of the manifest in its repository
	PulledAt   time.Time // zero when never pulled
	ExtraAttrs []byte    // cached JSON object; nil until computed
}

// Artifact kinds, Harbor's artifact "type".
const (
	KindImage   = "IMAGE"
	KindChart   = "CHART"
	KindCNAB    = "CNAB"
	KindUnknown = "UNKNOWN"
)

// Media types that decide an artifact's kind.
const (
	MediaTypeHelmConfig = "application/vnd.cncf.helm.config.v1+json"
	MediaTypeCNAB       = "application/vnd.cnab.manifest.v1"
)

// ArtifactKind is Harbor's artifact type of a manifest row: indexes and
// image manifests are IMAGE (a CNAB bundle is an index that says so),
// Helm charts are CHART, anything else UNKNOWN. kindExpr is the same rule
// in SQL, for q=type=…; keep them in step.
func ArtifactKind(m Manifest) string {
	switch {
	case oci.IsIndexType(m.MediaType):
		if m.ArtifactType == MediaTypeCNAB || m.Annotations["org.opencontainers.artifactType"] == MediaTypeCNAB {
			return KindCNAB
		}
		return KindImage
	case m.MediaType == oci.MediaTypeDockerManifest:
		return KindImage
	case m.ArtifactType == oci.MediaTypeImageConfig || m.ArtifactType == oci.MediaTypeDockerConfig:
		return KindImage
	case m.ArtifactType == MediaTypeHelmConfig:
		return KindChart
	}
	return KindUnknown
}

// kindExpr computes ArtifactKind over the manifests alias m. The CNAB
// annotation is matched as text inside the stored JSON object.
var kindExpr = `(CASE
	WHEN m.media_type IN ('` + oci.MediaTypeImageIndex + `', '` + oci.MediaTypeDockerList + `') THEN
		CASE WHEN m.artifact_type = '` + MediaTypeCNAB + `'
			OR m.annotations LIKE '%"org.opencontainers.artifactType":"` + MediaTypeCNAB + `"%' THEN '` + KindCNAB + `'
		ELSE '` + KindImage + `' END
	WHEN m.media_type = '` + oci.MediaTypeDockerManifest + `' THEN '` + KindImage + `'
	WHEN m.artifact_type IN ('` + oci.MediaTypeImageConfig + `', '` + oci.MediaTypeDockerConfig + `') THEN '` + KindImage + `'
	WHEN m.artifact_type = '` + MediaTypeHelmConfig + `' THEN '` + KindChart + `'
	ELSE '` + KindUnknown + `' END)`

// mediaTypeExpr is what Harbor calls an artifact's media type: the
// config's media type for manifests (as far as the row knows it: the
// artifact type, which is the config's unless the manifest names
// another), the manifest's own for indexes.
var mediaTypeExpr = `(CASE
	WHEN m.media_type IN ('` + oci.MediaTypeImageIndex + `', '` + oci.MediaTypeDockerList + `') THEN m.media_type
	WHEN m.media_type = '` + oci.MediaTypeDockerManifest + `' THEN '` + oci.MediaTypeDockerConfig + `'
	ELSE m.artifact_type END)`

// rootCond keeps the artifacts that stand on their own, over the
// manifests alias m: not listed by an index of the repository, and not an
// accessory (signature, SBOM, …) of a subject the repository holds,
// whether linked by its subject field or by a cosign tag-scheme tag
// (sha256-<hex>.sig, gcmark.go). As in Harbor, listings and artifact
// counts show only these; the others appear inside their parent's
// references and accessories.
const rootCond = `NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo_id = m.repo_id AND c.child_digest = m.digest)
	AND NOT EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = m.repo_id AND s.digest = m.subject)
	AND NOT ` + schemeAccessoryM

// schemeAccessoryM (over alias m) and schemeAccessoryA (over alias a)
// hold for a manifest that a tag-scheme tag links to a subject the
// repository holds.
const (
	schemeAccessoryM = `EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest AND ` + schemeTag + `
		AND EXISTS (SELECT 1 FROM manifests s2 WHERE s2.repo_id = t.repo_id AND s2.digest = ` + schemeSubject + `))`
	schemeAccessoryA = `EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = a.repo_id AND t.digest = a.digest AND ` + schemeTag + `
		AND EXISTS (SELECT 1 FROM manifests s2 WHERE s2.repo_id = t.repo_id AND s2.digest = ` + schemeSubject + `))`
)

// rootCountSQL counts the artifacts rootCond keeps in one repository: all
// its manifests, less index children (C) and accessories whose subject is
// present (R), adding back those that are both: |all| - |C| - |R| + |C∩R|,
// and less the tag-scheme accessories of present subjects that are in
// neither (T \ (C ∪ R)).
// Each term reads an index sized by itself (the repository's entries of
// the created-at index, manifest_children, the partial subject index, its
// tags), so the count no longer probes every artifact twice.
const rootCountSQL = `SELECT
	(SELECT count(*) FROM manifests WHERE repo_id = ?)
	- (SELECT count(DISTINCT c.child_digest) FROM manifest_children c
		WHERE c.repo_id = ? AND EXISTS (SELECT 1 FROM manifests x WHERE x.repo_id = c.repo_id AND x.digest = c.child_digest))
	- (SELECT count(*) FROM manifests a
		WHERE a.repo_id = ? AND a.subject <> '' AND EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = a.repo_id AND s.digest = a.subject))
	+ (SELECT count(*) FROM manifests a
		WHERE a.repo_id = ? AND a.subject <> '' AND EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = a.repo_id AND s.digest = a.subject)
		AND EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo_id = a.repo_id AND c.child_digest = a.digest))
	- (SELECT count(*) FROM manifests a
		WHERE a.repo_id = ? AND a.digest IN (SELECT t.digest FROM tags t WHERE t.repo_id = a.repo_id AND ` + schemeTag + `)
		AND ` + schemeAccessoryA + `
		AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.repo_id = a.repo_id AND c.child_digest = a.digest)
		AND NOT (a.subject <> '' AND EXISTS (SELECT 1 FROM manifests s WHERE s.repo_id = a.repo_id AND s.digest = a.subject)))`

const artifactCols = `m.id, m.repo_id, m.digest, m.media_type, m.artifact_type, m.subject, m.size, m.annotations,
	m.created_at, m.pulled_at, m.extra_attrs, m.content`

func scanArtifact(row interface{ Scan(...any) error }) (Artifact, error) {
	var a Artifact
	var ann, extra sql.NullString
	err := row.Scan(&a.ID, &a.RepoID, &a.Digest, &a.MediaType, &a.ArtifactType, &a.Subject, &a.Size, &ann,
		timeCol{&a.CreatedAt}, timeCol{&a.PulledAt}, &extra, &a.Content)
	if err != nil {
		return Artifact{}, err
	}
	if ann.Valid && ann.String != "" {
		if err := json.Unmarshal([]byte(ann.String), &a.Annotations); err != nil {
			return Artifact{}, fmt.Errorf("manifest %s annotations: %w", a.Digest, err)
		}
	}
	if extra.Valid {
		a.ExtraAttrs = []byte(extra.String)
	}
	return a, nil
}

// neverFirst sorts a nullable time column so that NULL ("never") comes
// before every time, ascending, on both dialects: SQLite already puts
// NULL first; PostgreSQL puts it last unless told otherwise.
func neverFirst(pg bool, col string) string {
	if pg {
		return "coalesce(" + col + ", '-infinity'::timestamptz)"
	}
	return col
}

// artifactsListing is the artifact listing's whitelist for a dialect.
func artifactsListing(pg bool) *listing {
	return &listing{
		what: "artifacts",
		fields: map[string]field{
			"id":                  {col: "m.id", kind: intField},
			"digest":              {col: "m.digest"},
			"type":                {col: kindExpr},
			"media_type":          {col: mediaTypeExpr},
			"manifest_media_type": {col: "m.media_type"},
			"artifact_type":       {col: "m.artifact_type"},
			"push_time":           {col: "m.created_at", kind: timeField},
			"pull_time":           {col: "m.pulled_at", kind: timeField},
		},
		sorts: map[string]string{
			"id":        "m.id",
			"digest":    "m.digest",
			"push_time": "m.created_at",
			"pull_time": neverFirst(pg, "m.pulled_at"),
		},
		// Newest first, matching the index (repo_id, created_at, id) read
		// backwards, so page 1 of a huge repository reads one page of rows.
		order: []SortKey{{Key: "push_time", Desc: true}, {Key: "id", Desc: true}},
		id:    "m.id",
	}
}

// ListArtifacts returns a page of the repository's artifacts (see
// rootCond) matching o, and how many there are. q keys: id, digest, type
// (IMAGE, CHART, CNAB, UNKNOWN), media_type, manifest_media_type,
// artifact_type, push_time and pull_time (ranges), and Harbor's tags:
// "tags=*" tagged, "tags=nil" untagged, "tags=v" or "tags={v w}" with one
// of those tags, "tags=~v" with a tag containing v. Sort fields: id,
// digest, push_time, pull_time; the default is the newest push first.
func (q *Q) ListArtifacts(ctx context.Context, repoID int64, o ListOptions) ([]Artifact, int, error) {
	w := &where{}
	w.add("m.repo_id = ?", repoID)
	w.add(rootCond)
	rest := o.Query[:0:0]
	for _, c := range o.Query {
		if c.Key != "tags" {
			rest = append(rest, c)
			continue
		}
		if err := tagCond(c, w); err != nil {
			return nil, 0, err
		}
	}
	if len(rest) == len(o.Query) {
		// Unfiltered: count the repository's manifests from the index
		// and subtract the few that are not roots, instead of testing
		// rootCond on every row.
		w.count, w.countArgs = rootCountSQL, []any{repoID, repoID, repoID, repoID, repoID}
	}
	o.Query = rest
	out := []Artifact{}
	total, err := q.list(ctx, artifactsListing(q.pg()), o, artifactCols, "manifests m", w, func(rows *sql.Rows) error {
		a, err := scanArtifact(rows)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// tagCond adds Harbor's q "tags" condition to w.
func tagCond(c Cond, w *where) error {
	const exists = `EXISTS (SELECT 1 FROM tags t WHERE t.repo_id = m.repo_id AND t.digest = m.digest`
	bad := func(format string, args ...any) error {
		return errs.New(errs.Invalid, "", `query key "tags": `+format, args...)
	}
	switch c.Op {
	case "=":
		if len(c.Values) != 1 {
			return bad("exact match takes one value, got %d", len(c.Values))
		}
		switch v := c.Values[0]; v {
		case "*":
			w.add(exists + `)`)
		case "nil":
			w.add(`NOT ` + exists + `)`)
		default:
			w.add(exists+` AND t.name = ?)`, v)
		}
	case "in":
		if len(c.Values) == 0 {
			return bad("the list is empty")
		}
		args := make([]any, len(c.Values))
		for i, v := range c.Values {
			args[i] = v
		}
		w.add(exists+` AND t.name IN (`+placeholders(len(args))+`))`, args...)
	case "~":
		if len(c.Values) != 1 {
			return bad("fuzzy match takes one value, got %d", len(c.Values))
		}
		w.add(exists+` AND lower(t.name) LIKE ? ESCAPE '\')`, "%"+escapeLike(asciiLower(c.Values[0]))+"%")
	default:
		return bad("unsupported operator %q", c.Op)
	}
	return nil
}

// GetArtifact returns the repository's manifest d as an artifact.
func (q *Q) GetArtifact(ctx context.Context, repoID int64, d oci.Digest) (Artifact, error) {
	a, err := scanArtifact(q.queryRow(ctx, `SELECT `+artifactCols+` FROM manifests m
		WHERE m.repo_id = ? AND m.digest = ?`, repoID, d))
	if errors.Is(err, sql.ErrNoRows) {
		return Artifact{}, manifestNotFound(repoID, d)
	}
	if err != nil {
		return Artifact{}, fmt.Errorf("get artifact %s in repository %d: %w", d, repoID, err)
	}
	return a, nil
}

// ArtifactsByDigest returns those of ds that the repository holds, by
// digest.
func (q *Q) ArtifactsByDigest(ctx context.Context, repoID int64, ds []oci.Digest) (map[oci.Digest]Artifact, error) {
	out := make(map[oci.Digest]Artifact, len(ds))
	err := q.selectIn(ctx, `SELECT `+artifactCols+` FROM manifests m WHERE m.repo_id = ? AND m.digest IN (%s)`,
		repoID, ds, func(rows *sql.Rows) error {
			a, err := scanArtifact(rows)
			out[a.Digest] = a
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("artifacts of repository %d: %w", repoID, err)
	}
	return out, nil
}

// ReferrersOf returns, for each digest of subjects, the repository's
// manifests whose subject it is (its accessories), in digest order.
func (q *Q) ReferrersOf(ctx context.Context, repoID int64, subjects []oci.Digest) (map[oci.Digest][]Artifact, error) {
	out := map[oci.Digest][]Artifact{}
	err := q.selectIn(ctx, `SELECT `+artifactCols+` FROM manifests m
		WHERE m.repo_id = ? AND m.subject <> '' AND m.subject IN (%s) ORDER BY m.subject, m.digest`,
		repoID, subjects, func(rows *sql.Rows) error {
			a, err := scanArtifact(rows)
			out[a.Subject] = append(out[a.Subject], a)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("referrers in repository %d: %w", repoID, err)
	}
	return out, nil
}

// ChildrenOf returns, for each index of parents, the digests of the
// manifests it lists, in digest order.
func (q *Q) ChildrenOf(ctx context.Context, repoID int64, parents []oci.Digest) (map[oci.Digest][]oci.Digest, error) {
	out := map[oci.Digest][]oci.Digest{}
	err := q.selectIn(ctx, `SELECT parent_digest, child_digest FROM manifest_children
		WHERE repo_id = ? AND parent_digest IN (%s) ORDER BY parent_digest, child_digest`,
		repoID, parents, func(rows *sql.Rows) error {
			var p, c oci.Digest
			err := rows.Scan(&p, &c)
			out[p] = append(out[p], c)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("children in repository %d: %w", repoID, err)
	}
	return out, nil
}

// BlobSizes returns, for each manifest of ds, the total size of the
// distinct blobs it references (config and layers; not the manifest
// itself, nor an index's children). Manifests without blobs are absent.
func (q *Q) BlobSizes(ctx context.Context, repoID int64, ds []oci.Digest) (map[oci.Digest]int64, error) {
	out := map[oci.Digest]int64{}
	err := q.selectIn(ctx, `SELECT mb.manifest_digest, sum(b.size) FROM manifest_blobs mb
		JOIN blobs b ON b.digest = mb.blob_digest
		WHERE mb.repo_id = ? AND mb.manifest_digest IN (%s) GROUP BY mb.manifest_digest`,
		repoID, ds, func(rows *sql.Rows) error {
			var d oci.Digest
			var n int64
			err := rows.Scan(&d, &n)
			out[d] = n
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("blob sizes in repository %d: %w", repoID, err)
	}
	return out, nil
}

// selectIn runs query, whose "%s" is replaced by placeholders for a chunk
// of ds, chunk by chunk, with repoID as the first argument, and hands
// every row to scan.
func (q *Q) selectIn(ctx context.Context, query string, repoID int64, ds []oci.Digest, scan func(*sql.Rows) error) error {
	return chunks(uniq(ds), chunkSize, func(part []oci.Digest) error {
		args := make([]any, 0, len(part)+1)
		args = append(args, repoID)
		for _, d := range part {
			args = append(args, d)
		}
		rows, err := q.query(ctx, strings.Replace(query, "%s", placeholders(len(part)), 1), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// SetExtraAttrs caches the artifact's extra attributes (a JSON object).
// They are derived from the config blob, which a digest fixes, so a
// cached value never goes stale.
func (q *Q) SetExtraAttrs(ctx context.Context, repoID int64, d oci.Digest, attrs []byte) error {
	if _, err := q.exec(ctx, `UPDATE manifests SET extra_attrs = ? WHERE repo_id = ? AND digest = ?`,
		string(attrs), repoID, d); err != nil {
		return fmt.Errorf("cache extra attributes of %s in repository %d: %w", d, repoID, err)
	}
	return nil
}

// RecordPull counts a pull of manifest d of the repository, made by tag
// when tag is not empty: the repository's pull count goes up by one and
// the artifact's (and the tag's) pull time becomes t. One transaction,
// so one commit, per pull.
func (q *Q) RecordPull(ctx context.Context, repoID int64, d oci.Digest, tag string, t time.Time) error {
	err := q.atomic(ctx, func(q *Q) error {
		if _, err := q.exec(ctx, `UPDATE repositories SET pull_count = pull_count + 1 WHERE id = ?`, repoID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE manifests SET pulled_at = ? WHERE repo_id = ? AND digest = ?`,
			q.ts(t), repoID, d); err != nil {
			return err
		}
		if tag == "" {
			return nil
		}
		_, err := q.exec(ctx, `UPDATE tags SET pulled_at = ? WHERE repo_id = ? AND name = ? AND digest = ?`,
			q.ts(t), repoID, tag, d)
		return err
	})
	if err != nil {
		return fmt.Errorf("record pull of %s in repository %d: %w", d, repoID, err)
	}
	return nil
}
