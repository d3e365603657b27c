package meta

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func TestBlobs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		d := dg("blob")

		_, err := q.GetBlob(ctx, d)
		wantKind(t, err, errs.NotFound)
		wantKind(t, q.TouchBlob(ctx, d, at(0)), errs.NotFound)
		wantKind(t, q.SetBlobState(ctx, d, BlobDeleting), errs.NotFound)
		wantKind(t, q.DeleteBlob(ctx, d), errs.NotFound)

		b := Blob{Digest: d, Size: 42, State: BlobLive, LastSeen: at(1), CreatedAt: at(0)}
		diff(t, "first InsertBlob", true, must1[bool](t)(q.InsertBlob(ctx, b)))
		// A second insert, even with other values, changes nothing.
		diff(t, "second InsertBlob", false, must1[bool](t)(q.InsertBlob(ctx, Blob{Digest: d, Size: 7, State: BlobDeleting})))
		want := Blob{Digest: d, Size: 42, State: BlobLive, LastSeen: at(1).Truncate(time.Microsecond), CreatedAt: at(0).Truncate(time.Microsecond)}
		diff(t, "GetBlob", want, must1[Blob](t)(q.GetBlob(ctx, d)))

		must(t, q.TouchBlob(ctx, d, at(9)))
		must(t, q.SetBlobState(ctx, d, BlobDeleting))
		want.LastSeen, want.State = at(9).Truncate(time.Microsecond), BlobDeleting
		diff(t, "GetBlob after touch and state", want, must1[Blob](t)(q.GetBlob(ctx, d)))
		wantKind(t, q.SetBlobState(ctx, d, "gone"), errs.Invalid)
		_, err = q.InsertBlob(ctx, Blob{Digest: dg("bad"), State: "bogus"})
		wantKind(t, err, errs.Invalid)

		// Defaults: state live, times now.
		d2 := dg("defaults")
		must1[bool](t)(q.InsertBlob(ctx, Blob{Digest: d2, Size: 1}))
		b2 := must1[Blob](t)(q.GetBlob(ctx, d2))
		if b2.State != BlobLive || b2.LastSeen.IsZero() || b2.CreatedAt.IsZero() {
			t.Errorf("defaults: %+v, want live with times set", b2)
		}

		var locked Blob
		must(t, db.Tx(ctx, func(q *Q) (err error) {
			locked, err = q.LockBlob(ctx, d)
			return err
		}))
		diff(t, "LockBlob", want, locked)
		err = db.Tx(ctx, func(q *Q) error { _, err := q.LockBlob(ctx, dg("nope")); return err })
		wantKind(t, err, errs.NotFound)

		var shared map[oci.Digest]Blob
		must(t, db.Tx(ctx, func(q *Q) (err error) {
			shared, err = q.LockBlobsShared(ctx, []oci.Digest{d2, dg("nope"), d, d2})
			return err
		}))
		diff(t, "LockBlobsShared", map[oci.Digest]Blob{d: want, d2: b2}, shared)
		diff(t, "LockBlobsShared(nil)", map[oci.Digest]Blob{}, must1[map[oci.Digest]Blob](t)(q.LockBlobsShared(ctx, nil)))

		must(t, q.DeleteBlob(ctx, d))
		_, err = q.GetBlob(ctx, d)
		wantKind(t, err, errs.NotFound)
		diff(t, "blob rows", 1, count(t, db, `SELECT count(*) FROM blobs`))
	})
}

func TestLockBlobsSharedMany(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		var ds []oci.Digest
		must(t, db.Tx(ctx, func(q *Q) error {
			for i := range 2*chunkSize + 3 {
				d := dg(string(rune(0x4e00 + i)))
				ds = append(ds, d)
				if i%2 == 0 {
					if _, err := q.InsertBlob(ctx, Blob{Digest: d, Size: int64(i)}); err != nil {
						return err
					}
				}
			}
			return nil
		}))
		got := must1[map[oci.Digest]Blob](t)(db.Q().LockBlobsShared(ctx, ds))
		if len(got) != chunkSize+2 {
			t.Errorf("got %d blobs, want %d", len(got), chunkSize+2)
		}
		for i, d := range ds {
			if b, ok := got[d]; ok != (i%2 == 0) || ok && b.Size != int64(i) {
				t.Fatalf("blob %d: %+v present=%v", i, b, ok)
			}
		}
	})
}

func TestBlobLinksAndReferences(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		a := must1[Repo](t)(q.EnsureRepo(ctx, "a"))
		b := must1[Repo](t)(q.EnsureRepo(ctx, "b"))
		d := dg("layer")

		diff(t, "referenced before", false, must1[bool](t)(q.BlobReferenced(ctx, d)))
		must(t, q.LinkBlob(ctx, a.ID, d))
		must(t, q.LinkBlob(ctx, a.ID, d)) // idempotent
		diff(t, "link rows", 1, count(t, db, `SELECT count(*) FROM repo_blobs`))
		diff(t, "linked in a", true, must1[bool](t)(q.IsBlobLinked(ctx, a.ID, d)))
		diff(t, "linked in b", false, must1[bool](t)(q.IsBlobLinked(ctx, b.ID, d)))
		diff(t, "referenced by link", true, must1[bool](t)(q.BlobReferenced(ctx, d)))
		wantKind(t, q.LinkBlob(ctx, 999999, d), errs.NotFound)

		diff(t, "unlink from b", false, must1[bool](t)(q.UnlinkBlob(ctx, b.ID, d)))
		diff(t, "unlink from a", true, must1[bool](t)(q.UnlinkBlob(ctx, a.ID, d)))
		diff(t, "unlink again", false, must1[bool](t)(q.UnlinkBlob(ctx, a.ID, d)))
		diff(t, "referenced after unlink", false, must1[bool](t)(q.BlobReferenced(ctx, d)))

		// A manifest reference counts even without a link or a blob row.
		must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: b.ID, Digest: dg("m"), MediaType: "x", Content: []byte("m")},
			[]oci.Digest{d}, nil))
		diff(t, "referenced by manifest", true, must1[bool](t)(q.BlobReferenced(ctx, d)))
		must(t, q.DeleteManifest(ctx, b.ID, dg("m")))
		diff(t, "referenced after manifest delete", false, must1[bool](t)(q.BlobReferenced(ctx, d)))
	})
}
