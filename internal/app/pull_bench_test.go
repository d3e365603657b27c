package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

// BenchmarkManifestGet measures authenticated manifest GETs through the
// whole assembled server (auth, policy, pull count and pull audit) over
// SQLite, as `berth serve` runs them.
func BenchmarkManifestGet(b *testing.B) {
	b.Setenv("BERTH_ADMIN_PASSWORD", "Bench12345")
	cfg, err := config.Load([]string{"--data-dir", b.TempDir(), "--tls", "off"}, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	h, release, err := NewHandler(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer release()
	srv := httptest.NewServer(h)
	defer srv.Close()
	pushTestImage(b, srv.URL, "admin", "Bench12345", "library/bench", "v1")
	url := srv.URL + "/v2/library/bench/manifests/v1"
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.SetBasicAuth("admin", "Bench12345")
			req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("GET manifest: %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// pushTestImage pushes a one-layer image (config and layer are small
// blobs) as repo:tag and returns the manifest's digest.
func pushTestImage(tb testing.TB, base, user, pass, repo, tag string) string {
	tb.Helper()
	do := func(method, url, ctype string, body []byte) *http.Response {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.SetBasicAuth(user, pass)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	blob := func(content []byte) string {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(content))
		res := do("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+d, "application/octet-stream", content)
		if res.StatusCode != 201 {
			tb.Fatalf("push blob %s: %d", d, res.StatusCode)
		}
		return d
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("layer of " + repo + ":" + tag)
	cd, ld := blob(cfg), blob(layer)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		cd, len(cfg), ld, len(layer))
	res := do("PUT", base+"/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json", []byte(m))
	if res.StatusCode != 201 {
		tb.Fatalf("push manifest %s:%s: %d", repo, tag, res.StatusCode)
	}
	return res.Header.Get("Docker-Content-Digest")
}
