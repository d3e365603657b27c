package app

import (
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/config"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/metrics"
	"github.com/berth-registry/berth/internal/pulls"
)

// newMetrics registers what a node reports beside its requests: the
// database pools, the store-wide figures and the pull record buffer.
func newMetrics(db *meta.DB, pullBuf *pulls.Buffer) *metrics.Metrics {
	m := metrics.New(handlerGroup)
	m.DBPools(db.Pools())
	m.Store(db.Q().Stats, 5*time.Second)
	m.CounterFunc("pull_records_dropped_total",
		"Pull records (counts, times, audit entries) dropped because the write-behind buffer was full.",
		func() float64 { return float64(pullBuf.Dropped()) })
	m.CounterFunc("pull_record_flushes_total",
		"Batches of pull records written to the database.",
		func() float64 { return float64(pullBuf.Flushes()) })
	return m
}

// handlerGroup labels a request with its surface and, for the registry
// API, its endpoint; and says which bodies are pushed or pulled bytes.
func handlerGroup(r *http.Request) (string, metrics.Direction) {
	p := r.URL.Path
	switch {
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		kind := ocihttp.RouteKind(p)
		if kind == "" {
			return "v2_unknown", metrics.None
		}
		dir := metrics.None
		switch {
		case kind == "upload" || kind == "uploads", kind == "manifest" && r.Method == http.MethodPut:
			dir = metrics.Push
		case kind == "blob" || kind == "manifest":
			dir = metrics.Pull
		}
		return "v2_" + kind, dir
	case strings.HasPrefix(p, "/api/"), strings.HasPrefix(p, "/c/"):
		return "api", metrics.None
	case p == "/service/token":
		return "token", metrics.None
	case p == "/healthz", p == "/readyz":
		return "health", metrics.None
	case p == "/ca.crt":
		return "ca", metrics.None
	case strings.HasPrefix(p, "/debug/pprof"):
		return "pprof", metrics.None
	}
	return "other", metrics.None
}

// metricsMux is what the metrics listener serves: /metrics, and /healthz
// for probes that watch that port.
func metricsMux(n *node, cfg config.Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.metrics.Handler(cfg.Metrics.Token))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
