package scanjob

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan"
)

// TestPullPolicyRules decides pulls from stored reports, project settings
// and allowlists, without running scans.
func TestPullPolicyRules(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dsn string) {
		e := newWorkerEnv(t, dsn, "http://127.0.0.1:1")
		e.stop()
		<-e.done
		ctx := context.Background()
		q := e.db.Q()
		pr, err := q.GetProjectByName(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.reg.GetManifest(ctx, "p/app", "v1")
		if err != nil {
			t.Fatal(err)
		}
		setMeta := func(kv ...string) {
			t.Helper()
			pr.Metadata = map[string]string{}
			for i := 0; i+1 < len(kv); i += 2 {
				pr.Metadata[kv[i]] = kv[i+1]
			}
			if err := q.UpdateProject(ctx, pr); err != nil {
				t.Fatal(err)
			}
		}
		report := func(status string, vulns ...scan.Vulnerability) {
			t.Helper()
			r, err := q.StartScanReport(ctx, meta.ScanReport{UUID: uuid(), Digest: m.Digest, ScannerUUID: "scripted", MimeType: scan.MediaTypeVulnReport})
			if err != nil {
				t.Fatal(err)
			}
			rep := scan.Report{Vulnerabilities: vulns, Severity: scan.SeverityNone}
			for _, v := range vulns {
				rep.Severity = scan.MaxSeverity(rep.Severity, v.Severity)
			}
			r.Status, r.EndTime, r.Severity = status, time.Now(), string(rep.Severity)
			r.Report, _ = json.Marshal(rep)
			sum := rep.Summarize()
			r.Summary, _ = json.Marshal(sum)
			if err := q.UpdateScanReport(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		check := func(what string, scannerPull bool, want ...string) {
			t.Helper()
			err := e.svc.CheckPull(ctx, "p/app", m, scannerPull)
			if len(want) == 0 {
				if err != nil {
					t.Fatalf("%s: refused: %v", what, err)
				}
				return
			}
			ee, ok := errs.As(err)
			if !ok || ee.Code != PolicyViolation {
				t.Fatalf("%s: got %v, want a policy violation", what, err)
			}
			for _, w := range want {
				if !strings.Contains(ee.Msg, w) {
					t.Fatalf("%s: message %q lacks %q", what, ee.Msg, w)
				}
			}
		}
		high := scan.Vulnerability{ID: "CVE-2024-1", Package: "a", Version: "1", Severity: scan.SeverityHigh}
		low := scan.Vulnerability{ID: "CVE-2024-2", Package: "b", Version: "1", Severity: scan.SeverityLow}

		check("prevent_vul off", false)
		setMeta("prevent_vul", "true", "severity", "high")
		check("never scanned", false, "without vulnerability scanning", "/api/v2.0/projects/p/repositories/app/artifacts/"+string(m.Digest)+"/scan")
		check("a scanner's own pull", true)
		report(meta.ReportError)
		check("last scan failed", false, `"Error" status`)
		report(meta.ReportSuccess, low)
		check("only a Low finding", false)
		setMeta("prevent_vul", "true", "severity", "low")
		check("Low at threshold low", false, "current image with 1 vulnerabilities", `"Low" or higher`, "CVE-2024-2 (Low, b 1)")
		setMeta("prevent_vul", "true", "severity", "high")
		report(meta.ReportSuccess, high, low)
		check("High finding", false, "current image with 2 vulnerabilities", "CVE-2024-1 (High, a 1)")
		// The system allowlist applies unless the project opts out.
		if err := q.PutCVEAllowlist(ctx, meta.CVEAllowlist{ProjectID: 0, Items: []string{"CVE-2024-1"}}); err != nil {
			t.Fatal(err)
		}
		check("on the system allowlist", false)
		setMeta("prevent_vul", "true", "severity", "high", "reuse_sys_cve_allowlist", "false")
		check("project opted out of the system list", false, "CVE-2024-1")
		if err := q.PutCVEAllowlist(ctx, meta.CVEAllowlist{ProjectID: pr.ID, Items: []string{"CVE-2024-1"}, ExpiresAt: time.Now().Add(-time.Hour).Unix()}); err != nil {
			t.Fatal(err)
		}
		check("expired project allowlist", false, "CVE-2024-1")
		if err := q.PutCVEAllowlist(ctx, meta.CVEAllowlist{ProjectID: pr.ID, Items: []string{"CVE-2024-1"}, ExpiresAt: time.Now().Add(time.Hour).Unix()}); err != nil {
			t.Fatal(err)
		}
		check("on the project allowlist", false)
	})
}
