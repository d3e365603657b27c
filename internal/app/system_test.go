package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

// TestAssembledSystemAPI checks what assembly tells the API: the storage
// health check, the data volume, the CA flag, and quotas on pushes.
func TestAssembledSystemAPI(t *testing.T) {
	t.Setenv("BERTH_ADMIN_PASSWORD", "System123")
	for _, c := range []struct {
		tls   string
		hasCA bool
	}{{"off", false}, {"auto", true}} {
		t.Run("tls "+c.tls, func(t *testing.T) {
			cfg, err := config.Load([]string{"--data-dir", t.TempDir(), "--tls", c.tls}, func(string) string { return "" })
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
			get := func(path string, v any) {
				t.Helper()
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				req.SetBasicAuth("admin", "System123")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode != 200 {
					t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
				}
				if err := json.Unmarshal(b, v); err != nil {
					t.Fatalf("GET %s: %s: %v", path, b, err)
				}
			}
			var health struct {
				Status     string
				Components []struct{ Name, Status string }
			}
			get("/api/v2.0/health", &health)
			if health.Status != "healthy" || len(health.Components) != 2 || health.Components[1].Name != "storage" {
				t.Fatalf("health: %+v", health)
			}
			var vol struct {
				Storage []struct{ Total, Free uint64 }
			}
			get("/api/v2.0/systeminfo/volumes", &vol)
			if len(vol.Storage) != 1 || vol.Storage[0].Total == 0 || vol.Storage[0].Free > vol.Storage[0].Total {
				t.Fatalf("volumes: %+v", vol)
			}
			var info map[string]any
			get("/api/v2.0/systeminfo", &info)
			if info["has_ca_root"] != c.hasCA || info["registry_storage_provider_name"] != "filesystem" {
				t.Fatalf("systeminfo: %v", info)
			}

			// Quotas are enforced on the assembled registry.
			req, _ := http.NewRequest("PUT", srv.URL+"/api/v2.0/quotas/1", strings.NewReader(`{"hard":{"storage":3}}`))
			req.SetBasicAuth("admin", "System123")
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("PUT quota of library: %v %v", res, err)
			}
			res.Body.Close()
			req, _ = http.NewRequest("POST", srv.URL+"/v2/library/app/blobs/uploads/?digest=sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
				strings.NewReader("hello"))
			req.SetBasicAuth("admin", "System123")
			res, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 403 || !strings.Contains(string(b), "quota exceeded") {
				t.Fatalf("push over the library's quota: %d %s", res.StatusCode, b)
			}
		})
	}
}
