package meta

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func TestUploads(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))

		_, err := q.GetUpload(ctx, "u1")
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.AdvanceUpload(ctx, "u1", 0, 10, nil), errs.NotFound)
		wantKind(t, q.DeleteUpload(ctx, "u1"), errs.NotFound)
		wantKind(t, q.CreateUpload(ctx, Upload{ID: "u0", RepoID: 999999, Algorithm: oci.SHA256}), errs.NotFound)

		u := Upload{ID: "u1", RepoID: r.ID, Algorithm: oci.SHA256, CreatedAt: at(1), UpdatedAt: at(2)}
		must(t, q.CreateUpload(ctx, u))
		wantKind(t, q.CreateUpload(ctx, u), errs.Conflict)
		want := u
		want.CreatedAt, want.UpdatedAt = at(1).Truncate(time.Microsecond), at(2).Truncate(time.Microsecond)
		diff(t, "GetUpload", want, must1[Upload](t)(q.GetUpload(ctx, "u1")))

		state := []byte{0, 1, 2, 0xff}
		must(t, q.AdvanceUpload(ctx, "u1", 0, 100, state))
		got := must1[Upload](t)(q.GetUpload(ctx, "u1"))
		if !got.UpdatedAt.After(want.UpdatedAt) {
			t.Errorf("UpdatedAt = %v, want it moved past %v", got.UpdatedAt, want.UpdatedAt)
		}
		want.Offset, want.HashState, want.UpdatedAt = 100, state, got.UpdatedAt
		diff(t, "GetUpload after advance", want, got)

		// A writer that read offset 0 lost the race and changes nothing.
		wantKind(t, q.AdvanceUpload(ctx, "u1", 0, 50, []byte("stale")), errs.Conflict)
		diff(t, "GetUpload after conflict", want, must1[Upload](t)(q.GetUpload(ctx, "u1")))

		must(t, q.DeleteUpload(ctx, "u1"))
		_, err = q.GetUpload(ctx, "u1")
		wantKind(t, err, errs.NotFound)
		diff(t, "upload rows", 0, count(t, db, `SELECT count(*) FROM uploads`))
	})
}

func TestAdvanceUploadRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		r := must1[Repo](t)(db.Q().EnsureRepo(ctx, "app"))
		must(t, db.Q().CreateUpload(ctx, Upload{ID: "u", RepoID: r.ID, Algorithm: oci.SHA256}))
		const n = 8
		results := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i] = db.Q().AdvanceUpload(ctx, "u", 0, int64(10+i), []byte{byte(i)}) })
		}
		wg.Wait()
		winner := -1
		for i, err := range results {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("writers %d and %d both advanced the upload", winner, i)
			case err == nil:
				winner = i
			default:
				wantKind(t, err, errs.Conflict)
			}
		}
		if winner < 0 {
			t.Fatal("no writer advanced the upload")
		}
		got := must1[Upload](t)(db.Q().GetUpload(ctx, "u"))
		diff(t, "offset and state", []any{int64(10 + winner), []byte{byte(winner)}}, []any{got.Offset, got.HashState})
	})
}

func TestListUploadsBefore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))
		for i, id := range []string{"c", "a", "d", "b"} {
			// updated at at(10), at(20), at(30), at(40)
			must(t, q.CreateUpload(ctx, Upload{ID: id, RepoID: r.ID, Algorithm: oci.SHA512, CreatedAt: at(0), UpdatedAt: at(10 * (i + 1))}))
		}
		ids := func(us []Upload) []string {
			out := []string{}
			for _, u := range us {
				out = append(out, u.ID)
			}
			return out
		}
		for _, tc := range []struct {
			before time.Time
			n      int
			want   []string
		}{
			{at(0), 0, []string{}},
			{at(10), 0, []string{}}, // strictly before
			{at(11), 0, []string{"c"}},
			{at(35), 0, []string{"c", "a", "d"}},
			{at(59), 2, []string{"c", "a"}},
			{at(59), -1, []string{"c", "a", "d", "b"}},
		} {
			got := must1[[]Upload](t)(q.ListUploadsBefore(ctx, tc.before, tc.n))
			diff(t, "ListUploadsBefore("+tc.before.Format(time.TimeOnly)+")", tc.want, ids(got))
		}
		got := must1[[]Upload](t)(q.ListUploadsBefore(ctx, at(11), 0))
		diff(t, "swept row", []Upload{{ID: "c", RepoID: r.ID, Algorithm: oci.SHA512,
			CreatedAt: at(0).Truncate(time.Microsecond), UpdatedAt: at(10).Truncate(time.Microsecond)}}, got)
	})
}
