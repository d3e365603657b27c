package meta

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

func TestScanJobClaimLeaseAndFinish(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		if _, ok, err := q.ClaimScanJob(ctx, "a", time.Minute); err != nil || ok {
			t.Fatalf("claim on an empty queue: ok=%v err=%v", ok, err)
		}
		j1 := must1[ScanJob](t)(q.CreateScanJob(ctx, ScanJob{Kind: "vulnerability", Trigger: "MANUAL",
			Repository: "p/r", Digest: dg("one"), ScannerUUID: "s", ReportUUID: "r1"}))
		later := must1[ScanJob](t)(q.CreateScanJob(ctx, ScanJob{Kind: "vulnerability", Trigger: "MANUAL",
			Repository: "p/r", Digest: dg("two"), ScannerUUID: "s", ReportUUID: "r2", NextRunAt: time.Now().Add(time.Hour)}))

		got, ok, err := q.ClaimScanJob(ctx, "a", time.Minute)
		if err != nil || !ok || got.ID != j1.ID || got.Status != ScanRunning || got.Attempts != 1 || got.LeaseHolder != "a" {
			t.Fatalf("claim = %+v ok=%v err=%v, want job %d running for a", got, ok, err, j1.ID)
		}
		if _, ok, _ := q.ClaimScanJob(ctx, "b", time.Minute); ok {
			t.Fatal("b claimed a job held by a, or one not yet due")
		}
		stop := must1[bool](t)(q.RenewScanJob(ctx, j1.ID, "a", time.Minute, 40))
		if stop {
			t.Fatal("renew reports a stop nobody asked for")
		}
		_, err = q.RenewScanJob(ctx, j1.ID, "b", time.Minute, 40)
		wantKind(t, err, errs.Conflict)

		// A retry queues it again; the next claim is a second attempt.
		must(t, q.FinishScanJob(ctx, j1.ID, "a", "", time.Now().Add(-time.Second), "failed once\n"))
		got, ok, _ = q.ClaimScanJob(ctx, "b", time.Minute)
		if !ok || got.ID != j1.ID || got.Attempts != 2 || got.Log != "failed once\n" {
			t.Fatalf("reclaim after retry = %+v ok=%v", got, ok)
		}
		// A worker that stops renewing loses its lease to another.
		must1[bool](t)(q.RenewScanJob(ctx, j1.ID, "b", -time.Second, 10))
		got, ok, _ = q.ClaimScanJob(ctx, "c", time.Minute)
		if !ok || got.ID != j1.ID || got.LeaseHolder != "c" || got.Attempts != 3 {
			t.Fatalf("claim of an expired lease = %+v ok=%v", got, ok)
		}
		wantKind(t, q.FinishScanJob(ctx, j1.ID, "b", ScanSuccess, time.Time{}, ""), errs.Conflict)

		// Stop: the running job learns it on renew; it then ends stopped.
		n := must1[int64](t)(q.StopScanJobs(ctx, "r1"))
		if n != 1 {
			t.Fatalf("StopScanJobs reached %d jobs, want 1", n)
		}
		if !must1[bool](t)(q.RenewScanJob(ctx, j1.ID, "c", time.Minute, 50)) {
			t.Fatal("renew does not report the stop")
		}
		must(t, q.FinishScanJob(ctx, j1.ID, "c", ScanStopped, time.Time{}, "stopped\n"))
		got = must1[ScanJob](t)(q.GetScanJob(ctx, j1.ID))
		if got.Status != ScanStopped || got.EndedAt.IsZero() || got.LeaseHolder != "" {
			t.Fatalf("after stop: %+v", got)
		}
		// A queued job stops at once.
		must1[int64](t)(q.StopScanJobs(ctx, "r2"))
		if s := must1[ScanJob](t)(q.GetScanJob(ctx, later.ID)).Status; s != ScanStopped {
			t.Fatalf("queued job after stop: %s", s)
		}
		counts := must1[map[string]int](t)(q.ScanJobCounts(ctx, 0))
		diff(t, "job counts", map[string]int{ScanStopped: 2}, counts)
	})
}

// Workers racing for jobs each get different ones, and every job is
// claimed exactly once.
func TestScanJobClaimRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		const jobs, workers = 20, 4
		for i := range jobs {
			must1[ScanJob](t)(db.Q().CreateScanJob(ctx, ScanJob{Kind: "vulnerability", Trigger: "SCHEDULE",
				Repository: "p/r", Digest: dg(string(rune('a' + i))), ScannerUUID: "s", ReportUUID: "r"}))
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				holder := string(rune('A' + w))
				for range jobs { // bounded
					var j ScanJob
					var ok bool
					err := db.Tx(ctx, func(q *Q) error {
						var err error
						j, ok, err = q.ClaimScanJob(ctx, holder, time.Minute)
						return err
					})
					if err != nil {
						t.Errorf("claim: %v", err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					seen[j.ID]++
					mu.Unlock()
					if err := db.Q().FinishScanJob(ctx, j.ID, holder, ScanSuccess, time.Time{}, ""); err != nil {
						t.Errorf("finish: %v", err)
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != jobs {
			t.Fatalf("%d jobs claimed, want %d", len(seen), jobs)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("job %d claimed %d times", id, n)
			}
		}
	})
}

func TestScannersAndAllowlists(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		b := must1[Scanner](t)(q.CreateScanner(ctx, Scanner{UUID: "u1", Name: "berth", Builtin: true, IsDefault: true}))
		x := must1[Scanner](t)(q.CreateScanner(ctx, Scanner{UUID: "u2", Name: "trivy", URL: "http://127.0.0.1:1"}))
		_, err := q.CreateScanner(ctx, Scanner{UUID: "u3", Name: "trivy"})
		wantKind(t, err, errs.Conflict)
		must(t, q.SetDefaultScanner(ctx, x.UUID))
		if d := must1[Scanner](t)(q.DefaultScanner(ctx)); d.UUID != x.UUID {
			t.Fatalf("default = %s, want %s", d.UUID, x.UUID)
		}
		if s := must1[Scanner](t)(q.GetScanner(ctx, b.UUID)); s.IsDefault {
			t.Fatal("the former default is still default")
		}
		owner := mkUser(t, q, "owner")
		p := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p", OwnerID: owner.ID}, roleAdmin))
		_, err = q.ProjectScanner(ctx, p.ID)
		wantKind(t, err, errs.NotFound)
		must(t, q.SetProjectScanner(ctx, p.ID, b.ID))
		must(t, q.SetProjectScanner(ctx, p.ID, x.ID))
		if s := must1[Scanner](t)(q.ProjectScanner(ctx, p.ID)); s.UUID != x.UUID {
			t.Fatalf("project scanner = %s", s.UUID)
		}
		must(t, q.DeleteScanner(ctx, x.UUID))
		_, err = q.ProjectScanner(ctx, p.ID)
		wantKind(t, err, errs.NotFound)

		l := must1[CVEAllowlist](t)(q.GetCVEAllowlist(ctx, p.ID))
		if len(l.Items) != 0 || l.ExpiresAt != 0 {
			t.Fatalf("unset allowlist = %+v", l)
		}
		must(t, q.PutCVEAllowlist(ctx, CVEAllowlist{ProjectID: p.ID, Items: []string{"CVE-2024-1"}, ExpiresAt: 100}))
		must(t, q.PutCVEAllowlist(ctx, CVEAllowlist{ProjectID: p.ID, Items: []string{"CVE-2024-2", "CVE-2024-3"}}))
		l = must1[CVEAllowlist](t)(q.GetCVEAllowlist(ctx, p.ID))
		diff(t, "allowlist", []string{"CVE-2024-2", "CVE-2024-3"}, l.Items)
		if l.ExpiresAt != 0 || l.Expired(time.Now()) {
			t.Fatalf("allowlist expiry = %d", l.ExpiresAt)
		}
	})
}

func TestScanReports(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[ScanReport](t)(q.StartScanReport(ctx, ScanReport{UUID: "a", Digest: dg("x"), ScannerUUID: "s", MimeType: "m"}))
		if r.Status != ReportPending || r.StartTime.IsZero() {
			t.Fatalf("started report = %+v", r)
		}
		r.Status, r.Report, r.Summary, r.Severity, r.EndTime = ReportSuccess, []byte(`{"v":1}`), []byte(`{"total":1}`), "High", time.Now()
		must(t, q.UpdateScanReport(ctx, r))
		// A rescan gets a new id and keeps the old result until replaced.
		r2 := must1[ScanReport](t)(q.StartScanReport(ctx, ScanReport{UUID: "b", Digest: dg("x"), ScannerUUID: "s", MimeType: "m"}))
		if r2.Status != ReportPending || string(r2.Report) != `{"v":1}` || r2.Severity != "High" {
			t.Fatalf("restarted report = %+v", r2)
		}
		wantKind(t, q.UpdateScanReport(ctx, r), errs.NotFound) // the old scan lost its report
		list := must1[[]ScanReport](t)(q.ListScanReports(ctx, "s", false, dg("x"), dg("y")))
		if len(list) != 1 || list[0].UUID != "b" || len(list[0].Report) != 0 || string(list[0].Summary) != `{"total":1}` {
			t.Fatalf("listing = %+v", list)
		}
	})
}

func TestScanAllRuns(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		_, err := q.LatestScanAllRun(ctx, "")
		wantKind(t, err, errs.NotFound)
		manual := must1[ScanAllRun](t)(q.CreateScanAllRun(ctx, "Manual"))
		sched := must1[ScanAllRun](t)(q.CreateScanAllRun(ctx, "Schedule"))
		for i, run := range []int64{manual.ID, manual.ID, sched.ID} {
			must1[ScanJob](t)(q.CreateScanJob(ctx, ScanJob{Kind: "vulnerability", Trigger: "SCAN_ALL", Repository: "p/r",
				Digest: dg(string(rune('a' + i))), ScannerUUID: "s", ReportUUID: "r", ScanAllID: run}))
		}
		must(t, q.SetScanAllTotal(ctx, manual.ID, 2))
		if got := must1[ScanAllRun](t)(q.LatestScanAllRun(ctx, "Manual")); got.ID != manual.ID || got.Total != 2 {
			t.Fatalf("latest manual run = %+v", got)
		}
		if got := must1[ScanAllRun](t)(q.LatestScanAllRun(ctx, "")); got.ID != sched.ID {
			t.Fatalf("latest run = %+v", got)
		}
		j, ok, err := q.ClaimScanJob(ctx, "n", time.Minute)
		if err != nil || !ok || j.ScanAllID != manual.ID {
			t.Fatalf("claim: %+v %v %v", j, ok, err)
		}
		if n := must1[int64](t)(q.StopScanAllJobs(ctx, manual.ID)); n != 2 {
			t.Fatalf("StopScanAllJobs reached %d jobs, want 2", n)
		}
		diff(t, "manual run", map[string]int{ScanStopped: 1, ScanRunning: 1}, must1[map[string]int](t)(q.ScanJobCounts(ctx, manual.ID)))
		diff(t, "scheduled run", map[string]int{ScanQueued: 1}, must1[map[string]int](t)(q.ScanJobCounts(ctx, sched.ID)))
		if !must1[bool](t)(q.RenewScanJob(ctx, j.ID, "n", time.Minute, 5)) {
			t.Fatal("the running job of a stopped scan all is not told to stop")
		}
	})
}
