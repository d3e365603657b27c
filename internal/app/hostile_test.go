package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestScanAPIHostileInput sends malformed, oversized, out-of-range and
// unauthorised requests to the scanning endpoints: each is answered with
// the expected 4xx in Harbor's error body, and none changes a row.
func TestScanAPIHostileInput(t *testing.T) {
	s := startScanServer(t)
	s.expect(s.do("POST", "/api/v2.0/users", map[string]any{"username": "dev", "email": "dev@example.com",
		"realname": "Dev", "password": "Developer123"}), http.StatusCreated, "create user")
	s.push("library/app", "v1", alpineLayer(t))
	admin := cred{"admin", s.pass}
	dev := cred{"dev", "Developer123"}
	art := "/api/v2.0/projects/library/repositories/app/artifacts/v1"
	huge := `{"name":"` + strings.Repeat("a", 2<<20) + `"}`

	tables := []string{"scanners", "cve_allowlists", "scan_jobs", "scan_reports", "scan_all_runs", "project_scanners", "settings", "projects"}
	before := s.rowCounts(tables)
	for _, c := range []struct {
		who          cred
		method, path string
		body         string
		status       int
	}{
		// Scanner registrations.
		{admin, "POST", "/api/v2.0/scanners", `{"name":`, 400},
		{admin, "POST", "/api/v2.0/scanners", `[]`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":1,"url":"http://x"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","url":"http://x","bogus":1}`, 400},
		{admin, "POST", "/api/v2.0/scanners", huge, 413},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","url":"file:///etc/passwd"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","url":"javascript:alert(1)"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","url":"http://"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","url":"http://scanner/\u0000"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x\u0000","url":"http://scanner"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","description":"a\u0000b","url":"http://scanner"}`, 400},
		{admin, "POST", "/api/v2.0/scanners", `{"name":"x","url":"http://scanner","auth":"Bearer","access_credential":"t\r\nX-Evil: 1"}`, 400},
		{admin, "POST", "/api/v2.0/scanners/ping", `{"name":"x","url":"gopher://127.0.0.1:25"}`, 400},
		{admin, "GET", "/api/v2.0/scanners/%00", "", 404},
		{admin, "GET", "/api/v2.0/scanners/" + strings.Repeat("a", 5000), "", 404},
		{admin, "PUT", "/api/v2.0/scanners/no-such", `{"name":"x","url":"http://scanner"}`, 404},
		{admin, "PATCH", "/api/v2.0/scanners/no-such", `{"is_default":true}`, 404},
		{admin, "PATCH", "/api/v2.0/scanners/no-such", `{"is_default":"yes"}`, 400},
		{admin, "DELETE", "/api/v2.0/scanners/no-such", "", 404},
		{admin, "GET", "/api/v2.0/scanners/no-such/metadata", "", 404},
		{admin, "GET", "/api/v2.0/scanners?page=-1", "", 400},
		{admin, "GET", "/api/v2.0/scanners?page_size=100000", "", 400},
		{admin, "PUT", "/api/v2.0/projects/library/scanner", `{"uuid":"no-such"}`, 400},
		{admin, "PUT", "/api/v2.0/projects/library/scanner", `{"uuid":7}`, 400},
		{admin, "PUT", "/api/v2.0/projects/no-such/scanner", `{"uuid":"x"}`, 404},
		{dev, "POST", "/api/v2.0/scanners", `{"name":"x","url":"http://127.0.0.1:1"}`, 403},
		{dev, "POST", "/api/v2.0/scanners/ping", `{"name":"x","url":"http://127.0.0.1:1"}`, 403},
		{dev, "PUT", "/api/v2.0/projects/library/scanner", `{"uuid":"x"}`, 403},
		{anon, "POST", "/api/v2.0/scanners", `{"name":"x","url":"http://127.0.0.1:1"}`, 401},
		{anon, "GET", "/api/v2.0/scanners", "", 401},
		{anon, "POST", "/api/v2.0/scanners/ping", `{"name":"x","url":"http://127.0.0.1:1"}`, 401},

		// Scans, their logs and reports.
		{admin, "POST", art + "/scan", `{"scan_type":`, 400},
		{admin, "POST", art + "/scan", `{"scan_type":7}`, 400},
		{admin, "POST", art + "/scan", huge, 413},
		{admin, "POST", "/api/v2.0/projects/library/repositories/app/artifacts/sha256:zz/scan", "", 400},
		{admin, "POST", "/api/v2.0/projects/library/repositories/app/artifacts/%00/scan", "", 400},
		{admin, "POST", "/api/v2.0/projects/library/repositories/app/artifacts/" + strings.Repeat("v", 300) + "/scan", "", 400},
		{admin, "POST", art + "/scan/stop", `{"scan_type":"bogus"}`, 400},
		{admin, "GET", art + "/scan/no-such/log", "", 404},
		{admin, "GET", art + "/scan/%2e%2e%2f%2e%2e%2fetc%2fpasswd/log", "", 404},
		{admin, "GET", art + "/scan/" + strings.Repeat("9", 400) + "/log", "", 404},
		{admin, "GET", art + "/additions/vulnerabilities?x-accept-vulnerabilities=%00", "", 200},
		{admin, "GET", art + "/additions/sbom?sbom_media_type=text/evil", "", 404},
		{dev, "POST", art + "/scan/stop", "", 403},
		{dev, "GET", art + "/scan/1/log", "", 404},
		{anon, "POST", art + "/scan", "", 401},

		// The system allowlist and the scan-all schedule.
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":`, 400},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":"CVE-2024-1"}`, 400},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[],"expires_at":"tomorrow"}`, 400},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[],"expires_at":-5}`, 400},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[],"expires_at":1e300}`, 400},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[{"cve_id":"CVE-2024-1\u0000"}]}`, 400},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", huge, 413},
		{admin, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[{"cve_id":"CVE-2024-` + strings.Repeat("1", 600) + `"}]}`, 400},
		{dev, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[]}`, 403},
		{anon, "PUT", "/api/v2.0/system/CVEAllowlist", `{"items":[]}`, 401},
		{admin, "PUT", "/api/v2.0/projects/library", `{"cve_allowlist":{"items":[{"cve_id":"nope"}]}}`, 400},
		{admin, "PUT", "/api/v2.0/projects/library", `{"cve_allowlist":{"items":7}}`, 400},
		{admin, "PUT", "/api/v2.0/projects/library", `{"cve_allowlist":{"items":[],"expires_at":-1}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Custom","cron":"* * *"}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Custom","cron":"99 99 99 99 99 99"}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Custom","cron":"` + strings.Repeat("* ", 5000) + `"}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Custom","cron":"*/0 * * * * *"}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Custom","cron":"0 0 0 31 2 *"}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Sometimes"}}`, 400},
		{admin, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":"Daily"}`, 400},
		{admin, "POST", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Custom","cron":"a b c d e f"}}`, 400},
		{dev, "PUT", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Daily"}}`, 403},
		{dev, "POST", "/api/v2.0/system/scanAll/stop", "", 403},
		{anon, "POST", "/api/v2.0/system/scanAll/schedule", `{"schedule":{"type":"Manual"}}`, 401},
		{anon, "GET", "/api/v2.0/scans/all/metrics", "", 401},
	} {
		r := s.raw(c.who, c.method, c.path, c.body)
		if r.status != c.status {
			t.Errorf("%s %s %s as %q: got %d %s, want %d", c.method, trunc(c.path), trunc(c.body), c.who.user, r.status, trunc(string(r.body)), c.status)
			continue
		}
		if c.status >= 400 {
			wantHarborError(t, r, c.method+" "+trunc(c.path))
		}
	}
	if after := s.rowCounts(tables); !equalCounts(before, after) {
		t.Errorf("rows changed by refused requests: before %v, after %v", before, after)
	}
}

type cred struct{ user, pass string }

var anon cred

func (s *scanServer) raw(c cred, method, path, body string) reply {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

func (s *scanServer) rowCounts(tables []string) map[string]int {
	s.t.Helper()
	out := map[string]int{}
	for _, tb := range tables {
		n, err := s.n.db.Count(context.Background(), "SELECT count(*) FROM "+tb)
		if err != nil {
			s.t.Fatalf("count %s: %v", tb, err)
		}
		out[tb] = n
	}
	return out
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

func wantHarborError(t *testing.T, r reply, what string) {
	t.Helper()
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code == "" {
		t.Errorf("%s: error body %s is not Harbor's", what, trunc(string(r.body)))
	}
}

func trunc(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// TestScannerCredentialStaysWithAdapter: an adapter that redirects (or a
// URL taken over) must not carry the registration's credential to another
// host; the adapter API has no redirects, so berth follows none.
func TestScannerCredentialStaysWithAdapter(t *testing.T) {
	s := startScanServer(t)
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-ScannerAdapter-API-Key") != "" || r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.0")
		io.WriteString(w, `{"scanner":{"name":"evil","vendor":"x","version":"1"},"capabilities":[{"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`)
	}))
	t.Cleanup(other.Close)
	// Another host name for the same loopback address: a cross-host redirect.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	adapter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(adapter.Close)
	for _, auth := range []string{"X-ScannerAdapter-API-Key", "Bearer", "Basic"} {
		r := s.raw(cred{"admin", s.pass}, "POST", "/api/v2.0/scanners/ping",
			`{"name":"x","url":"`+adapter.URL+`","auth":"`+auth+`","access_credential":"user:k-secret"}`)
		if r.status == http.StatusOK {
			t.Errorf("ping through a redirect with %s: got 200, want an error", auth)
		}
	}
	if n := leaked.Load(); n != 0 {
		t.Fatalf("the scanner credential was sent to another host %d times", n)
	}
}
