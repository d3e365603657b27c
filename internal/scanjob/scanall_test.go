package scanjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/scan"
)

// pushImages pushes n small images to repo, tagged t0…
func (e *workerEnv) pushImages(repo string, n int) {
	e.t.Helper()
	ctx := context.Background()
	for i := range n {
		b := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","repo":%q,"n":%d}`, repo, i))
		if _, err := e.reg.PutBlob(ctx, repo, string(oci.FromBytes(b)), bytes.NewReader(b)); err != nil {
			e.t.Fatal(err)
		}
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
			oci.FromBytes(b), len(b))
		if _, err := e.reg.PutManifest(ctx, repo, fmt.Sprintf("t%d", i), oci.MediaTypeImageManifest, []byte(m)); err != nil {
			e.t.Fatal(err)
		}
	}
}

// TestScanAllQueuesInBackground: a manual scan all records its run and
// returns; the scans are queued by the background walk, not the
// request. This node's worker is stopped, so nothing walks until the
// test says so: right after the request the run exists with no scan,
// and it is ongoing; after the walk every image has its scan; a worker
// then finishes the run.
func TestScanAllQueuesInBackground(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"scanner":{"name":"Quick","vendor":"tests","version":"1"},"capabilities":[{"type":"vulnerability",
				"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],
				"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`)
		})
		mux.HandleFunc("POST /api/v1/scan", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"id":"s"}`)
		})
		mux.HandleFunc("GET /api/v1/scan/{id}/report", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(scan.Report{Scanner: scan.Scanner{Name: "Quick"}, Vulnerabilities: []scan.Vulnerability{}})
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		e := newWorkerEnv(t, dsn, srv.URL)
		e.stop() // no background work on this node until the test asks
		<-e.done
		const perRepo = 110 // more than a page of artifacts per repository
		e.pushImages("p/one", perRepo)
		e.pushImages("p/two", perRepo)
		images := 2*perRepo + 1 // and p/app:v1
		ctx := context.Background()
		q := e.db.Q()

		if err := e.svc.SetSchedule(ctx, e.admin, Schedule{Type: gc.ScheduleManual}); err != nil {
			t.Fatal(err)
		}
		run, err := q.LatestScanAllRun(ctx, "")
		if err != nil {
			t.Fatalf("no run recorded by the request: %v", err)
		}
		if run.Trigger != "Manual" || run.Enqueued {
			t.Fatalf("run after the request: %+v, want Manual and not yet queued", run)
		}
		counts, err := q.ScanJobCounts(ctx, run.ID)
		if err != nil || len(counts) != 0 {
			t.Fatalf("scans queued by the request itself: %v, %v", counts, err)
		}
		st, err := e.svc.ScanAllStats(ctx, e.admin, "")
		if err != nil || !st.Ongoing || st.Total != 0 {
			t.Fatalf("metrics right after the request: %+v, %v; want ongoing with nothing queued yet", st, err)
		}
		// A second manual run while the first is being walked is refused.
		if _, err := e.svc.ScanAllNow(ctx, e.admin); err == nil {
			t.Fatal("a second scan all started while the first is walked")
		}

		n, err := e.svc.WalkScanAll(ctx)
		if err != nil || n != 1 {
			t.Fatalf("WalkScanAll = %d, %v; want 1 run walked", n, err)
		}
		if n, err := e.svc.WalkScanAll(ctx); err != nil || n != 0 {
			t.Fatalf("second WalkScanAll = %d, %v; want nothing left", n, err)
		}
		run, err = q.LatestScanAllRun(ctx, "")
		if err != nil || !run.Enqueued || run.Total != images {
			t.Fatalf("run after the walk: %+v, %v; want %d scans queued", run, err, images)
		}
		st, err = e.svc.ScanAllStats(ctx, e.admin, "")
		if err != nil || st.Total != images || !st.Ongoing {
			t.Fatalf("metrics after the walk: %+v, %v", st, err)
		}

		e.node(WithWorkers(4)) // a worker finishes the run
		deadline := time.Now().Add(2 * time.Minute)
		for {
			st, err := e.svc.ScanAllStats(ctx, e.admin, "")
			if err != nil {
				t.Fatal(err)
			}
			if !st.Ongoing {
				if st.Metrics["Success"] != images {
					t.Fatalf("scan all ended with %+v, want %d successes", st, images)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scan all still running: %+v", st)
			}
			time.Sleep(20 * time.Millisecond) // polling asynchronous jobs, bounded by the deadline
		}
	})
}

// TestScanAllWalkTakeover: a walk whose node died (its claim ran out) is
// taken over by another node; a stopped run is not walked any further.
func TestScanAllWalkTakeover(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		e := newWorkerEnv(t, dsn, "http://127.0.0.1:1")
		e.stop()
		<-e.done
		ctx := context.Background()
		q := e.db.Q()
		run, err := e.svc.ScanAllNow(ctx, e.admin)
		if err != nil {
			t.Fatal(err)
		}
		// A node claims the walk and dies at once.
		now := time.Now()
		if _, ok, err := q.ClaimScanAllWalk(ctx, "dead-node", now, now.Add(time.Hour)); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if _, ok, err := q.ClaimScanAllWalk(ctx, "other", now, now.Add(time.Hour)); err != nil || ok {
			t.Fatalf("a claimed walk was claimed again: %v %v", ok, err)
		}
		if n, err := e.svc.WalkScanAll(ctx); err != nil || n != 0 {
			t.Fatalf("WalkScanAll while another node walks = %d, %v", n, err)
		}
		// Its claim runs out (as seen two hours later).
		later := now.Add(2 * time.Hour)
		r, ok, err := q.ClaimScanAllWalk(ctx, "taker", later, later.Add(time.Hour))
		if err != nil || !ok || r.ID != run.ID {
			t.Fatalf("takeover claim: %+v %v %v", r, ok, err)
		}
		if ok, err := q.FinishScanAllWalk(ctx, run.ID, "dead-node", 5); err != nil || ok {
			t.Fatalf("the dead node finished a walk it lost: %v %v", ok, err)
		}
		if ok, err := q.FinishScanAllWalk(ctx, run.ID, "taker", 1); err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		got, err := q.LatestScanAllRun(ctx, "")
		if err != nil || !got.Enqueued || got.Total != 1 {
			t.Fatalf("run after takeover: %+v %v", got, err)
		}

		// Stopping a run that is still walked ends its walk.
		if _, err := q.StopScanAllJobs(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		second, err := q.CreateScanAllRun(ctx, "Manual")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := q.ClaimScanAllWalk(ctx, "w", time.Now(), time.Now().Add(time.Hour)); err != nil || !ok {
			t.Fatalf("claim second: %v %v", ok, err)
		}
		if err := e.svc.StopScanAll(ctx, e.admin); err != nil {
			t.Fatal(err)
		}
		if ok, err := q.ExtendScanAllWalk(ctx, second.ID, "w", time.Now().Add(time.Hour)); err != nil || ok {
			t.Fatalf("a stopped run's walk went on: %v %v", ok, err)
		}
		if st, err := e.svc.ScanAllStats(ctx, e.admin, ""); err != nil || st.Ongoing {
			t.Fatalf("stopped run: %+v %v, want not ongoing", st, err)
		}
	})
}
