// Package metrics owns what berth exposes to Prometheus: the HTTP
// middleware that counts and times requests and the bytes pushed and
// pulled, the collectors of store-wide figures read at scrape time, and
// the /metrics handler. It never decides anything about a request; label
// values come from a fixed set, so a client cannot grow the series.
package metrics

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/version"
)

const namespace = "berth"

// Direction says what a handler group's bodies are: pushed bytes
// (request bodies) or pulled bytes (response bodies), or neither.
type Direction int

// Directions.
const (
	None Direction = iota
	Push
	Pull
)

// Grouper names the handler group of a request (a small fixed set, such
// as "v2_manifest" or "api") and the direction of its bytes.
type Grouper func(r *http.Request) (group string, dir Direction)

// Metrics is one node's registry of metrics.
type Metrics struct {
	reg      *prometheus.Registry
	group    Grouper
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	pushed   prometheus.Counter
	pulled   prometheus.Counter
}

// New returns the metrics of a node, with the Go runtime, process and
// build information already registered.
func New(group Grouper) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		group: group,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered, by handler group, method and status code.",
		}, []string{"handler", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from a request's headers to the end of its response, by handler group and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"handler", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		pushed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "bytes_pushed_total",
			Help: "Bytes received in blob uploads and manifest pushes.",
		}),
		pulled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "bytes_pulled_total",
			Help: "Bytes sent in blob and manifest pulls.",
		}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "The running build; always 1.",
		ConstLabels: prometheus.Labels{"version": version.Version, "commit": version.Commit},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.pushed, m.pulled, build,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds collectors (gauges of other packages, pool statistics).
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// CounterFunc registers a counter whose value f reads at scrape time.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// DBPools registers the statistics of database connection pools, labelled
// by pool role.
func (m *Metrics) DBPools(pools map[string]*sql.DB) {
	for name, p := range pools {
		m.reg.MustRegister(collectors.NewDBStatsCollector(p, name))
	}
}

// Store registers the store-wide figures, read by stats at each scrape
// (within timeout; a failed read leaves them out of that scrape).
func (m *Metrics) Store(stats func(ctx context.Context) (meta.Stats, error), timeout time.Duration) {
	m.reg.MustRegister(&storeCollector{stats: stats, timeout: timeout})
}

// Handler serves the metrics in the Prometheus text format. A non-empty
// token must come as "Authorization: Bearer <token>".
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type storeCollector struct {
	stats   func(ctx context.Context) (meta.Stats, error)
	timeout time.Duration
}

var (
	uploadSessionsDesc = prometheus.NewDesc(namespace+"_upload_sessions",
		"Upload sessions in progress (started, neither completed nor cancelled), across all nodes.", nil, nil)
	gcRunsDesc = prometheus.NewDesc(namespace+"_gc_runs_total",
		"Garbage collection runs, across all nodes, by final status (running for one in progress).", []string{"status"}, nil)
	gcFreedDesc = prometheus.NewDesc(namespace+"_gc_bytes_freed_total",
		"Bytes of blobs deleted by garbage collection, across all nodes.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- uploadSessionsDesc
	ch <- gcRunsDesc
	ch <- gcFreedDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(uploadSessionsDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(uploadSessionsDesc, prometheus.GaugeValue, float64(s.UploadSessions))
	ch <- prometheus.MustNewConstMetric(gcFreedDesc, prometheus.CounterValue, float64(s.GCBytesFreed))
	for _, st := range []string{"pending", "running", "success", "error", "stopped"} {
		ch <- prometheus.MustNewConstMetric(gcRunsDesc, prometheus.CounterValue, float64(s.GCRuns[st]), st)
	}
}
