package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestScanAPIRules: who may manage scanners and allowlists, and bad input
// answered with 4xx that changes nothing.
func TestScanAPIRules(t *testing.T) {
	s := startScanServer(t)
	s.expect(s.do("POST", "/api/v2.0/users", map[string]any{"username": "dev", "email": "dev@example.com",
		"realname": "Dev", "password": "Developer123"}), http.StatusCreated, "create user")
	admin := s.pass
	as := func(method, path string, body any) reply { // as the user "dev"
		s.user, s.pass = "dev", "Developer123"
		defer func() { s.user, s.pass = "admin", admin }()
		return s.do(method, path, body)
	}

	// Scanners are for administrators; the allowlist is readable by all.
	s.expect(as("GET", "/api/v2.0/scanners", nil), http.StatusForbidden, "user lists scanners")
	s.expect(as("PUT", "/api/v2.0/system/CVEAllowlist", map[string]any{"items": []any{}}), http.StatusForbidden, "user sets allowlist")
	s.expect(as("GET", "/api/v2.0/system/CVEAllowlist", nil), http.StatusOK, "user reads allowlist")

	for _, body := range []map[string]any{
		{"name": "x", "url": "ftp://scanner"},
		{"name": "x", "url": "http://u:p@scanner"},
		{"name": "", "url": "http://scanner"},
		{"name": "x", "url": "http://scanner", "auth": "Magic", "access_credential": "c"},
		{"name": "x", "url": "http://scanner", "auth": "Bearer"},
	} {
		s.expect(s.do("POST", "/api/v2.0/scanners", body), http.StatusBadRequest, "bad registration")
	}
	r := s.do("GET", "/api/v2.0/scanners", nil)
	s.expect(r, http.StatusOK, "list scanners")
	var regs []map[string]any
	json.Unmarshal(r.body, &regs)
	if len(regs) != 1 || regs[0]["name"] != "berth" || regs[0]["is_default"] != true {
		t.Fatalf("scanners after bad input: %s", r.body)
	}
	s.expect(s.do("DELETE", "/api/v2.0/scanners/"+regs[0]["uuid"].(string), nil), http.StatusConflict, "delete the built-in scanner")
	s.expect(s.do("GET", "/api/v2.0/scanners/no-such", nil), http.StatusNotFound, "unknown registration")

	// Allowlist: ids checked, duplicates dropped, expiry kept.
	s.expect(s.do("PUT", "/api/v2.0/system/CVEAllowlist", map[string]any{"items": []map[string]string{{"cve_id": "not a cve"}}}),
		http.StatusBadRequest, "bad CVE id")
	s.expect(s.do("PUT", "/api/v2.0/system/CVEAllowlist", map[string]any{"expires_at": 4102444800,
		"items": []map[string]string{{"cve_id": "CVE-2024-1"}, {"cve_id": "CVE-2024-1"}, {"cve_id": "GHSA-aaaa-bbbb-cccc"}}}),
		http.StatusOK, "set allowlist")
	r = s.do("GET", "/api/v2.0/system/CVEAllowlist", nil)
	if !strings.Contains(string(r.body), `"expires_at":4102444800`) ||
		!strings.Contains(string(r.body), `"items":[{"cve_id":"CVE-2024-1"},{"cve_id":"GHSA-aaaa-bbbb-cccc"}]`) {
		t.Fatalf("system allowlist: %s", r.body)
	}
	s.expect(s.do("POST", "/api/v2.0/projects", map[string]any{"project_name": "bad",
		"cve_allowlist": map[string]any{"items": []map[string]string{{"cve_id": "<script>"}}}}), http.StatusBadRequest, "project with a bad allowlist")
	s.expect(s.do("GET", "/api/v2.0/projects/bad", nil, "X-Is-Resource-Name", "true"), http.StatusNotFound, "project not created")

	// Scans of what is not there, or of what is not scanning.
	s.expect(s.do("POST", "/api/v2.0/projects/library/repositories/none/artifacts/v1/scan", nil), http.StatusNotFound, "scan of nothing")
	s.push("library/app", "v1", alpineLayer(t))
	s.expect(s.do("POST", "/api/v2.0/projects/library/repositories/app/artifacts/v1/scan", map[string]string{"scan_type": "bogus"}),
		http.StatusBadRequest, "bad scan_type")
	s.expect(s.do("POST", "/api/v2.0/projects/library/repositories/app/artifacts/v1/scan/stop", nil), http.StatusNotFound, "stop with no scan")
	s.expect(as("POST", "/api/v2.0/projects/library/repositories/app/artifacts/v1/scan", nil), http.StatusForbidden, "a non-member scans")

	// The scan-all schedule.
	s.expect(s.do("PUT", "/api/v2.0/system/scanAll/schedule", map[string]any{"schedule": map[string]string{"type": "Custom", "cron": "nonsense"}}),
		http.StatusBadRequest, "bad cron")
	s.expect(s.do("PUT", "/api/v2.0/system/scanAll/schedule", map[string]any{"schedule": map[string]string{"type": "Daily"}}),
		http.StatusOK, "daily scan all")
	r = s.do("GET", "/api/v2.0/system/scanAll/schedule", nil)
	if !strings.Contains(string(r.body), `"type":"Daily","cron":"0 0 0 * * *","next_scheduled_time"`) {
		t.Fatalf("schedule: %s", r.body)
	}
}
