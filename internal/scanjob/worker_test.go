package scanjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The worker's behaviour with an adapter that fails, hangs or answers:
// retries with backoff, giving up, stopping. The adapter here does not
// pull (internal/app's TestPluggableScanner proves that); it counts.

type workerEnv struct {
	t      *testing.T
	db     *meta.DB
	acc    *access.Service
	reg    *registry.Service
	log    *slog.Logger
	svc    *Service
	stop   context.CancelFunc // stops svc's worker
	done   chan struct{}
	digest oci.Digest
	admin  access.Principal
}

// scriptedAdapter answers POST /scan with the status script returns for
// the n-th request (1-based), and the report with a finding, or 302
// forever when hang is set.
func scriptedAdapter(t *testing.T, script func(n int64) int, hang bool) (*httptest.Server, *atomic.Int64) {
	var scans atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"scanner":{"name":"Scripted","vendor":"tests","version":"1"},"capabilities":[{"type":"vulnerability",
			"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],
			"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`)
	})
	mux.HandleFunc("POST /api/v1/scan", func(w http.ResponseWriter, r *http.Request) {
		n := scans.Add(1)
		if st := script(n); st != http.StatusAccepted {
			w.WriteHeader(st)
			fmt.Fprintf(w, `{"error":{"message":"scripted failure %d"}}`, n)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"s%d"}`, n)
	})
	mux.HandleFunc("GET /api/v1/scan/{id}/report", func(w http.ResponseWriter, r *http.Request) {
		if hang {
			w.Header().Set("Refresh-After", "0")
			w.WriteHeader(http.StatusFound)
			return
		}
		json.NewEncoder(w).Encode(scan.Report{Scanner: scan.Scanner{Name: "Scripted"}, Severity: scan.SeverityLow,
			Vulnerabilities: []scan.Vulnerability{{ID: "CVE-2024-9", Package: "p", Version: "1", Severity: scan.SeverityLow}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &scans
}

func newWorkerEnv(t *testing.T, dsn string, adapterURL string, opts ...Option) *workerEnv {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(db, store, registry.WithLogger(log))
	acc, err := access.New(ctx, db, access.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	q := db.Q()
	owner, err := q.CreateUser(ctx, meta.User{Username: "owner", Email: "o@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := q.CreateProject(ctx, meta.Project{Name: "p", OwnerID: owner.ID, Metadata: map[string]string{}}, access.RoleProjectAdmin)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := q.CreateScanner(ctx, meta.Scanner{UUID: "scripted", Name: "scripted", URL: adapterURL, IsDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.SetProjectScanner(ctx, pr.ID, sc.ID); err != nil {
		t.Fatal(err)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("not really a tar")
	for _, b := range [][]byte{cfg, layer} {
		if _, err := reg.PutBlob(ctx, "p/app", string(oci.FromBytes(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		oci.FromBytes(cfg), len(cfg), oci.FromBytes(layer), len(layer))
	res, err := reg.PutManifest(ctx, "p/app", "v1", oci.MediaTypeImageManifest, []byte(m))
	if err != nil {
		t.Fatal(err)
	}
	svc := New(db, acc, reg, append([]Option{WithLogger(log), WithRegistryURL("http://127.0.0.1:1"),
		WithLease(300 * time.Millisecond), WithRetryBackoff(10 * time.Millisecond)}, opts...)...)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(runCtx, 50*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	return &workerEnv{t: t, db: db, acc: acc, reg: reg, log: log, svc: svc, stop: cancel, done: done, digest: res.Digest,
		admin: access.Principal{Kind: access.UserKind, Username: "admin", SysAdmin: true}}
}

func forEachDialect(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run(meta.SQLite, func(t *testing.T) {
		t.Parallel()
		fn(t, filepath.Join(t.TempDir(), "meta.db"))
	})
	t.Run(meta.Postgres, func(t *testing.T) {
		t.Parallel()
		fn(t, pgtest.DSN(t))
	})
}

// waitReport polls until the artifact's report reaches one of states.
func (e *workerEnv) waitReport(states ...string) meta.ScanReport {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		reps, err := e.db.Q().ListScanReports(context.Background(), "scripted", true, e.digest)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range reps {
			for _, s := range states {
				if r.Status == s {
					return r
				}
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no report in %v: %+v", states, reps)
		}
		time.Sleep(20 * time.Millisecond) // polling an asynchronous job, bounded by the deadline
	}
}

// job returns the job of report r once it has ended (the report is
// written first).
func (e *workerEnv) job(r meta.ScanReport) meta.ScanJob {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		j, err := e.db.Q().ScanJobOfReport(context.Background(), r.UUID)
		if err != nil {
			e.t.Fatal(err)
		}
		if j.Status != meta.ScanQueued && j.Status != meta.ScanRunning {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %d still %s", j.ID, j.Status)
		}
		time.Sleep(20 * time.Millisecond) // polling an asynchronous job, bounded by the deadline
	}
}

func TestWorkerRetriesThenSucceeds(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		srv, scans := scriptedAdapter(t, func(n int64) int {
			if n == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusAccepted
		}, false)
		e := newWorkerEnv(t, dsn, srv.URL)
		if err := e.svc.Scan(context.Background(), e.admin, "p/app", "v1", ""); err != nil {
			t.Fatal(err)
		}
		r := e.waitReport(meta.ReportSuccess, meta.ReportError)
		j := e.job(r)
		if r.Status != meta.ReportSuccess || r.Severity != "Low" || j.Status != meta.ScanSuccess || j.Attempts != 2 || scans.Load() != 2 {
			t.Fatalf("report %s/%s, job %s after %d attempts, %d scan requests", r.Status, r.Severity, j.Status, j.Attempts, scans.Load())
		}
		if !strings.Contains(j.Log, "attempt 1 failed") || !strings.Contains(j.Log, "scripted failure 1") {
			t.Fatalf("job log: %s", j.Log)
		}
	})
}

func TestWorkerGivesUp(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		srv, scans := scriptedAdapter(t, func(int64) int { return http.StatusInternalServerError }, false)
		e := newWorkerEnv(t, dsn, srv.URL)
		if err := e.svc.Scan(context.Background(), e.admin, "p/app", "v1", ""); err != nil {
			t.Fatal(err)
		}
		r := e.waitReport(meta.ReportError)
		j := e.job(r)
		if j.Status != meta.ScanError || j.Attempts != 3 || scans.Load() != 3 || strings.Count(j.Log, "failed") != 3 {
			t.Fatalf("job %s after %d attempts, %d scan requests, log:\n%s", j.Status, j.Attempts, scans.Load(), j.Log)
		}
		if !strings.Contains(r.Log, "attempt 3 failed") {
			t.Fatalf("report log: %s", r.Log)
		}
	})
}

func TestWorkerStops(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		srv, _ := scriptedAdapter(t, func(int64) int { return http.StatusAccepted }, true)
		e := newWorkerEnv(t, dsn, srv.URL)
		ctx := context.Background()
		if err := e.svc.Scan(ctx, e.admin, "p/app", "v1", ""); err != nil {
			t.Fatal(err)
		}
		e.waitReport(meta.ReportRunning)
		if err := e.svc.Scan(ctx, e.admin, "p/app", "v1", ""); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("second scan while one runs: %v", err)
		}
		if err := e.svc.Stop(ctx, e.admin, "p/app", "v1", ""); err != nil {
			t.Fatal(err)
		}
		r := e.waitReport(meta.ReportStopped)
		if j := e.job(r); j.Status != meta.ScanStopped || !strings.Contains(j.Log, "stopped on request") {
			t.Fatalf("job after stop: %s %q", j.Status, j.Log)
		}
	})
}

// node starts another worker over the same database, as a second berth
// node would run; it stops with the test.
func (e *workerEnv) node(opts ...Option) *Service {
	svc := New(e.db, e.acc, e.reg, append([]Option{WithLogger(e.log), WithRegistryURL("http://127.0.0.1:1"),
		WithLease(300 * time.Millisecond), WithRetryBackoff(10 * time.Millisecond)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx, 50*time.Millisecond) }()
	e.t.Cleanup(func() { cancel(); <-done })
	return svc
}

// TestWorkerTakeover: the node running a scan goes away mid-scan (its
// worker stops without ending the job); when its lease runs out another
// node claims the job and finishes it, as a second attempt.
func TestWorkerTakeover(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		var polls atomic.Int64
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/v1/scan", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"id":"s%d"}`, polls.Add(1))
		})
		mux.HandleFunc("GET /api/v1/scan/{id}/report", func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("id") == "s1" { // the first node's scan never ends
				w.Header().Set("Refresh-After", "0")
				w.WriteHeader(http.StatusFound)
				return
			}
			json.NewEncoder(w).Encode(scan.Report{Scanner: scan.Scanner{Name: "Scripted"}, Vulnerabilities: []scan.Vulnerability{}})
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		e := newWorkerEnv(t, dsn, srv.URL)
		ctx := context.Background()
		if err := e.svc.Scan(ctx, e.admin, "p/app", "v1", ""); err != nil {
			t.Fatal(err)
		}
		e.waitReport(meta.ReportRunning)
		e.stop() // the first node dies
		<-e.done
		e.node() // a second node, which must take over
		r := e.waitReport(meta.ReportSuccess)
		j := e.job(r)
		if j.Status != meta.ScanSuccess || j.Attempts != 2 || r.Severity != "None" {
			t.Fatalf("job %s after %d attempts, report severity %q", j.Status, j.Attempts, r.Severity)
		}
	})
}

// TestWorkersShareQueue: two nodes over one database run a scan all;
// every image is scanned exactly once.
func TestWorkersShareQueue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		var mu sync.Mutex
		seen := map[string]int{}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/v1/metadata", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"scanner":{"name":"Counting","vendor":"tests","version":"1"},"capabilities":[{"type":"vulnerability",
				"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],
				"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`)
		})
		mux.HandleFunc("POST /api/v1/scan", func(w http.ResponseWriter, r *http.Request) {
			var req scanRequest
			json.NewDecoder(r.Body).Decode(&req)
			mu.Lock()
			seen[req.Artifact.Digest]++
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"id":%q}`, req.Artifact.Digest)
		})
		mux.HandleFunc("GET /api/v1/scan/{id}/report", func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(scan.Report{Scanner: scan.Scanner{Name: "Counting"}, Vulnerabilities: []scan.Vulnerability{}})
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		// Exactly once holds while leases are renewed in time; a lease long
		// enough for a loaded machine keeps takeovers (TestWorkerTakeover)
		// out of this test.
		e := newWorkerEnv(t, dsn, srv.URL, WithWorkers(2), WithLease(time.Minute))
		e.node(WithWorkers(2), WithLease(time.Minute))
		ctx := context.Background()
		const images = 12
		for i := range images {
			b := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","n":%d}`, i))
			if _, err := e.reg.PutBlob(ctx, "p/many", string(oci.FromBytes(b)), bytes.NewReader(b)); err != nil {
				t.Fatal(err)
			}
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
				`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
				oci.FromBytes(b), len(b))
			if _, err := e.reg.PutManifest(ctx, "p/many", fmt.Sprintf("t%d", i), oci.MediaTypeImageManifest, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.ScanAllNow(ctx, e.admin); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			st, err := e.svc.ScanAllStats(ctx, e.admin, "")
			if err != nil {
				t.Fatal(err)
			}
			if !st.Ongoing {
				if st.Metrics["Success"] != images+1 {
					t.Fatalf("scan all: %+v", st)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scan all still running: %+v", st)
			}
			time.Sleep(20 * time.Millisecond) // polling asynchronous jobs, bounded by the deadline
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != images+1 {
			t.Fatalf("%d images scanned, want %d", len(seen), images+1)
		}
		for d, n := range seen {
			if n != 1 {
				t.Errorf("%s scanned %d times", d, n)
			}
		}
	})
}
