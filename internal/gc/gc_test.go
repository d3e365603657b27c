package gc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// TestDryRunThenSpaceComesBack deletes an image, checks that a dry run
// reports what a real run then frees without touching anything, and that
// the real run frees exactly that much disk.
func TestDryRunThenSpaceComesBack(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		keep := e.pushImage("p/app", "keep", "keep", data("keep layer", 5000))
		l1, l2 := data("gone 1", 20000), data("gone 2", 30000)
		gone := e.pushImage("p/app", "v1", "gone", l1, l2)
		_, blobs := imageManifest("gone", [][]byte{l1, l2}, nil)
		var want int64
		for _, b := range blobs {
			want += int64(len(b))
		}
		e.deleteManifest("p/app", gone)
		before := e.diskBytes()

		dry := e.run(gc.Params{DryRun: true})
		if !dry.DryRun || dry.BlobsDeleted != 3 || dry.BytesFreed != want || dry.LinksRemoved != 3 {
			t.Fatalf("dry run reports %d blobs, %d bytes, %d links; want 3, %d, 3\n%s",
				dry.BlobsDeleted, dry.BytesFreed, dry.LinksRemoved, want, dry.Log)
		}
		if !strings.Contains(dry.Log, "would delete") {
			t.Errorf("dry run log does not say what it would delete:\n%s", dry.Log)
		}
		if e.diskBytes() != before || e.count(`SELECT count(*) FROM blobs`) != 5 || e.count(`SELECT count(*) FROM repo_blobs`) != 5 {
			t.Fatal("the dry run deleted something")
		}

		real := e.run(gc.Params{})
		if real.BlobsDeleted != 3 || real.BytesFreed != want || real.LinksRemoved != 3 {
			t.Fatalf("run deleted %d blobs, %d bytes, %d links; want 3, %d, 3\n%s",
				real.BlobsDeleted, real.BytesFreed, real.LinksRemoved, want, real.Log)
		}
		if got := before - e.diskBytes(); got != real.BytesFreed {
			t.Fatalf("disk usage dropped by %d bytes; the run says it freed %d", got, real.BytesFreed)
		}
		for _, b := range blobs {
			if d := oci.FromBytes(b); e.hasBytes(d) || e.hasRow(d) {
				t.Errorf("blob %s survived", d)
			}
		}
		e.mustPull("p/app", "keep")
		e.mustPull("p/app", string(keep))

		again := e.run(gc.Params{})
		if again.BlobsDeleted != 0 || again.BytesFreed != 0 {
			t.Fatalf("a second run deleted %d blobs", again.BlobsDeleted)
		}
	})
}

// TestSharedLayersKept: deleting one of two images that share layers
// frees only what the other does not use, across repositories too.
func TestSharedLayersKept(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		base, own := data("base", 4000), data("own a", 3000)
		a := e.pushImage("p/a", "1", "a", base, own)
		e.pushImage("p/a", "2", "b", base, data("own b", 2000))
		e.pushImage("q/c", "1", "c", base)
		e.deleteManifest("p/a", a)
		r := e.run(gc.Params{Workers: 3})
		if r.BlobsDeleted != 2 { // a's config and its own layer
			t.Fatalf("deleted %d blobs, want 2\n%s", r.BlobsDeleted, r.Log)
		}
		if !e.hasBytes(oci.FromBytes(base)) || e.hasBytes(oci.FromBytes(own)) {
			t.Fatal("the shared layer went, or the unshared one stayed")
		}
		e.mustPull("p/a", "2")
		e.mustPull("q/c", "1")
		e.checkInvariant1()
	})
}

// TestUntagged: untagged manifests stay unless delete_untagged; index
// children stay with their index and go with it; tagged ones never go.
func TestUntagged(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		loose := e.pushImage("p/u", "", "loose", data("loose", 1000))
		tagged := e.pushImage("p/u", "t", "tagged", data("tagged", 1000))
		c1 := e.pushImage("p/u", "", "child 1", data("child 1", 1000))
		c2 := e.pushImage("p/u", "", "child 2", data("child 2", 1000))
		idx := e.pushIndex("p/u", "multi", c1, c2)

		r := e.run(gc.Params{})
		if r.ManifestsDeleted != 0 || !e.hasManifest("p/u", loose) {
			t.Fatalf("without delete_untagged the run deleted %d manifests", r.ManifestsDeleted)
		}
		r = e.run(gc.Params{DeleteUntagged: true})
		if r.ManifestsDeleted != 1 || e.hasManifest("p/u", loose) {
			t.Fatalf("delete_untagged deleted %d manifests, want the loose one only\n%s", r.ManifestsDeleted, r.Log)
		}
		if r.BlobsDeleted != 2 {
			t.Fatalf("deleted %d blobs, want the loose image's 2", r.BlobsDeleted)
		}
		e.mustPull("p/u", "multi")
		e.mustPull("p/u", "t")

		// Untag the index: it goes, then its children (a second wave).
		if err := e.reg.DeleteManifest(e.ctx, "p/u", "multi"); err != nil {
			t.Fatal(err)
		}
		r = e.run(gc.Params{DeleteUntagged: true})
		if r.ManifestsDeleted != 3 || e.hasManifest("p/u", idx) || e.hasManifest("p/u", c1) || e.hasManifest("p/u", c2) {
			t.Fatalf("deleted %d manifests, want the index and its two children\n%s", r.ManifestsDeleted, r.Log)
		}
		if !strings.Contains(r.Log, "2 waves") {
			t.Errorf("log does not show two waves:\n%s", r.Log)
		}
		if !e.hasManifest("p/u", tagged) {
			t.Fatal("a tagged manifest went")
		}
		e.mustPull("p/u", "t")
		e.checkInvariant1()
	})
}

// TestReferrers: a signature stays with its subject, even untagged and
// with delete_untagged, and goes after it by default.
func TestReferrers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		img := e.pushImage("p/s", "v1", "img", data("img", 2000))
		sig := e.pushReferrer("p/s", img, "sig")
		sbom := e.pushReferrer("p/s", sig, "sig of sig") // a referrer of a referrer

		r := e.run(gc.Params{DeleteUntagged: true})
		if r.ManifestsDeleted != 0 || !e.hasManifest("p/s", sig) || !e.hasManifest("p/s", sbom) {
			t.Fatalf("referrers of a live subject were deleted:\n%s", r.Log)
		}
		e.mustPull("p/s", string(sig))

		e.deleteManifest("p/s", img)
		r = e.run(gc.Params{}) // orphans go without delete_untagged
		if r.ManifestsDeleted != 2 || e.hasManifest("p/s", sig) || e.hasManifest("p/s", sbom) {
			t.Fatalf("deleted %d manifests, want both orphaned referrers\n%s", r.ManifestsDeleted, r.Log)
		}
		if r.BlobsDeleted != 6 { // img: config + layer; each referrer: config + payload
			t.Fatalf("deleted %d blobs, want 6\n%s", r.BlobsDeleted, r.Log)
		}
		e.checkInvariant1()
	})
}

// TestGracePeriod: nothing used within the time window goes; after it,
// an unreferenced link goes and then its blob.
func TestGracePeriod(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		layer := data("pushed, no manifest yet", 1000)
		d := e.pushBlob("p/g", layer)
		img := e.pushImage("p/g", "", "untagged", data("untagged", 1000))
		sig := e.pushImage("p/g", "", "orphan", data("orphan", 100))
		e.deleteManifest("p/g", sig)

		p := gc.Params{DeleteUntagged: true, TimeWindow: time.Hour}
		r := e.run(p)
		if r.BlobsDeleted+r.LinksRemoved+r.ManifestsDeleted != 0 {
			t.Fatalf("inside the window the run deleted something:\n%s", r.Log)
		}
		e.clock.advance(59 * time.Minute)
		if r := e.run(p); r.BlobsDeleted+r.LinksRemoved+r.ManifestsDeleted != 0 {
			t.Fatalf("59 minutes later the run deleted something:\n%s", r.Log)
		}
		e.clock.advance(2 * time.Minute)
		r = e.run(p)
		if r.ManifestsDeleted != 1 || r.BlobsDeleted != 5 || e.hasBytes(d) || e.hasManifest("p/g", img) {
			t.Fatalf("after the window: %d manifests, %d blobs deleted; want 1 and 5\n%s", r.ManifestsDeleted, r.BlobsDeleted, r.Log)
		}
	})
}

// TestRecovery: a run that died between marking a blob deleting and
// deleting its row, before or after deleting the bytes, is finished by
// the next run; bytes that a crash left without a row are collected.
func TestRecovery(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		q := e.db.Q()
		withBytes, noBytes := data("crashed before the bytes went", 700), data("crashed after", 900)
		for _, b := range [][]byte{withBytes, noBytes} {
			d := oci.FromBytes(b)
			if err := e.store.Put(e.ctx, d, b); err != nil {
				t.Fatal(err)
			}
			if _, err := q.InsertBlob(e.ctx, meta.Blob{Digest: d, Size: int64(len(b)), State: meta.BlobDeleting}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.store.Delete(e.ctx, oci.FromBytes(noBytes)); err != nil {
			t.Fatal(err)
		}
		orphan := data("renamed, then the process died", 1234)
		if err := e.store.Put(e.ctx, oci.FromBytes(orphan), orphan); err != nil {
			t.Fatal(err)
		}
		live := e.pushImage("p/r", "v", "live", data("live", 500))

		// The crash left rows deleting: a push of such a digest is not
		// resurrected underneath GC but told to retry.
		_, err := e.reg.PutBlob(e.ctx, "p/r", string(oci.FromBytes(withBytes)), strings.NewReader(string(withBytes)))
		if !errs.Is(err, errs.Unavailable) {
			t.Fatalf("push of a blob left deleting: got %v, want a retryable Unavailable error", err)
		}

		r := e.run(gc.Params{})
		if r.BlobsDeleted != 3 || r.BytesFreed != 700+900+1234 {
			t.Fatalf("recovery deleted %d blobs, %d bytes; want 3, %d\n%s", r.BlobsDeleted, r.BytesFreed, 700+900+1234, r.Log)
		}
		for _, b := range [][]byte{withBytes, noBytes, orphan} {
			if d := oci.FromBytes(b); e.hasBytes(d) || e.hasRow(d) {
				t.Errorf("%s survived", d)
			}
		}
		e.mustPull("p/r", string(live))
		// And now the digest can be pushed again.
		d := e.pushBlob("p/r", withBytes)
		if !e.hasBytes(d) || !e.hasRow(d) {
			t.Fatal("re-push after recovery did not store the blob")
		}
		e.checkInvariant1()
	})
}

// TestExpiredUploads: a run sweeps upload sessions past their expiry.
func TestExpiredUploads(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		st, err := e.reg.StartUpload(e.ctx, "p/up", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.AppendUpload(e.ctx, "p/up", st.ID, 0, strings.NewReader("half a layer")); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-48 * time.Hour)
		if err := e.db.Q().CreateUpload(e.ctx, meta.Upload{ID: "0d6a8a8e-1b48-4b52-9a0c-000000000001", RepoID: 1,
			Algorithm: oci.SHA256, CreatedAt: old, UpdatedAt: old}); err != nil {
			t.Fatal(err)
		}
		r := e.run(gc.Params{})
		if r.UploadsRemoved != 1 {
			t.Fatalf("swept %d uploads, want the expired one\n%s", r.UploadsRemoved, r.Log)
		}
		if _, err := e.reg.UploadStatus(e.ctx, "p/up", st.ID); err != nil {
			t.Fatalf("the live upload went: %v", err)
		}
	})
}
