package meta

import (
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// TestGCLease: one holder at a time, even when many race for a free
// lease; renewals only by the holder; takeover only after expiry.
func TestGCLease(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		q := db.Q()
		now := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		winners := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := q.AcquireGCLease(ctx, string(rune('a'+i)), now, now.Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					winners++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if winners != 1 {
			t.Fatalf("%d holders of one lease", winners)
		}
		l, err := q.GetGCLease(ctx)
		if err != nil || l.Holder == "" {
			t.Fatalf("lease: %+v %v", l, err)
		}
		if ok, _ := q.RenewGCLease(ctx, "someone else", 7, now.Add(time.Hour)); ok {
			t.Fatal("a non-holder renewed the lease")
		}
		if ok, err := q.RenewGCLease(ctx, l.Holder, 7, now.Add(2*time.Minute)); !ok || err != nil {
			t.Fatalf("the holder could not renew: %v", err)
		}
		if ok, _ := q.AcquireGCLease(ctx, "late", now.Add(time.Minute), now.Add(time.Hour)); ok {
			t.Fatal("took a lease that had not expired")
		}
		if ok, _ := q.AcquireGCLease(ctx, "late", now.Add(3*time.Minute), now.Add(time.Hour)); !ok {
			t.Fatal("could not take an expired lease")
		}
		if err := q.ReleaseGCLease(ctx, l.Holder); err != nil {
			t.Fatal(err)
		}
		if l, _ := q.GetGCLease(ctx); l.Holder != "late" {
			t.Fatalf("a former holder released the new holder's lease: %+v", l)
		}
		if err := q.ReleaseGCLease(ctx, "late"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := q.AcquireGCLease(ctx, "next", now, now.Add(time.Minute)); !ok {
			t.Fatal("a released lease could not be taken")
		}
	})
}

// TestGCRuns: create, progress, stop request, finish once, abandon,
// list newest first.
func TestGCRuns(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		q := db.Q()
		a, err := q.CreateGCRun(ctx, GCRun{Kind: "MANUAL", Status: GCRunning, DryRun: true, TimeWindow: 90 * time.Minute, Workers: 3, Node: "n1"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.CreateGCRun(ctx, GCRun{Kind: "SCHEDULE", Status: GCRunning, Workers: 1, CreatedAt: time.Now().Add(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.UpdateGCRun(ctx, a.ID, "blobs", GCCounts{BlobsDeleted: 2, BytesFreed: 10}, "one\n"); err != nil {
			t.Fatal(err)
		}
		if err := q.UpdateGCRun(ctx, a.ID, "blobs", GCCounts{BlobsDeleted: 3, BytesFreed: 15}, "two\n"); err != nil {
			t.Fatal(err)
		}
		if going, err := q.RequestGCRunStop(ctx, a.ID); !going || err != nil {
			t.Fatalf("stop: %v %v", going, err)
		}
		if stop, _ := q.GCRunStopRequested(ctx, a.ID); !stop {
			t.Fatal("stop not recorded")
		}
		if ok, err := q.FinishGCRun(ctx, a.ID, GCStopped, GCCounts{BlobsDeleted: 4, BytesFreed: 20}, "three\n"); !ok || err != nil {
			t.Fatalf("finish: %v %v", ok, err)
		}
		if ok, _ := q.FinishGCRun(ctx, a.ID, GCSuccess, GCCounts{}, "again\n"); ok {
			t.Fatal("an ended run was finished again")
		}
		if going, err := q.RequestGCRunStop(ctx, a.ID); going || err != nil {
			t.Fatalf("stop of an ended run: %v %v", going, err)
		}
		got, err := q.GetGCRun(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != GCStopped || got.Log != "one\ntwo\nthree\n" || got.BlobsDeleted != 4 || got.BytesFreed != 20 ||
			!got.DryRun || got.TimeWindow != 90*time.Minute || got.Workers != 3 || got.EndedAt.IsZero() || got.Node != "n1" {
			t.Fatalf("run: %+v", got)
		}
		if n, err := q.AbandonGCRuns(ctx, 0, "gone\n"); n != 1 || err != nil {
			t.Fatalf("abandon: %d %v", n, err)
		}
		if got, _ := q.GetGCRun(ctx, b.ID); got.Status != GCError || got.Log != "gone\n" {
			t.Fatalf("abandoned run: %+v", got)
		}
		list, total, err := q.ListGCRuns(ctx, ListOptions{})
		if err != nil || total != 2 || len(list) != 2 || list[0].ID != b.ID {
			t.Fatalf("list: %d %v %v", total, list, err)
		}
		list, total, err = q.ListGCRuns(ctx, ListOptions{Query: []Cond{{Key: "job_kind", Op: "=", Values: []string{"MANUAL"}}}})
		if err != nil || total != 1 || list[0].ID != a.ID {
			t.Fatalf("list MANUAL: %d %v %v", total, list, err)
		}
		if _, err := q.GetGCRun(ctx, 999); !errs.Is(err, errs.NotFound) {
			t.Fatalf("missing run: %v", err)
		}
		if _, err := q.RequestGCRunStop(ctx, 999); !errs.Is(err, errs.NotFound) {
			t.Fatalf("stop missing run: %v", err)
		}
	})
}

// TestGCCollectible: the locked re-checks see references.
func TestGCCollectible(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		q := db.Q()
		repo, err := q.EnsureRepo(ctx, "p/r")
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		d := oci.FromBytes([]byte("layer"))
		if _, err := q.InsertBlob(ctx, Blob{Digest: d, Size: 5, LastSeen: old, CreatedAt: old}); err != nil {
			t.Fatal(err)
		}
		cutoff := time.Now()
		if ok, _ := q.BlobCollectible(ctx, d, cutoff); !ok {
			t.Fatal("an unreferenced old blob is not collectible")
		}
		if ok, _ := q.BlobCollectible(ctx, d, old); ok {
			t.Fatal("a blob used at the cutoff is collectible")
		}
		if err := q.LinkBlob(ctx, repo.ID, d); err != nil {
			t.Fatal(err)
		}
		if ok, _ := q.BlobCollectible(ctx, d, cutoff); ok {
			t.Fatal("a linked blob is collectible")
		}
		m := Manifest{RepoID: repo.ID, Digest: oci.FromBytes([]byte("m")), MediaType: oci.MediaTypeImageManifest, CreatedAt: old}
		if _, err := q.PutManifest(ctx, m, []oci.Digest{d}, nil); err != nil {
			t.Fatal(err)
		}
		if ok, _ := q.RemoveLinkIfUnused(ctx, repo.ID, d, time.Now().Add(time.Hour)); ok {
			t.Fatal("removed a link a manifest of the repository needs")
		}
		if ok, _ := q.ManifestCollectible(ctx, repo.ID, m.Digest, cutoff, false); ok {
			t.Fatal("an untagged manifest is collectible without delete_untagged")
		}
		if ok, _ := q.ManifestCollectible(ctx, repo.ID, m.Digest, cutoff, true); !ok {
			t.Fatal("an old untagged manifest is not collectible with delete_untagged")
		}
		if err := q.PutTag(ctx, repo.ID, "v1", m.Digest); err != nil {
			t.Fatal(err)
		}
		if ok, _ := q.ManifestCollectible(ctx, repo.ID, m.Digest, cutoff, true); ok {
			t.Fatal("a tagged manifest is collectible")
		}
		if err := q.DeleteManifest(ctx, repo.ID, m.Digest); err != nil {
			t.Fatal(err)
		}
		if ok, _ := q.RemoveLinkIfUnused(ctx, repo.ID, d, cutoff); ok {
			t.Fatal("removed a link made after the cutoff")
		}
		later := time.Now().Add(time.Millisecond)
		if ok, _ := q.RemoveLinkIfUnused(ctx, repo.ID, d, later); !ok {
			t.Fatal("an unused old link was not removed")
		}
		if ok, _ := q.BlobCollectible(ctx, d, later); !ok {
			t.Fatal("the blob is not collectible once unreferenced")
		}
		if ok, _ := db.WaitOlderTransactions(ctx, time.Second, 10*time.Millisecond); !ok {
			t.Fatal("an idle database has old transactions")
		}
	})
}
