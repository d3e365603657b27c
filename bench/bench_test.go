package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// TestMain lets the test binary be the ingest probe's sender, as the
// bench binary is (ingestRate runs os.Executable()).
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == ingestSenderArg {
		if err := ingestSender(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "ingest sender:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

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
	img := drawChart(t, rep)
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

func TestMergeRounds(t *testing.T) {
	round := func(push, p50, cpu float64, list bool) []result {
		rs := []result{
			{Workload: "large push monolithic", MBps: push * 10, Samples: []float64{push * 10}, Fraction: push / 100},
			{Workload: "image push ×1", OpsPerS: push, MBps: push * 2, P50ms: p50, CPUsPerGB: cpu, Ops: 48},
		}
		if list {
			rs = append(rs, result{Workload: "tag list 10", OpsPerS: 7})
		}
		return rs
	}
	// The list ran in the first round only; one round is far off.
	got := mergeRounds([][]result{round(50, 20, 10, true), round(60, 10, 12, false), round(5, 90, 11, false)})
	if len(got) != 3 || got[0].Workload != "large push monolithic" || got[1].Workload != "image push ×1" || got[2].Workload != "tag list 10" {
		t.Fatalf("workloads: %+v", got)
	}
	im := got[1]
	if im.OpsPerS != 50 || im.MBps != 100 || im.P50ms != 20 || im.CPUsPerGB != 11 || im.Ops != 48 {
		t.Errorf("image push medians: %+v", im)
	}
	if !slices.Equal(im.Rounds, []float64{50, 60, 5}) {
		t.Errorf("image push rounds: %v", im.Rounds)
	}
	// The large push's main figure is MB/s; its samples are every round's.
	if lp := got[0]; lp.MBps != 500 || lp.Fraction != 0.5 || !slices.Equal(lp.Rounds, []float64{500, 600, 50}) || len(lp.Samples) != 3 {
		t.Errorf("large push: %+v", lp)
	}
	if tl := got[2]; tl.OpsPerS != 7 || tl.Rounds != nil {
		t.Errorf("tag list: %+v", tl)
	}
	// Two rounds: the mean of the two.
	if two := mergeRounds([][]result{round(40, 1, 1, false), round(60, 3, 1, false)}); two[1].OpsPerS != 50 || two[1].P50ms != 2 {
		t.Errorf("two rounds: %+v", two[1])
	}
	one := round(1, 2, 3, true)
	if got := mergeRounds([][]result{one}); len(got) != 3 || got[1].Rounds != nil {
		t.Errorf("one round: %+v", got)
	}
}

func TestSpreadsAndMarkdown(t *testing.T) {
	reg := func(name string, ops float64) regResult {
		return regResult{Name: name, Results: []result{{Workload: "image push ×1", OpsPerS: ops, P50ms: 100 / ops}}}
	}
	rounds := [][]regResult{
		{reg("berth", 60), reg("zot", 50)},
		{reg("berth", 45), reg("zot", 50)},
		{reg("berth", 66), reg("zot", 55)},
	}
	sp := spreads(rounds)
	if got := sp["zot"]["image push ×1/images/s"]; got != [2]float64{0.9, 1.2} {
		t.Errorf("spread = %v, want [0.9 1.2]", got)
	}
	rep := &report{Rounds: 3, Spread: sp, Registries: []regResult{
		{Name: "berth", Results: mergeRounds([][]result{rounds[0][0].Results, rounds[1][0].Results, rounds[2][0].Results})},
		{Name: "zot", Results: mergeRounds([][]result{rounds[0][1].Results, rounds[1][1].Results, rounds[2][1].Results})},
	}}
	computeRatios(rep)
	md := markdown(rep)
	for _, want := range []string{"| image push ×1 | images/s | 60.0 | 50.0 | 1.20× ✓ [0.90–1.20] |", "medians over 3 rounds"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseFlagsRounds(t *testing.T) {
	o, err := parseFlags([]string{"--rounds", "3", "--control"}, io.Discard)
	if err != nil || o.rounds != 3 || !o.control {
		t.Errorf("got rounds %d control %v, %v", o.rounds, o.control, err)
	}
	if o, _ := parseFlags(nil, io.Discard); o.rounds != 1 || o.control {
		t.Errorf("defaults: rounds %d control %v", o.rounds, o.control)
	}
	for _, args := range [][]string{{"--rounds", "0"}, {"--rounds", "21"}, {"--peer", controlName + "=http://127.0.0.1:5001"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

// TestRunAgainstBerth runs the whole tool, small, against the real berth
// binary and its control twin: two rounds, every workload but the lists.
func TestRunAgainstBerth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two berth processes")
	}
	tmp := t.TempDir()
	bin, err := berthproc.Binary(tmp, true)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	// The cold pull drops only this test's files from the page cache: the
	// machine's whole cache, dropped under tests running beside this one,
	// would take pages they check are cached.
	work := filepath.Join(tmp, "work")
	canDrop, drop := canDropCaches, dropCaches
	canDropCaches = func() bool { return true }
	dropCaches = func() error { return dropFileCaches(work) }
	defer func() { canDropCaches, dropCaches = canDrop, drop }()
	o, err := parseFlags([]string{"--berth-bin", bin, "--no-distribution", "--control", "--rounds", "2",
		"--large-size", "1MiB", "--repeat", "1", "--concurrent-large", "2", "--small-count", "20", "--mixed-count", "18",
		"--image-clients", "1,4", "--duration", "200ms", "--tags", "0", "--repos", "0",
		"--work-dir", work, "--out", out, "--timeout", "5m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout, _ = os.Open(os.DevNull)
	err = run(o)
	os.Stdout = stdout
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rounds != 2 || len(rep.Registries) != 2 || rep.Registries[0].Name != "berth" || rep.Registries[1].Name != controlName {
		t.Fatalf("rounds %d, registries %+v", rep.Rounds, rep.Registries)
	}
	want := []string{"large push monolithic", "large push chunked", "large pull", firstPull, coldPull, "large push ×2 concurrent", "small push", "small pull",
		"mixed blobs push", "mixed blobs pull", "manifest HEAD", "image push ×1", "image pull ×1", "image push ×4", "image pull ×4", "mixed CI"}
	for _, reg := range rep.Registries {
		if reg.Error != "" || len(reg.Results) != len(want) || reg.PeakRSS == 0 {
			t.Fatalf("%s: error %q, %d results, peak RSS %d", reg.Name, reg.Error, len(reg.Results), reg.PeakRSS)
		}
		for i, r := range reg.Results {
			main := metricsFor(r.Workload)[0].get(r)
			if r.Workload != want[i] || len(r.Rounds) != 2 || main <= 0 || main != median(slices.Clone(r.Rounds)) || r.CPUsPerGB < 0 {
				t.Errorf("%s: result %d: %+v", reg.Name, i, r)
			}
		}
	}
	for _, key := range []string{"image push ×1/images/s", "large push monolithic/MB/s", "small pull/blobs/s", firstPull + "/MB/s"} {
		lohi, ok := rep.Spread[controlName][key]
		ratio := rep.Ratios[controlName][key]
		if !ok || lohi[0] <= 0 || lohi[0] > lohi[1] {
			t.Errorf("spread of %s: %v", key, lohi)
		}
		if ratio <= 0 {
			t.Errorf("ratio of %s: %v", key, ratio)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| berth / "+controlName+" |") || !strings.Contains(string(md), "medians over 2 rounds") ||
		!strings.Contains(string(md), "| large pull, first after push / loopback |") {
		t.Errorf("results.md:\n%s", md)
	}
	if !strings.Contains(string(md), "| large pull, cold / min(cold disk read, loopback) |") {
		t.Errorf("results.md has no cold pull against the machine:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(out, "results.png")); err != nil {
		t.Error(err)
	}
}

func TestSpaceCheck(t *testing.T) {
	o, err := parseFlags([]string{"--large-size", "1MiB", "--repeat", "2", "--concurrent-large", "3", "--small-count", "10", "--small-size", "4KiB",
		"--mixed-count", "9", "--image-clients", "1", "--image-layer-size", "64KiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Large: 2+2 samples, the pull's and the first pull's blobs, 3
	// concurrent; 10 × 4 KiB; 4 KiB .. 1 MiB once each; 48 images of
	// 64+16+4+4 KiB layers.
	want := int64(9<<20 + 10*4<<10 + 511*4<<10 + 48*88<<10)
	if got := storedPerRound(o); got != want {
		t.Errorf("storedPerRound = %d, want %d", got, want)
	}
	o.only = regexp.MustCompile("^large pull")
	if got := storedPerRound(o); got != 2<<20 {
		t.Errorf("storedPerRound(--only '^large pull') = %d", got)
	}
	o.coldPull = true // and its blob when the cold pull runs
	if got := storedPerRound(o); got != 3<<20 {
		t.Errorf("storedPerRound(--only '^large pull', cold pull) = %d", got)
	}
	o.coldPull = false
	dir := t.TempDir()
	if err := checkSpace(o, dir, 2); err != nil {
		t.Errorf("4 MiB refused: %v", err)
	}
	o.largeSize = 1 << 50
	if err := checkSpace(o, dir, 2); err == nil || !strings.Contains(err.Error(), "free") {
		t.Errorf("a run that cannot fit: %v", err)
	}
}

// With several rounds, the chart draws each main figure's range over
// the rounds as a black line across its bar.
func TestChartRoundRanges(t *testing.T) {
	rep := &report{Started: "2026-11-27T00:00:00Z", Rounds: 3, Registries: []regResult{
		{Name: "berth", Results: []result{{Workload: "image push ×1", OpsPerS: 60, MBps: 80, Rounds: []float64{60, 45, 66}}}},
		{Name: "zot", Results: []result{{Workload: "image push ×1", OpsPerS: 50, MBps: 70, Rounds: []float64{50, 50, 55}}}},
	}}
	img := drawChart(t, rep)
	black := func(x, y int) bool {
		r, g, b, _ := img.At(x, y).RGBA()
		return r == 0 && g == 0 && b == 0
	}
	barMax := chartWidth - labelWidth - valueWidth - chartMargin
	px := func(v float64) int { return labelWidth + int(float64(barMax)*v/66) } // 66: the highest round
	top := chartMargin + 12 + 3*18                                              // the first row: images/s
	mid := top + barHeight/2
	// berth's range 45..66 crosses its bar (median 60) and goes past it.
	for _, v := range []float64{45, 50, 60, 66} {
		if !black(px(v), mid) {
			t.Errorf("berth: no range line at %v", v)
		}
	}
	if black(px(40), mid) {
		t.Error("berth: the range line starts before the lowest round")
	}
	// zot's bar is the second; its range is 50..55.
	mid2 := mid + barHeight + barGap
	if !black(px(52), mid2) || black(px(58), mid2) {
		t.Error("zot: range line wrong")
	}
	// MB/s is not the main figure: no range on its row.
	groupH := 2*(barHeight+barGap) + groupGap
	if black(px(30), top+groupH+barHeight/2) {
		t.Error("a range on the MB/s row")
	}
}

// --render draws from a results.json what the run itself drew.
func TestRender(t *testing.T) {
	rep := &report{
		Started: "2026-11-27T00:00:00Z", Rounds: 2,
		Options: map[string]any{"large_size": int64(256 << 20), "rounds": 2, "image_clients": []int{1, 8}, "duration": "5s"},
		Machine: machine{SHA256MBps: 1400, CPUs: 2},
		Registries: []regResult{
			{Name: "berth", PeakRSS: 60e6, Results: []result{{Workload: "image push ×1", OpsPerS: 60, Rounds: []float64{60, 50}}}},
			{Name: "zot", Results: []result{{Workload: "image push ×1", OpsPerS: 50, Rounds: []float64{45, 55}}}},
		},
		Spread: map[string]map[string][2]float64{"zot": {"image push ×1/images/s": {0.9, 1.33}}},
	}
	computeRatios(rep)
	first := filepath.Join(t.TempDir(), "run")
	if err := writeResults(rep, first, false); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "again")
	if err := render(filepath.Join(first, "results.json"), again); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(first, "results.md"))
	got, err := os.ReadFile(filepath.Join(again, "results.md"))
	if err != nil || string(got) != string(want) {
		t.Errorf("rendered results.md differs (%v):\n%s\nwant:\n%s", err, got, want)
	}
	if !strings.Contains(string(got), "large_size=268435456") || !strings.Contains(string(got), "image_clients=[1 8]") ||
		!strings.Contains(string(got), "[0.90–1.33]") {
		t.Errorf("results.md:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(again, "results.png")); err != nil {
		t.Error(err)
	}
	bad := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(bad, []byte(`{"started":"x"}`), 0o644)
	if err := render(bad, again); err == nil {
		t.Error("a JSON without registries was rendered")
	}
}

// drawChart draws rep's chart and decodes it again.
func drawChart(t *testing.T, rep *report) image.Image {
	t.Helper()
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
	return img
}

// The cold pull runs only where the page cache may be dropped, and never
// with --no-cold-pull.
func TestWantColdPull(t *testing.T) {
	can := canDropCaches
	defer func() { canDropCaches = can }()
	for _, c := range []struct {
		args []string
		can  bool
		want bool
	}{
		{nil, true, true},
		{nil, false, false},
		{[]string{"--no-cold-pull"}, true, false},
		{[]string{"--no-cold-pull"}, false, false},
	} {
		o, err := parseFlags(c.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		canDropCaches = func() bool { return c.can }
		if got := wantColdPull(o); got != c.want {
			t.Errorf("%q with the cache droppable %v: cold pull %v, want %v", c.args, c.can, got, c.want)
		}
	}
}
