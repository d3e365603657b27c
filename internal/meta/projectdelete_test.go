package meta

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

// TestProjectDeleteLeavesNothing: deleting a project removes its CVE
// allowlist, scanner choice and trust keys with it; the scan reports of
// artifacts that exist nowhere any more go at the next cleanup (GC),
// except those a scan is still writing.
func TestProjectDeleteLeavesNothing(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		u := mkUser(t, q, "owner")
		p := mkProject(t, q, "doomed", u, false)
		kept := mkProject(t, q, "kept", u, false)
		for _, id := range []int64{p.ID, kept.ID, 0} {
			must(t, q.PutCVEAllowlist(ctx, CVEAllowlist{ProjectID: id, Items: []string{"CVE-2024-1"}}))
		}
		sc := must1[Scanner](t)(q.CreateScanner(ctx, Scanner{UUID: "s1", Name: "s1", URL: "http://127.0.0.1:1"}))
		must(t, q.SetProjectScanner(ctx, p.ID, sc.ID))
		must(t, q.SetProjectScanner(ctx, kept.ID, sc.ID))
		must1[TrustKey](t)(q.AddTrustKey(ctx, TrustKey{ProjectID: p.ID, Type: TrustCosign, Name: "k", PEM: "pem"}))

		must(t, q.DeleteProject(ctx, p.ID))
		for _, c := range []struct{ what, query string }{
			{"CVE allowlist", `SELECT count(*) FROM cve_allowlists WHERE project_id = ?`},
			{"scanner choice", `SELECT count(*) FROM project_scanners WHERE project_id = ?`},
			{"trust keys", `SELECT count(*) FROM trust_keys WHERE project_id = ?`},
		} {
			if n := count(t, db, c.query, p.ID); n != 0 {
				t.Errorf("%d %s rows outlived their project", n, c.what)
			}
			if c.what != "trust keys" {
				if n := count(t, db, c.query, kept.ID); n != 1 {
					t.Errorf("another project's %s: %d rows, want 1", c.what, n)
				}
			}
		}
		if n := count(t, db, `SELECT count(*) FROM cve_allowlists WHERE project_id = 0`); n != 1 {
			t.Errorf("the system allowlist went with a project")
		}

		// Reports: of an artifact still stored (kept), of one gone (removed),
		// of one gone whose scan is queued (kept until it ends).
		repo := must1[Repo](t)(q.EnsureRepo(ctx, "kept/app"))
		live, gone, busy := dg("live"), dg("gone"), dg("busy")
		must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repo.ID, Digest: live, MediaType: "m", Content: []byte("x"), CreatedAt: at(1)}, nil, nil))
		for i, d := range []oci.Digest{live, gone, busy} {
			must1[ScanReport](t)(q.StartScanReport(ctx, ScanReport{UUID: fmt.Sprintf("r%d", i), Digest: d, ScannerUUID: "s1", MimeType: "v"}))
		}
		must1[ScanJob](t)(q.CreateScanJob(ctx, ScanJob{Kind: "vulnerability", Trigger: "MANUAL", Repository: "kept/app", Digest: busy,
			ScannerUUID: "s1", ReportUUID: "r2"}))
		n, err := q.DeleteOrphanScanReports(ctx)
		if err != nil || n != 1 {
			t.Fatalf("DeleteOrphanScanReports = %d, %v; want 1", n, err)
		}
		for d, want := range map[oci.Digest]int{live: 1, gone: 0, busy: 1} {
			if got := count(t, db, `SELECT count(*) FROM scan_reports WHERE digest = ?`, string(d)); got != want {
				t.Errorf("reports of %s: %d, want %d", d, got, want)
			}
		}
	})
}
