package main

import (
	"bytes"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one value: %v", got)
	}
}

func TestParsePeer(t *testing.T) {
	good := map[string]peer{
		"zot=http://127.0.0.1:5001":             {Name: "zot", URL: "http://127.0.0.1:5001"},
		"zot=http://127.0.0.1:5001/,u:p:w":      {Name: "zot", URL: "http://127.0.0.1:5001", User: "u", Pass: "p:w"},
		"harbor=https://localhost:8443,admin:x": {Name: "harbor", URL: "https://localhost:8443", User: "admin", Pass: "x"},
	}
	for in, want := range good {
		got, err := parsePeer(in)
		if err != nil || got != want {
			t.Errorf("parsePeer(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "zot", "=http://x", "zot=", "zot=127.0.0.1:5000", "zot=ftp://x", "zot=http://x,nopass", "zot=http://x,:p"} {
		if _, err := parsePeer(in); err == nil {
			t.Errorf("parsePeer(%q): no error", in)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--large-size", "64MiB", "--small-count", "200", "--duration", "2s",
		"--peer", "zot=http://127.0.0.1:5001", "--peer", "other=http://127.0.0.1:5002,u:p"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.largeSize != 64<<20 || o.smallCount != 200 || o.duration != 2*time.Second || o.smallSize != 16<<10 || o.clients != 8 {
		t.Errorf("options: %+v", o)
	}
	if len(o.peers) != 2 || o.peers[1].User != "u" || o.peers[1].Pass != "p" {
		t.Errorf("peers: %+v", o.peers)
	}
	for _, args := range [][]string{
		{"--peer", "zot=http://a", "--peer", "zot=http://b"},
		{"--peer", "berth=http://a"},
		{"--large-size", "0"},
		{"--large-size", "12XB"},
		{"--clients", "0"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "16KiB": 16 << 10, "256MiB": 256 << 20, "1GiB": 1 << 30, "64MB": 64e6, "2M": 2 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	s, p := parseChallenge(`Bearer realm="http://127.0.0.1:5000/service/token",service="berth"`)
	if s != "bearer" || p["realm"] != "http://127.0.0.1:5000/service/token" || p["service"] != "berth" {
		t.Errorf("got %q %v", s, p)
	}
}

func TestParseFlagsWorkloads(t *testing.T) {
	o, err := parseFlags([]string{"--image-clients", "1, 8,32", "--tags", "0", "--repeat", "5", "--only", "^large",
		"--peer", "zot=http://127.0.0.1:5001", "--peer-pid", "zot=42"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.imageClients, []int{1, 8, 32}) || o.tags != 0 || o.repos != 10_000 || o.repeat != 5 ||
		o.peerPIDs["zot"] != 42 || !o.only.MatchString("large pull") || o.only.MatchString("small push") {
		t.Errorf("options: %+v", o)
	}
	for _, args := range [][]string{
		{"--image-clients", "0"},
		{"--peer-pid", "zot=42"}, // no such peer
		{"--peer", "zot=http://a", "--peer-pid", "zot=x"},
		{"--repeat", "0"},
		{"--only", "("},
		{"--image-layer-size", "1KiB"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func TestSampledMedian(t *testing.T) {
	rates := []float64{300, 100, 200}
	limits := []float64{400, 1000, 100}
	i, j := 0, 0
	o := options{repeat: 3}
	r, err := sampled(o, func() (float64, float64, error) { j++; return limits[j-1], 2 * limits[j-1], nil }, func() (result, error) {
		i++
		return result{Workload: "w", MBps: rates[i-1]}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Median rate 200 over median limit 400.
	// The bound is twice each limit: median 800.
	if r.MBps != 200 || r.LimitMBps != 400 || r.Fraction != 0.5 || r.BoundMBps != 800 || r.BoundFraction != 0.25 || len(r.Samples) != 3 {
		t.Errorf("got %+v", r)
	}
}

func TestWorkloadContent(t *testing.T) {
	if mixedSize(0) != 4<<10 || mixedSize(8) != 1<<20 || mixedSize(9) != 4<<10 {
		t.Errorf("mixed sizes: %d %d %d", mixedSize(0), mixedSize(8), mixedSize(9))
	}
	a, b := pseudoRandom(1, 1000), pseudoRandom(1, 1000)
	if len(a) != 1000 || !bytes.Equal(a, b) || bytes.Equal(a, pseudoRandom(2, 1000)) {
		t.Error("pseudoRandom is not a function of its seed")
	}
	d := &workloadData{seed: 7, large: pseudoRandom(3, 4096)}
	d.prepareVariants(2)
	v0, _ := io.ReadAll(d.variant(0))
	if len(v0) != 4096 || digestOf(v0) != d.variantDigests[0] || d.variantDigests[0] == d.variantDigests[1] {
		t.Error("variants: wrong length or digest")
	}
	im := makeImage(5, []int{1 << 10, 4 << 10})
	if len(im.digests) != 3 || im.size() != int64(len(im.config)+len(im.manifest)+5<<10) ||
		!bytes.Contains(im.manifest, []byte(im.digests[2])) {
		t.Errorf("image: %d digests, size %d", len(im.digests), im.size())
	}
}

func TestReportAndChart(t *testing.T) {
	rep := &report{
		Started: "2026-11-26T00:00:00Z",
		Machine: machine{SHA256MBps: 1000, DiskMBps: 800, LoopbackMBps: 2000, CPUs: 2},
		Registries: []regResult{
			{Name: "berth", PeakRSS: 30e6, Results: []result{
				{Workload: "large push monolithic", MBps: 700, Fraction: 0.875},
				{Workload: "image push ×8", OpsPerS: 40, MBps: 50, P50ms: 10, P99ms: 30},
				{Workload: "tag list 10000", OpsPerS: 20, P50ms: 40, P99ms: 60},
			}},
			{Name: "zot", Results: []result{
				{Workload: "large push monolithic", MBps: 350, Fraction: 0.44},
				{Workload: "image push ×8", OpsPerS: 80, MBps: 100, P50ms: 5, P99ms: 20},
			}},
		},
	}
	computeRatios(rep)
	if got := rep.Ratios["zot"]["large push monolithic/MB/s"]; got != 2 {
		t.Errorf("ratio = %v, want 2", got)
	}
	if got := rep.Fractions["large push monolithic / min(sha256, disk)"]; got != 0.875 {
		t.Errorf("fraction = %v", got)
	}
	md := markdown(rep)
	for _, want := range []string{"| image push ×8 | images/s | 40.0 | 80.0 | 0.50× |", "| large push monolithic | MB/s | 700 | 350 | 2.00× ✓ |",
		"| tag list 10000 | lists/s | 20.0 | – | – |", "| large push monolithic / min(sha256, disk) | 88 % | 44 % | ≥ 80 % |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	path := filepath.Join(t.TempDir(), "results.png")
	if err := writeChart(path, rep); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Four higher-is-better rows (MB/s, images/s, MB/s, lists/s) of two bars.
	if b := img.Bounds(); b.Dx() != chartWidth || b.Dy() < 4*2*barHeight {
		t.Errorf("chart is %v", b)
	}
	// berth's bar of the first row is drawn in berth's colour.
	found := false
	for x := labelWidth; x < labelWidth+50 && !found; x++ {
		for y := 0; y < img.Bounds().Dy(); y++ {
			if r, g, b, _ := img.At(x, y).RGBA(); uint8(r>>8) == chartColors[0].R && uint8(g>>8) == chartColors[0].G && uint8(b>>8) == chartColors[0].B {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no bar in berth's colour")
	}
}
