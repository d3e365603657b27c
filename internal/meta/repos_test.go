package meta

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func TestRepos(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()

		_, err := q.GetRepo(ctx, "library/alpine")
		wantKind(t, err, errs.NotFound)
		_, err = q.EnsureRepo(ctx, "")
		wantKind(t, err, errs.Invalid)

		before := time.Now().UTC().Add(-time.Second)
		r1 := must1[Repo](t)(q.EnsureRepo(ctx, "library/alpine"))
		r2 := must1[Repo](t)(q.EnsureRepo(ctx, "library/alpine"))
		diff(t, "second EnsureRepo", r1, r2)
		got := must1[Repo](t)(q.GetRepo(ctx, "library/alpine"))
		diff(t, "GetRepo", r1, got)
		if r1.ID == 0 || r1.Name != "library/alpine" || r1.CreatedAt.Location() != time.UTC ||
			r1.CreatedAt.Before(before) || r1.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("EnsureRepo = %+v, want an id, the name and a current UTC time", r1)
		}
		other := must1[Repo](t)(q.EnsureRepo(ctx, "library/busybox"))
		if other.ID == r1.ID {
			t.Errorf("two repositories share id %d", r1.ID)
		}
		if n := count(t, db, `SELECT count(*) FROM repositories`); n != 2 {
			t.Errorf("%d repository rows, want 2", n)
		}
	})
}

func TestEnsureRepoConcurrent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		const n = 8
		ids := make([]int64, n)
		errc := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				var r Repo
				if i%2 == 0 { // half inside transactions, half not
					r, errc[i] = db.Q().EnsureRepo(ctx, "race/repo")
				} else {
					errc[i] = db.Tx(ctx, func(q *Q) (err error) {
						r, err = q.EnsureRepo(ctx, "race/repo")
						return err
					})
				}
				ids[i] = r.ID
			})
		}
		close(start)
		wg.Wait()
		for i := range n {
			must(t, errc[i])
			if ids[i] != ids[0] || ids[i] == 0 {
				t.Fatalf("ids %v, want all equal and non-zero", ids)
			}
		}
		if c := count(t, db, `SELECT count(*) FROM repositories WHERE name = ?`, "race/repo"); c != 1 {
			t.Errorf("%d rows for race/repo, want 1", c)
		}
	})
}

func TestListRepos(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		// Inserted out of order; byte order is "a" < "a-b" < "a/b" < "a0" < "b".
		for _, name := range []string{"b", "a/b", "a0", "a", "a-b"} {
			must1[Repo](t)(q.EnsureRepo(ctx, name))
		}
		for _, tc := range []struct {
			last string
			n    int
			want []string
		}{
			{"", 0, []string{"a", "a-b", "a/b", "a0", "b"}},
			{"", -1, []string{"a", "a-b", "a/b", "a0", "b"}},
			{"", 2, []string{"a", "a-b"}},
			{"a-b", 2, []string{"a/b", "a0"}},
			{"a0", 2, []string{"b"}},
			{"a", 0, []string{"a-b", "a/b", "a0", "b"}},
			{"a.", 1, []string{"a/b"}}, // last need not exist
			{"b", 5, nil},
			{"zzz", 0, nil},
		} {
			got := must1[[]string](t)(q.ListRepos(ctx, tc.last, tc.n))
			diff(t, "ListRepos("+tc.last+")", tc.want, got)
		}
	})
}

func TestDeleteRepo(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		gone := must1[Repo](t)(q.EnsureRepo(ctx, "gone"))
		kept := must1[Repo](t)(q.EnsureRepo(ctx, "kept"))
		for _, r := range []Repo{gone, kept} {
			fillRepo(t, db, r.ID)
		}
		must(t, q.DeleteRepo(ctx, gone.ID))
		wantKind(t, q.DeleteRepo(ctx, gone.ID), errs.NotFound)
		_, err := q.GetRepo(ctx, "gone")
		wantKind(t, err, errs.NotFound)

		for _, table := range []string{"repo_blobs", "manifests", "manifest_blobs", "manifest_children", "tags", "uploads"} {
			diff(t, table+" rows of deleted repo", 0, count(t, db, `SELECT count(*) FROM `+table+` WHERE repo_id = ?`, gone.ID))
			if n := count(t, db, `SELECT count(*) FROM `+table+` WHERE repo_id = ?`, kept.ID); n == 0 {
				t.Errorf("%s rows of the other repository were deleted", table)
			}
		}
		diff(t, "global blob rows", 2, count(t, db, `SELECT count(*) FROM blobs`))
	})
}

// fillRepo gives a repository a row in every repository-scoped table.
func fillRepo(t *testing.T, db *DB, repoID int64) {
	t.Helper()
	ctx := context.Background()
	q := db.Q()
	layer, child, index := dg("layer"), dg("child"), dg("index")
	must1[bool](t)(q.InsertBlob(ctx, Blob{Digest: layer, Size: 5}))
	must1[bool](t)(q.InsertBlob(ctx, Blob{Digest: dg("config"), Size: 2}))
	must(t, q.LinkBlob(ctx, repoID, layer))
	must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repoID, Digest: child, MediaType: "m", Size: 2, Content: []byte("{}")},
		[]oci.Digest{layer, dg("config")}, nil))
	must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repoID, Digest: index, MediaType: "i", Size: 2, Content: []byte("[]")},
		nil, []oci.Digest{child}))
	must(t, q.PutTag(ctx, repoID, "latest", index))
	must(t, q.CreateUpload(ctx, Upload{ID: fmt.Sprintf("up-%d", repoID), RepoID: repoID, Algorithm: oci.SHA256}))
}
