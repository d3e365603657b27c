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
)

// TestServedHandler checks the assembled server's own routes: health,
// readiness, the advertised chunk minimum, and that /v2/ paths reach the
// registry unmodified (ServeMux would clean "//" and ".." and redirect).
func TestServedHandler(t *testing.T) {
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
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, user ...string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if len(user) == 2 {
			req.SetBasicAuth(user[0], user[1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v2/": 401} {
		if got := do("GET", path).StatusCode; got != want {
			t.Fatalf("GET %s: %d, want %d", path, got, want)
		}
	}
	res := do("POST", "/v2/library/app/blobs/uploads/", "admin", "Handler123")
	if res.StatusCode != 202 || res.Header.Get("OCI-Chunk-Min-Length") != "1" {
		t.Fatalf("start upload: %d, OCI-Chunk-Min-Length %q", res.StatusCode, res.Header.Get("OCI-Chunk-Min-Length"))
	}
	for _, p := range []string{"/v2/library//app/tags/list", "/v2/library/./app/tags/list", "/v2/../etc/passwd/tags/list"} {
		res := do("GET", p, "admin", "Handler123")
		if res.StatusCode/100 == 3 || res.StatusCode >= 500 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET %s: %d %q (redirected or not an OCI error)", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}
