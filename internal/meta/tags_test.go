package meta

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func TestTags(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))
		other := must1[Repo](t)(q.EnsureRepo(ctx, "other"))
		v1, v2 := dg("v1"), dg("v2")
		for _, d := range []oci.Digest{v1, v2} {
			must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: r.ID, Digest: d, MediaType: "m", Content: []byte(d)}, nil, nil))
		}

		_, err := q.GetTag(ctx, r.ID, "latest")
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.DeleteTag(ctx, r.ID, "latest"), errs.NotFound)
		// A tag must name a manifest of its own repository.
		wantKind(t, q.PutTag(ctx, r.ID, "latest", dg("missing")), errs.NotFound)
		wantKind(t, q.PutTag(ctx, other.ID, "latest", v1), errs.NotFound)

		before := time.Now().UTC().Add(-time.Second)
		must(t, q.PutTag(ctx, r.ID, "latest", v1))
		got := must1[Tag](t)(q.GetTag(ctx, r.ID, "latest"))
		if got.UpdatedAt.Before(before) || got.UpdatedAt.Location() != time.UTC {
			t.Errorf("UpdatedAt = %v, want a current UTC time", got.UpdatedAt)
		}
		diff(t, "GetTag", Tag{RepoID: r.ID, Name: "latest", Digest: v1, UpdatedAt: got.UpdatedAt}, got)

		// Moving the tag replaces the row.
		must(t, q.PutTag(ctx, r.ID, "latest", v2))
		moved := must1[Tag](t)(q.GetTag(ctx, r.ID, "latest"))
		diff(t, "moved tag digest", v2, moved.Digest)
		if moved.UpdatedAt.Before(got.UpdatedAt) {
			t.Errorf("UpdatedAt went back from %v to %v", got.UpdatedAt, moved.UpdatedAt)
		}
		diff(t, "tag rows", 1, count(t, db, `SELECT count(*) FROM tags`))
		diff(t, "TagsFor(v1)", []string{}, must1[[]string](t)(q.TagsFor(ctx, r.ID, v1)))

		must(t, q.PutTag(ctx, r.ID, "stable", v2))
		must(t, q.PutTag(ctx, r.ID, "old", v1))
		diff(t, "TagsFor(v2)", []string{"latest", "stable"}, must1[[]string](t)(q.TagsFor(ctx, r.ID, v2)))
		diff(t, "TagsFor(v2) in other repo", []string{}, must1[[]string](t)(q.TagsFor(ctx, other.ID, v2)))

		must(t, q.DeleteTag(ctx, r.ID, "stable"))
		_, err = q.GetTag(ctx, r.ID, "stable")
		wantKind(t, err, errs.NotFound)
		// The manifest stays.
		must1[Manifest](t)(q.GetManifest(ctx, r.ID, v2))
		diff(t, "tags after delete", []string{"latest", "old"}, must1[[]string](t)(q.ListTags(ctx, r.ID, "", 0)))
	})
}

func TestListTags(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))
		other := must1[Repo](t)(q.EnsureRepo(ctx, "other"))
		d := dg("m")
		for _, repo := range []int64{r.ID, other.ID} {
			must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repo, Digest: d, MediaType: "m", Content: []byte("m")}, nil, nil))
		}
		must(t, q.PutTag(ctx, other.ID, "only-in-other", d))
		// Byte order: uppercase before lowercase, '-' < '.' < digits < '_'.
		all := []string{"1.0", "Latest", "Z", "_x", "a", "a-b", "a.b", "a0", "a_b", "b"}
		for _, name := range []string{"b", "a_b", "Z", "a", "1.0", "a.b", "_x", "a0", "Latest", "a-b"} {
			must(t, q.PutTag(ctx, r.ID, name, d))
		}
		for _, tc := range []struct {
			last string
			n    int
			want []string
		}{
			{"", 0, all},
			{"", -5, all},
			{"", 3, all[:3]},
			{"Z", 3, all[3:6]},
			{"a", 2, []string{"a-b", "a.b"}},
			{"a0", 0, []string{"a_b", "b"}},
			{"Y", 1, []string{"Z"}}, // last need not exist
			{"b", 0, nil},
		} {
			got := must1[[]string](t)(q.ListTags(ctx, r.ID, tc.last, tc.n))
			diff(t, "ListTags("+tc.last+")", tc.want, got)
		}
		diff(t, "ListTags of empty repo", []string{},
			must1[[]string](t)(q.ListTags(ctx, must1[Repo](t)(q.EnsureRepo(ctx, "empty")).ID, "", 0)))
	})
}
