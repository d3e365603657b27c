package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// startUpload POSTs to the upload endpoint and returns the absolute Location.
func (c *client) startUpload(ctx context.Context, repo string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return "", err
	}
	res, err := c.do(req, pushScope(repo))
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusAccepted {
		return "", statusErr("POST upload", res)
	}
	drain(res)
	return c.resolve(res.Header.Get("Location"))
}

// withDigest adds ?digest= to an upload location.
func withDigest(loc, digest string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("digest", digest)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// pushMonolithic is POST then one PUT carrying the whole blob.
func (c *client) pushMonolithic(ctx context.Context, repo string, data []byte, digest string) error {
	return c.pushReader(ctx, repo, digest, int64(len(data)), func() io.Reader { return bytes.NewReader(data) })
}

// pushChunked is POST, a PATCH per chunk, then a PUT with the digest.
func (c *client) pushChunked(ctx context.Context, repo string, data []byte, digest string, chunk int) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		req, err := http.NewRequestWithContext(ctx, "PATCH", loc, bytes.NewReader(data[off:end]))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, end-1))
		res, err := c.do(req, pushScope(repo))
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusAccepted {
			return statusErr(fmt.Sprintf("PATCH %d-%d", off, end-1), res)
		}
		drain(res)
		if loc, err = c.resolve(res.Header.Get("Location")); err != nil {
			return fmt.Errorf("PATCH: %w", err)
		}
	}
	u, err := withDigest(loc, digest)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", u, nil)
	if err != nil {
		return err
	}
	res, err := c.do(req, pushScope(repo))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusCreated {
		return statusErr("PUT (close upload)", res)
	}
	drain(res)
	return nil
}

// pull GETs a blob, discards it and checks its length.
func (c *client) pull(ctx context.Context, repo, digest string, size int64) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		return err
	}
	res, err := c.do(req, pullScope(repo))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return statusErr("GET blob", res)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return fmt.Errorf("GET blob: %w", err)
	}
	if n != size {
		return fmt.Errorf("GET blob: %d bytes, want %d", n, size)
	}
	return nil
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// pushManifest uploads config and layer blobs and a manifest tagged tag.
func (c *client) pushManifest(ctx context.Context, repo, tag string, layer []byte) error {
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd, ld := digestOf(config), digestOf(layer)
	if err := c.pushMonolithic(ctx, repo, config, cd); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.pushMonolithic(ctx, repo, layer, ld); err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        desc{"application/vnd.oci.image.config.v1+json", cd, len(config)},
		"layers":        []desc{{"application/vnd.oci.image.layer.v1.tar", ld, len(layer)}},
	})
	return c.putManifest(ctx, repo, tag, m)
}

func (c *client) headManifest(ctx context.Context, repo, tag string) error {
	req, err := http.NewRequestWithContext(ctx, "HEAD", c.base+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", ociManifest)
	res, err := c.do(req, pullScope(repo))
	if err != nil {
		return err
	}
	drain(res)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HEAD manifest: %s", res.Status)
	}
	return nil
}

// result is one measured figure set of one workload on one registry.
type result struct {
	Workload string  `json:"workload"`
	Ops      int     `json:"ops"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
	MBps     float64 `json:"mb_per_s,omitempty"`
	OpsPerS  float64 `json:"ops_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	// CPU seconds the registry process used per GB moved (10^9 bytes);
	// 0 when its process is unknown or nothing was moved.
	CPUsPerGB float64 `json:"cpu_s_per_gb,omitempty"`
	CPUs      float64 `json:"cpu_s,omitempty"`
	// PeakRSSMB is the registry's largest resident set seen during the
	// workload (sampled every 20 ms), in MB.
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	// Rounds is the workload's main figure (ops/s, or MB/s for the large
	// blobs) in each round (--rounds), when there were several; the
	// figures here are then the medians over the rounds.
	Rounds []float64 `json:"round_figures,omitempty"`
	// Samples are the rates of repeated runs (--repeat); the figures above
	// are of the median one. LimitMBps is the median of the machine limit
	// measured right before each; Fraction is the median rate over it.
	Samples   []float64 `json:"samples_mb_per_s,omitempty"`
	LimitMBps float64   `json:"limit_mb_per_s,omitempty"`
	Fraction  float64   `json:"fraction_of_limit,omitempty"`
	// BoundMBps is the median of the verified-ingest probe measured
	// beside the pushes (ingestRate); BoundFraction the median rate over it.
	BoundMBps     float64 `json:"ingest_bound_mb_per_s,omitempty"`
	BoundFraction float64 `json:"fraction_of_ingest_bound,omitempty"`
	// moved counts every byte the workload moved, when that is more than
	// Bytes (repeated samples, setup pushes): CPU s/GB divides by it.
	moved int64
}

func summarize(name string, lat []time.Duration, bytes int64, d time.Duration) result {
	r := result{Workload: name, Ops: len(lat), Bytes: bytes, Seconds: d.Seconds()}
	if bytes > 0 {
		r.MBps = mbps(bytes, d)
	}
	if d > 0 {
		r.OpsPerS = float64(len(lat)) / d.Seconds()
	}
	r.P50ms, r.P99ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	return r
}

// timed runs f once and returns its latency.
func timed(f func() error) (time.Duration, error) {
	t := time.Now()
	err := f()
	return time.Since(t), err
}

// parallel runs job(i) for i in [0,n) on `clients` goroutines and returns
// every latency; the first error stops the rest.
func parallel(ctx context.Context, n, clients int, job func(ctx context.Context, i int) error) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	return workers(ctx, clients, func(ctx context.Context) (bool, error) {
		i := int(next.Add(1) - 1)
		if i >= n {
			return false, nil
		}
		if err := job(ctx, i); err != nil {
			return true, fmt.Errorf("item %d: %w", i, err)
		}
		return true, nil
	})
}

// forDuration runs job on `clients` goroutines until d has passed or
// maxOps were done, and returns every latency. A request cut off by the
// end of d is not a failure.
func forDuration(ctx context.Context, d time.Duration, clients, maxOps int, job func(ctx context.Context) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var count atomic.Int64
	lats, el, err := workers(ctx, clients, func(cx context.Context) (bool, error) {
		if count.Add(1) > int64(maxOps) {
			return false, nil
		}
		return true, job(cx)
	})
	if err != nil && ctx.Err() != nil {
		err = nil // the clock ran out mid-request
	}
	return lats, el, err
}

// workers calls op on `clients` goroutines, each until op reports no more
// work, an operation fails or ctx ends, and returns the latency of every
// operation that did work and succeeded, the time taken and the first
// error, which stops the others.
func workers(ctx context.Context, clients int, op func(ctx context.Context) (more bool, err error)) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var firstErr error
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				more, err := op(ctx)
				el := time.Since(t)
				if !more {
					return
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				lat[w] = append(lat[w], el)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return all, elapsed, firstErr
}

// workloadData is the content every registry gets, made once.
type workloadData struct {
	seed        uint64 // varies per run so that no registry has seen the content
	large       []byte
	largeDigest string
	// variants of large for the concurrent push: large with its first 16
	// bytes replaced by variantPrefix(i).
	variantDigests []string
	small          [][]byte
	smallDigests   []string
	mixed          [][]byte // 4 KiB .. 1 MiB
	mixedDigests   []string
}

func variantPrefix(seed uint64, i int) []byte {
	return []byte(fmt.Sprintf("%08x%08x", uint32(seed), i))[:16]
}

// variant reads large with the prefix of variant i.
func (d *workloadData) variant(i int) io.Reader {
	return io.MultiReader(bytes.NewReader(variantPrefix(d.seed, i)), bytes.NewReader(d.large[16:]))
}

func (d *workloadData) variantDigest(i int) string {
	h := sha256.New()
	io.Copy(h, d.variant(i))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// prepareVariants computes the digests of n variants of large.
func (d *workloadData) prepareVariants(n int) {
	for i := range n {
		d.variantDigests = append(d.variantDigests, d.variantDigest(i))
	}
}

// mixedSizes cycles through 4 KiB, 8 KiB … 1 MiB.
func mixedSize(i int) int { return 4 << 10 << (i % 9) }

// step is one timed workload. setup, when set, runs first, outside the
// CPU and memory measurement. A step that is once runs in the first
// round only (--rounds).
type step struct {
	name  string
	f     func(ctx context.Context) (result, error)
	setup func(ctx context.Context) error
	once  bool
}

// The pull-once workloads (pullOnce) and the variants of the large blob
// they push: firstPull pulls it right after its push, coldPull with
// nothing in the page cache.
const (
	firstPull        = "large pull, first after push"
	firstPullVariant = 200
	coldPull         = "large pull, cold"
	coldPullVariant  = 300
)

// limitFunc measures, right before a sample, the machine limit the
// sample is judged against and, when not 0, a bound on what a registry
// could reach (the verified-ingest probe for pushes), both in MB/s.
type limitFunc func() (limit, bound float64, err error)

// sampled runs f o.repeat times, each right after limit() (when not nil),
// and returns the sample with the median rate, every rate seen, and the
// median rate over the median limit.
func sampled(o options, limit limitFunc, f func() (result, error)) (result, error) {
	type sample struct {
		r            result
		limit, bound float64
	}
	var ss []sample
	for range o.repeat {
		var lim, bound float64
		if limit != nil {
			var err error
			if lim, bound, err = limit(); err != nil {
				return result{}, fmt.Errorf("machine limit: %w", err)
			}
		}
		r, err := f()
		if err != nil {
			return r, err
		}
		ss = append(ss, sample{r, lim, bound})
	}
	var moved int64
	for _, s := range ss {
		moved += s.r.Bytes
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].r.MBps < ss[j].r.MBps })
	out := ss[len(ss)/2].r
	out.moved = moved
	var lims, bounds []float64
	for _, s := range ss {
		out.Samples = append(out.Samples, s.r.MBps)
		if s.limit > 0 {
			lims = append(lims, s.limit)
		}
		if s.bound > 0 {
			bounds = append(bounds, s.bound)
		}
	}
	if len(lims) > 0 {
		sort.Float64s(lims)
		out.LimitMBps = lims[len(lims)/2]
		out.Fraction = out.MBps / out.LimitMBps
	}
	if len(bounds) > 0 {
		sort.Float64s(bounds)
		out.BoundMBps = bounds[len(bounds)/2]
		out.BoundFraction = out.MBps / out.BoundMBps
	}
	return out, nil
}

// runStep runs one workload on registry reg, from a machine with no
// dirty pages left by the one before. pid, when not 0, is the registry's
// process: its CPU time and resident memory are measured.
func runStep(ctx context.Context, s step, reg string, pid int, log func(string, ...any)) (result, error) {
	settle()
	if s.setup != nil {
		if err := s.setup(ctx); err != nil {
			return result{}, fmt.Errorf("%s: setup: %w", s.name, err)
		}
	}
	var before float64
	ok := false
	var rss *rssSampler
	if pid != 0 {
		before, ok = cpuSeconds(pid)
		rss = sampleRSS(pid, 20*time.Millisecond)
	}
	r, err := s.f(ctx)
	if rss != nil {
		r.PeakRSSMB = float64(rss.stop()) / 1e6
	}
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", s.name, err)
	}
	if ok {
		if after, ok2 := cpuSeconds(pid); ok2 {
			r.CPUs = after - before
			if moved := max(r.moved, r.Bytes); moved > 0 {
				r.CPUsPerGB = r.CPUs / (float64(moved) / 1e9)
			}
		}
	}
	log("  %-12s %-26s %s", reg, r.Workload, brief(r))
	return r, nil
}

// workloadSteps returns the workloads to run against the registry c
// talks to, in order (a later one may use what an earlier one stored),
// leaving out those --only does not match.
func workloadSteps(c *client, d *workloadData, o options) []step {
	large := int64(len(d.large))
	bigCtx := func(ctx context.Context, n int64) (context.Context, context.CancelFunc) {
		// At least 1 MB/s, never under 2 minutes.
		return context.WithTimeout(ctx, 2*time.Minute+time.Duration(n/1e6)*time.Second)
	}
	pushLimit := func() (float64, float64, error) {
		disk, err := diskRate(o.scratch, d.large)
		if err != nil {
			return 0, 0, err
		}
		ingest, err := ingestRate(o.scratch, d.large)
		if err != nil {
			return 0, 0, err
		}
		return min(disk, sha256Rate(d.large, 1)), ingest, nil
	}
	pullLimit := func() (float64, float64, error) {
		lo, err := loopbackRate(d.large)
		return lo, 0, err
	}
	repoL := "bench/large"
	// pullOnce is a workload that pulls, once per round, a new variant of
	// the large blob that its setup pushes (untimed); prepare, when set,
	// runs after that push.
	pullOnce := func(name string, variant int, limit limitFunc, prepare func() error) step {
		var dg string
		return step{name: name, f: func(ctx context.Context) (result, error) {
			if dg == "" {
				return result{}, errors.New("no push before the pull")
			}
			cx, cancel := bigCtx(ctx, large)
			defer cancel()
			one := o
			one.repeat = 1 // only the first pull is this one
			return sampled(one, limit, func() (result, error) {
				lat, err := timed(func() error { return c.pull(cx, repoL, dg, large) })
				return summarize(name, []time.Duration{lat}, large, lat), err
			})
		}, setup: func(ctx context.Context) error {
			cx, cancel := bigCtx(ctx, large)
			defer cancel()
			v := d.variantDigest(variant)
			if err := c.pushReader(cx, repoL, v, large, func() io.Reader { return d.variant(variant) }); err != nil {
				return err
			}
			dg = v
			if prepare != nil {
				return prepare()
			}
			return nil
		}}
	}
	steps := []step{
		{name: "large push monolithic", f: func(ctx context.Context) (result, error) {
			i := 0
			return sampled(o, pushLimit, func() (result, error) {
				cx, cancel := bigCtx(ctx, large)
				defer cancel()
				i++
				v := 100 + i // a new variant each time: never already stored
				dg := d.variantDigest(v)
				lat, err := timed(func() error {
					return c.pushReader(cx, repoL, dg, large, func() io.Reader { return d.variant(v) })
				})
				return summarize("large push monolithic", []time.Duration{lat}, large, lat), err
			})
		}},
		{name: "large push chunked", f: func(ctx context.Context) (result, error) {
			i := 0
			return sampled(o, pushLimit, func() (result, error) {
				cx, cancel := bigCtx(ctx, large)
				defer cancel()
				i++
				// Chunks are slices of large: a variant differs in its first
				// byte only, restored afterwards.
				d.large[0] ^= byte(i)
				defer func() { d.large[0] ^= byte(i) }()
				dg := digestOf(d.large)
				lat, err := timed(func() error { return c.pushChunked(cx, repoL, d.large, dg, 16<<20) })
				return summarize("large push chunked", []time.Duration{lat}, large, lat), err
			})
		}},
		{name: "large pull", f: func(ctx context.Context) (result, error) {
			cx, cancel := bigCtx(ctx, large)
			defer cancel()
			return sampled(o, pullLimit, func() (result, error) {
				lat, err := timed(func() error { return c.pull(cx, repoL, d.largeDigest, large) })
				return summarize("large pull", []time.Duration{lat}, large, lat), err
			})
		}, setup: func(ctx context.Context) error {
			cx, cancel := bigCtx(ctx, large)
			defer cancel()
			return c.pushMonolithic(cx, repoL, d.large, d.largeDigest)
		}},
		// The pull that follows a push at once (a CI job's image, deployed):
		// whatever the push left in the page cache, or not.
		pullOnce(firstPull, firstPullVariant, pullLimit, nil),
	}
	if o.coldPull {
		// The pull of a layer pushed long ago, or served after a restart:
		// the usual pull of a registry whose layers do not all fit in
		// memory. Right before the sample the page cache is emptied, for
		// every registry's files alike, and the disk's cold read rate is
		// measured; the limit is the lower of it and the loopback copy.
		probe := filepath.Join(o.scratch, "cold-probe")
		coldLimit := func() (float64, float64, error) { // once per round (repeat 1)
			defer os.Remove(probe)
			lo, err := loopbackRate(d.large)
			if err != nil {
				return 0, 0, err
			}
			disk, err := coldReadRate(probe) // drops the cache first
			if err != nil {
				return 0, 0, err
			}
			if err := dropCaches(); err != nil { // the probe's pages too
				return 0, 0, err
			}
			return min(lo, disk), 0, nil
		}
		steps = append(steps, pullOnce(coldPull, coldPullVariant, coldLimit, func() error { return writeProbeFile(probe, d.large) }))
	}
	if o.concurrentLarge > 0 {
		name := fmt.Sprintf("large push ×%d concurrent", o.concurrentLarge)
		steps = append(steps, step{name: name, f: func(ctx context.Context) (result, error) {
			n := int64(o.concurrentLarge)
			cx, cancel := bigCtx(ctx, large*n)
			defer cancel()
			lat, el, err := parallel(cx, o.concurrentLarge, o.concurrentLarge, func(cx context.Context, i int) error {
				return c.pushReader(cx, fmt.Sprintf("bench/large%d", i), d.variantDigests[i], large, func() io.Reader { return d.variant(i) })
			})
			return summarize(name, lat, large*int64(len(lat)), el), err
		}})
	}
	steps = append(steps,
		step{name: "small push", f: func(ctx context.Context) (result, error) {
			cx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			lat, el, err := parallel(cx, len(d.small), o.clients, func(cx context.Context, i int) error {
				return c.pushMonolithic(cx, "bench/small", d.small[i], d.smallDigests[i])
			})
			return summarize("small push", lat, int64(len(lat))*int64(o.smallSize), el), err
		}},
		step{name: "small pull", f: func(ctx context.Context) (result, error) {
			cx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			lat, el, err := parallel(cx, len(d.small), o.clients, func(cx context.Context, i int) error {
				return c.pull(cx, "bench/small", d.smallDigests[i], int64(len(d.small[i])))
			})
			return summarize("small pull", lat, int64(len(lat))*int64(o.smallSize), el), err
		}},
		step{name: "mixed blobs push", f: func(ctx context.Context) (result, error) {
			cx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			var moved atomic.Int64
			lat, el, err := parallel(cx, len(d.mixed), o.clients, func(cx context.Context, i int) error {
				err := c.pushMonolithic(cx, "bench/mixed", d.mixed[i], d.mixedDigests[i])
				if err == nil {
					moved.Add(int64(len(d.mixed[i])))
				}
				return err
			})
			return summarize("mixed blobs push", lat, moved.Load(), el), err
		}},
		step{name: "mixed blobs pull", f: func(ctx context.Context) (result, error) {
			cx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			var moved atomic.Int64
			lat, el, err := parallel(cx, len(d.mixed), o.clients, func(cx context.Context, i int) error {
				err := c.pull(cx, "bench/mixed", d.mixedDigests[i], int64(len(d.mixed[i])))
				if err == nil {
					moved.Add(int64(len(d.mixed[i])))
				}
				return err
			})
			return summarize("mixed blobs pull", lat, moved.Load(), el), err
		}},
		step{name: "manifest HEAD", f: func(ctx context.Context) (result, error) {
			cx, cancel := context.WithTimeout(ctx, time.Minute+o.duration)
			defer cancel()
			if err := c.pushManifest(cx, "bench/manifest", "v1", d.small[0]); err != nil {
				return result{}, err
			}
			lat, el, err := forDuration(cx, o.duration, o.clients, 10_000_000, func(cx context.Context) error {
				return c.headManifest(cx, "bench/manifest", "v1")
			})
			return summarize("manifest HEAD", lat, 0, el), err
		}},
	)
	steps = append(steps, imageWorkloads(c, d, o)...)
	if o.tags > 0 || o.repos > 0 {
		for _, s := range listWorkloads(c, d, o) {
			if (strings.HasPrefix(s.name, "tag list") && o.tags > 0) || (strings.HasPrefix(s.name, "catalog") && o.repos > 0) {
				steps = append(steps, s)
			}
		}
	}
	steps = append(steps, mixedWorkload(c, d, o))
	var out []step
	for _, s := range steps {
		if o.only == nil || o.only.MatchString(s.name) {
			out = append(out, s)
		}
	}
	return out
}

func brief(r result) string {
	s := ""
	if r.MBps > 0 {
		s += strconv.FormatFloat(r.MBps, 'f', 1, 64) + " MB/s  "
	}
	s += fmt.Sprintf("%.0f ops/s  p50 %.2f ms  p99 %.2f ms", r.OpsPerS, r.P50ms, r.P99ms)
	if r.CPUsPerGB > 0 {
		s += fmt.Sprintf("  %.2f CPU s/GB", r.CPUsPerGB)
	}
	return s
}
