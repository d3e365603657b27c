package gc_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Store shape of BenchmarkGC.
const (
	benchBlobs     = 100_000
	benchManifests = 10_000
	benchRepos     = 100
	benchUntagged  = 1_000 // manifests without a tag: delete_untagged takes them
	benchLayers    = 9     // blobs of each manifest's own
	benchShared    = 100   // blobs every manifest shares some of
)

// BenchmarkGC times a collection with delete_untagged over a SQLite store
// of 100,000 blobs and 10,000 manifests (in 100 repositories, 9 own
// blobs and 1 shared each; 1,000 manifests untagged; 9,900 blobs
// unreferenced), and the latency of pushes made while it runs compared
// with pushes on the idle store. Run it with
//
//	go test -run '^$' -bench BenchmarkGC -benchtime 1x ./internal/gc/
//
// Metrics: gc-s (one run), blobs-deleted, push-ms-p50/-p99 idle and
// during GC.
func BenchmarkGC(b *testing.B) {
	for range b.N {
		b.StopTimer()
		e := newEnv(b, filepath.Join(b.TempDir(), "berth.db"))
		build := time.Now()
		benchStore(b, e)
		b.Logf("built the store in %s", time.Since(build).Round(time.Millisecond))

		idle := benchPushes(b, e, "idle", 50, nil)

		done := make(chan meta.GCRun, 1)
		start := time.Now()
		b.StartTimer()
		go func() {
			r, err := e.gc.Run(context.Background(), gc.KindManual, gc.Params{DeleteUntagged: true, Workers: 1})
			if err != nil {
				b.Error(err)
			}
			done <- r
		}()
		var run meta.GCRun
		during := benchPushes(b, e, "during", 0, func() bool {
			select {
			case run = <-done:
				return true
			default:
				return false
			}
		})
		b.StopTimer()
		took := time.Since(start)
		if run.Status != meta.GCSuccess {
			b.Fatalf("gc ended %s:\n%s", run.Status, run.Log)
		}
		b.ReportMetric(took.Seconds(), "gc-s")
		b.ReportMetric(float64(run.BlobsDeleted), "blobs-deleted")
		b.ReportMetric(float64(run.ManifestsDeleted), "manifests-deleted")
		b.ReportMetric(pct(idle, 50), "push-ms-p50-idle")
		b.ReportMetric(pct(idle, 99), "push-ms-p99-idle")
		b.ReportMetric(pct(during, 50), "push-ms-p50-during-gc")
		b.ReportMetric(pct(during, 99), "push-ms-p99-during-gc")
		b.Logf("gc: %s, %d manifests, %d links, %d blobs, %s; %d pushes during it", took.Round(time.Millisecond),
			run.ManifestsDeleted, run.LinksRemoved, run.BlobsDeleted, fmt.Sprint(run.BytesFreed), len(during))
	}
}

// benchStore fills the store with direct inserts, in a few transactions.
func benchStore(b *testing.B, e *env) {
	ctx := e.ctx
	old := time.Now().Add(-2 * time.Hour)
	digest := func(i int) oci.Digest { return oci.FromBytes([]byte(fmt.Sprintf("bench blob %d", i))) }
	// Bytes: small files written straight into the fs layout (no fsync:
	// this is a fixture), so that the run deletes real files.
	for i := range benchBlobs {
		d := digest(i)
		dir := filepath.Join(e.root, "blobs", "sha256", d.Hex()[:2])
		if err := os.MkdirAll(dir, 0o750); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d.Hex()), []byte("x"), 0o640); err != nil {
			b.Fatal(err)
		}
	}
	err := e.db.Tx(ctx, func(q *meta.Q) error {
		for i := range benchBlobs {
			if _, err := q.InsertBlob(ctx, meta.Blob{Digest: digest(i), Size: 1, LastSeen: old, CreatedAt: old}); err != nil {
				return err
			}
		}
		repos := make([]meta.Repo, benchRepos)
		for i := range repos {
			r, err := q.EnsureRepo(ctx, fmt.Sprintf("bench/r%d", i))
			if err != nil {
				return err
			}
			repos[i] = r
		}
		for j := range benchManifests {
			repo := repos[j%benchRepos]
			refs := make([]oci.Digest, 0, benchLayers+1)
			for k := range benchLayers {
				refs = append(refs, digest(j*benchLayers+k))
			}
			refs = append(refs, digest(benchManifests*benchLayers+j%benchShared))
			for _, d := range refs {
				if err := q.LinkBlob(ctx, repo.ID, d); err != nil {
					return err
				}
			}
			body := []byte(fmt.Sprintf(`{"schemaVersion":2,"bench":%d}`, j))
			m := meta.Manifest{RepoID: repo.ID, Digest: oci.FromBytes(body), MediaType: oci.MediaTypeImageManifest,
				Size: int64(len(body)), Content: body, CreatedAt: old}
			if _, err := q.PutManifest(ctx, m, refs, nil); err != nil {
				return err
			}
			if j >= benchUntagged {
				if err := q.PutTag(ctx, repo.ID, fmt.Sprintf("t%d", j), m.Digest); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// benchPushes pushes small images (a shared and an own layer) and
// returns each push's latency in milliseconds: n of them, or as many as
// fit until stop reports true.
func benchPushes(b *testing.B, e *env, tag string, n int, stop func() bool) []float64 {
	shared := data("bench shared layer", 4096)
	var out []float64
	for i := 0; (stop == nil && i < n) || (stop != nil && !stop()); i++ {
		start := time.Now()
		e.pushImage("bench/push", fmt.Sprintf("%s-%d", tag, i), fmt.Sprintf("%s %d", tag, i), shared, data(fmt.Sprintf("%s own %d", tag, i), 4096))
		out = append(out, float64(time.Since(start).Microseconds())/1000)
	}
	return out
}

// pct returns the p-th percentile of v.
func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}
