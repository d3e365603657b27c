package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/ui"
)

// TestUIMountedBelowAPIs checks that the web UI answers at / and on client
// routes, and that every API keeps its own paths (and its own errors).
func TestUIMountedBelowAPIs(t *testing.T) {
	t.Setenv("BERTH_ADMIN_PASSWORD", "Handler123")
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
	get := func(path string) (*http.Response, string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	uiStatus := http.StatusServiceUnavailable // this test binary may embed no build
	if ui.New(ui.Embedded()).Built() {
		uiStatus = http.StatusOK
	}
	for _, p := range []string{"/", "/projects", "/projects/library/repositories/a/b"} {
		res, _ := get(p)
		if res.StatusCode != uiStatus || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %q, want the UI (%d, text/html)", p, res.StatusCode, res.Header.Get("Content-Type"), uiStatus)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", p)
		}
	}
	for _, tc := range []struct {
		path   string
		status int
		ctype  string
	}{
		{"/healthz", 200, "text/plain"},
		{"/api/v2.0/systeminfo", 200, "application/json"},
		{"/api/v2.0/no-such-thing", 404, "application/json"},
		{"/v2/", 401, "application/json"},
	} {
		res, body := get(tc.path)
		if res.StatusCode != tc.status || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: %d %q, want %d %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.ctype)
		}
		if strings.Contains(body, `id="root"`) || strings.Contains(body, "make build") {
			t.Errorf("GET %s: answered by the UI", tc.path)
		}
	}
}
