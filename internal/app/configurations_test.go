package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
)

// GET /configurations with every key the server registers (LDAP and
// OIDC, as setupIdentity wires them) must validate against Harbor's
// swagger, so that Harbor's clients keep reading it, and against berth's
// document. The api package's tests register fewer keys.
func TestConfigurationsMatchDocuments(t *testing.T) {
	t.Setenv("BERTH_ADMIN_PASSWORD", "Config123")
	cfg, err := config.Load([]string{"--data-dir", t.TempDir(), "--tls", "off"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	h, release, err := NewHandler(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path string, body any) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+"/api/v2.0"+path, rd)
		req.SetBasicAuth("admin", "Config123")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	check := func(what string) map[string]any {
		t.Helper()
		res, body := do("GET", "/configurations", nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: GET /configurations: %d %s", what, res.StatusCode, body)
		}
		apidoc.Harbor(t).Validate(t, "GET", "/configurations", res.StatusCode, res.Header, body)
		apidoc.Berth(t, api.OpenAPIYAML()).Validate(t, "GET", "/configurations", res.StatusCode, res.Header, body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	check("defaults")
	// berth's own LDAP keys stay writable and readable.
	res, body := do("PUT", "/configurations", map[string]any{"ldap_start_tls": true, "ldap_url": "ldap://127.0.0.1:1"})
	if res.StatusCode != 200 {
		t.Fatalf("PUT ldap_start_tls: %d %s", res.StatusCode, body)
	}
	m := check("with ldap_start_tls")
	if v, ok := m["ldap_start_tls"].(map[string]any); !ok || v["value"] != true {
		t.Errorf("ldap_start_tls reads back as %v", m["ldap_start_tls"])
	}
}
