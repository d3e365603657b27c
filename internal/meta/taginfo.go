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

// Tags as Harbor's API shows them: with their stable id, the id of the
// artifact they name, and push and pull times.

// TagInfo is a tag row with its artifact's id.
type TagInfo struct {
	ID         int64
	RepoID     int64
	ArtifactID int64
	Name       string
	Digest     oci.Digest
	PushedAt   time.Time // when the tag last moved to its artifact
	PulledAt   time.Time // zero when never pulled by this tag
}

const tagInfoCols = `t.id, t.repo_id, m.id, t.name, t.digest, t.updated_at, t.pulled_at`

const tagInfoFrom = `tags t JOIN manifests m ON m.repo_id = t.repo_id AND m.digest = t.digest`

func scanTagInfo(row interface{ Scan(...any) error }) (TagInfo, error) {
	var t TagInfo
	err := row.Scan(&t.ID, &t.RepoID, &t.ArtifactID, &t.Name, &t.Digest, timeCol{&t.PushedAt}, timeCol{&t.PulledAt})
	return t, err
}

func tagsListing(pg bool) *listing {
	return &listing{
		what: "tags",
		fields: map[string]field{
			"id":        {col: "t.id", kind: intField},
			"name":      {col: "t.name"},
			"push_time": {col: "t.updated_at", kind: timeField},
			"pull_time": {col: "t.pulled_at", kind: timeField},
		},
		sorts: map[string]string{
			"id":        "t.id",
			"name":      "t.name",
			"push_time": "t.updated_at",
			"pull_time": neverFirst(pg, "t.pulled_at"),
		},
		order: []SortKey{{Key: "name"}},
		id:    "t.id",
	}
}

// ListTagInfos returns a page of the tags of the repository that point
// at d, matching o, and how many there are. q keys: id, name, push_time,
// pull_time. Sort fields: id, name, push_time, pull_time; the default is
// name.
func (q *Q) ListTagInfos(ctx context.Context, repoID int64, d oci.Digest, o ListOptions) ([]TagInfo, int, error) {
	w := &where{}
	w.add("t.repo_id = ? AND t.digest = ?", repoID, d)
	out := []TagInfo{}
	total, err := q.list(ctx, tagsListing(q.pg()), o, tagInfoCols, tagInfoFrom, w, func(rows *sql.Rows) error {
		t, err := scanTagInfo(rows)
		out = append(out, t)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// TagsOf returns, for each digest of ds, the repository's tags that point
// at it, by name.
func (q *Q) TagsOf(ctx context.Context, repoID int64, ds []oci.Digest) (map[oci.Digest][]TagInfo, error) {
	out := map[oci.Digest][]TagInfo{}
	err := q.selectIn(ctx, `SELECT `+tagInfoCols+` FROM `+tagInfoFrom+`
		WHERE t.repo_id = ? AND t.digest IN (%s) ORDER BY t.digest, t.name`,
		repoID, ds, func(rows *sql.Rows) error {
			t, err := scanTagInfo(rows)
			out[t.Digest] = append(out[t.Digest], t)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("tags in repository %d: %w", repoID, err)
	}
	return out, nil
}

// GetTagInfo returns the tag called name.
func (q *Q) GetTagInfo(ctx context.Context, repoID int64, name string) (TagInfo, error) {
	t, err := scanTagInfo(q.queryRow(ctx, `SELECT `+tagInfoCols+` FROM `+tagInfoFrom+`
		WHERE t.repo_id = ? AND t.name = ?`, repoID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return TagInfo{}, errs.New(errs.NotFound, "", "tag %s not found in repository %d", name, repoID)
	}
	if err != nil {
		return TagInfo{}, fmt.Errorf("get tag %s in repository %d: %w", name, repoID, err)
	}
	return t, nil
}

// CreateTag adds the tag pointing at manifest d. Unlike PutTag it never
// moves an existing tag: Conflict if the name is taken (on d or on another
// manifest), NotFound if the repository has no manifest d.
func (q *Q) CreateTag(ctx context.Context, repoID int64, name string, d oci.Digest) error {
	n, err := q.execN(ctx, `INSERT INTO tags (repo_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (repo_id, name) DO NOTHING`, repoID, name, d, q.ts(now()))
	if isFKViolation(err) {
		return errs.Wrap(errs.NotFound, err, "manifest %s not found in repository %d", d, repoID)
	}
	if err != nil {
		return fmt.Errorf("create tag %s in repository %d: %w", name, repoID, err)
	}
	if n == 0 {
		return errs.New(errs.Conflict, "", "tag %s already exists in repository %d", name, repoID)
	}
	return nil
}

// DeleteTagOf deletes the tag called name if it points at d; NotFound
// otherwise. The manifest stays, untagged if that was its last tag.
func (q *Q) DeleteTagOf(ctx context.Context, repoID int64, name string, d oci.Digest) error {
	n, err := q.execN(ctx, `DELETE FROM tags WHERE repo_id = ? AND name = ? AND digest = ?`, repoID, name, d)
	if err != nil {
		return fmt.Errorf("delete tag %s in repository %d: %w", name, repoID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "tag %s not found on %s in repository %d", name, d, repoID)
	}
	return nil
}
