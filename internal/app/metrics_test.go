package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveForTest runs Serve until the test ends and returns the
// configuration it runs with, once /healthz answers.
func serveForTest(t *testing.T, args ...string) config.Config {
	t.Helper()
	addr := freeAddr(t)
	cfg, err := config.Load(append([]string{"--data-dir", t.TempDir(), "--tls", "off", "--addr", addr}, args...),
		os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return cfg
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth did not answer on %s within 30s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape returns the metric families of /metrics.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the value of the series of name whose labels include want
// (counter, gauge, or a histogram's count); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// TestMetrics runs a server with metrics.addr and checks what /metrics
// reports after real pushes, pulls, an upload left open and a GC run.
func TestMetrics(t *testing.T) {
	t.Setenv("BERTH_ADMIN_PASSWORD", "Metrics123")
	maddr := freeAddr(t)
	t.Setenv("BERTH_METRICS_TOKEN", "scrape-secret")
	cfg := serveForTest(t, "--metrics-addr", maddr)
	base := "http://" + cfg.Server.Addr
	murl := "http://" + maddr + "/metrics"

	// Without the token: refused. The registry port does not serve them.
	for _, u := range []string{murl, base + "/metrics"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if u == murl && res.StatusCode != 401 || bytes.Contains(b, []byte("berth_build_info")) {
			t.Fatalf("GET %s without a token: %d %.100s", u, res.StatusCode, b)
		}
	}

	pushTestImage(t, base, "admin", "Metrics123", "library/metrics", "v1")
	pushed := float64(len(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`) +
		len("layer of library/metrics:v1"))
	get := func(path string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.SetBasicAuth("admin", "Metrics123")
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		return len(b)
	}
	var pulled int
	mlen := 0
	for i := 0; i < 3; i++ {
		mlen = get("/v2/library/metrics/manifests/v1")
		pulled += mlen
	}
	pushed += float64(mlen)
	layer := []byte("layer of library/metrics:v1")
	pulled += get(fmt.Sprintf("/v2/library/metrics/blobs/sha256:%x", sha256.Sum256(layer)))

	// An upload left open, and a blob nothing references, for GC.
	post := func(path string, body []byte) {
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(body))
		req.SetBasicAuth("admin", "Metrics123")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d", path, res.StatusCode)
		}
	}
	// On the filesystem store a session has a row, and counts as open, once
	// it has stored bytes (registry: rowless sessions).
	{
		req, _ := http.NewRequest("POST", base+"/v2/library/metrics/blobs/uploads/", nil)
		req.SetBasicAuth("admin", "Metrics123")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		req, _ = http.NewRequest("PATCH", base+res.Header.Get("Location"), bytes.NewReader([]byte("x")))
		req.SetBasicAuth("admin", "Metrics123")
		if res, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH: %d", res.StatusCode)
		}
		pushed++
	}
	garbage := []byte("garbage blob of 30 bytes.....!")
	post(fmt.Sprintf("/v2/library/metrics/blobs/uploads/?digest=sha256:%x", sha256.Sum256(garbage)), garbage)
	pushed += float64(len(garbage))
	run, err := GC(context.Background(), cfg, gc.Params{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, murl, "scrape-secret")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"berth_http_requests_total", []string{"handler", "v2_manifest", "method", "GET", "code", "200"}, 3},
		{"berth_http_requests_total", []string{"handler", "v2_manifest", "method", "PUT", "code", "201"}, 1},
		{"berth_http_requests_total", []string{"handler", "v2_blob", "method", "GET", "code", "200"}, 1},
		{"berth_http_request_duration_seconds", []string{"handler", "v2_manifest", "method", "GET"}, 3},
		{"berth_http_requests_total", []string{"handler", "v2_uploads", "method", "POST", "code", "202"}, 1},
		{"berth_bytes_pulled_total", nil, float64(pulled)},
		{"berth_bytes_pushed_total", nil, pushed},
		{"berth_upload_sessions", nil, 1},
		{"berth_gc_runs_total", []string{"status", "success"}, 1},
		{"berth_gc_bytes_freed_total", nil, float64(run.BytesFreed)},
		{"berth_pull_records_dropped_total", nil, 0},
		{"go_sql_max_open_connections", []string{"db_name", "write"}, 1},
		{"berth_build_info", []string{"version", "dev"}, 1},
	} {
		if got := value(fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if run.BytesFreed < int64(len(garbage)) {
		t.Errorf("GC freed %d bytes, want at least the %d of the unreferenced blob", run.BytesFreed, len(garbage))
	}
}
