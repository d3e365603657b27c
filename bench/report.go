package main

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// regResult is everything measured on one registry.
type regResult struct {
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Managed bool     `json:"started_by_bench"`
	PeakRSS int64    `json:"peak_rss_bytes,omitempty"` // VmHWM at the end; 0 when the process is unknown
	Results []result `json:"results"`
	Error   string   `json:"error,omitempty"`
}

type report struct {
	Started    string              `json:"started"`
	Options    map[string]any      `json:"options"`
	Machine    machine             `json:"machine"`
	Registries []regResult         `json:"registries"`
	Ratios     map[string]ratioSet `json:"berth_ratio_to_peer"`
	// Rounds is --rounds; with more than one, Spread holds the lowest and
	// the highest of berth's per-round ratios, keyed like Ratios.
	Rounds    int                              `json:"rounds,omitempty"`
	Spread    map[string]map[string][2]float64 `json:"berth_ratio_spread,omitempty"`
	Fractions map[string]float64               `json:"berth_fraction_of_machine"`
	Notes     []string                         `json:"notes"`
}

// ratioSet maps "workload/metric" to berth's value over the peer's.
type ratioSet map[string]float64

// metric is one row of the table.
type metric struct {
	workload, name string
	higherBetter   bool
	get            func(result) float64
}

func rate(r result) float64   { return r.MBps }
func ops(r result) float64    { return r.OpsPerS }
func p50(r result) float64    { return r.P50ms }
func p99(r result) float64    { return r.P99ms }
func cpuGB(r result) float64  { return r.CPUsPerGB }
func peakMB(r result) float64 { return r.PeakRSSMB }

// metricsFor returns the rows shown for a workload, by its kind.
func metricsFor(w string) []metric {
	m := func(name string, hb bool, get func(result) float64) metric { return metric{w, name, hb, get} }
	switch {
	case strings.HasPrefix(w, "large push ×"):
		return []metric{m("MB/s", true, rate), m("peak RSS MB", false, peakMB), m("CPU s/GB", false, cpuGB)}
	case strings.HasPrefix(w, "large"):
		return []metric{m("MB/s", true, rate), m("CPU s/GB", false, cpuGB)}
	case strings.HasPrefix(w, "small"), strings.HasPrefix(w, "mixed blobs"):
		return []metric{m("blobs/s", true, ops), m("MB/s", true, rate), m("p50 ms", false, p50), m("p99 ms", false, p99), m("CPU s/GB", false, cpuGB)}
	case strings.HasPrefix(w, "image"):
		return []metric{m("images/s", true, ops), m("MB/s", true, rate), m("p50 ms", false, p50), m("p99 ms", false, p99), m("CPU s/GB", false, cpuGB)}
	case strings.HasPrefix(w, "tag list"), strings.HasPrefix(w, "catalog"):
		return []metric{m("lists/s", true, ops), m("p50 ms", false, p50), m("p99 ms", false, p99)}
	case w == "mixed CI":
		return []metric{m("ops/s", true, ops), m("p50 ms", false, p50), m("p99 ms", false, p99), m("peak RSS MB", false, peakMB)}
	default:
		return []metric{m("req/s", true, ops), m("p50 ms", false, p50), m("p99 ms", false, p99)}
	}
}

// allMetrics lists the rows of every workload any registry ran, in the
// order they ran.
func allMetrics(rep *report) []metric {
	var out []metric
	seen := map[string]bool{}
	for _, reg := range rep.Registries {
		for _, r := range reg.Results {
			if !seen[r.Workload] {
				seen[r.Workload] = true
				out = append(out, metricsFor(r.Workload)...)
			}
		}
	}
	return out
}

func find(rs []result, workload string) (result, bool) {
	for _, r := range rs {
		if r.Workload == workload {
			return r, true
		}
	}
	return result{}, false
}

func value(reg regResult, m metric) (float64, bool) {
	r, ok := find(reg.Results, m.workload)
	if !ok {
		return 0, false
	}
	v := m.get(r)
	return v, v > 0
}

// computeRatios fills rep.Ratios and rep.Fractions; registry 0 is berth.
func computeRatios(rep *report) {
	rep.Ratios = map[string]ratioSet{}
	rep.Fractions = map[string]float64{}
	if len(rep.Registries) == 0 || rep.Registries[0].Name != "berth" {
		return
	}
	b := rep.Registries[0]
	for _, p := range rep.Registries[1:] {
		rs := ratioSet{}
		for _, m := range allMetrics(rep) {
			bv, ok1 := value(b, m)
			pv, ok2 := value(p, m)
			if ok1 && ok2 {
				rs[m.workload+"/"+m.name] = bv / pv
			}
		}
		if b.PeakRSS > 0 && p.PeakRSS > 0 {
			rs["peak RSS"] = float64(b.PeakRSS) / float64(p.PeakRSS)
		}
		rep.Ratios[p.Name] = rs
	}
	for _, f := range fractionRows {
		if r, ok := find(b.Results, f.workload); ok && fractionOf(r, f.bound) > 0 {
			rep.Fractions[f.key] = fractionOf(r, f.bound)
		}
	}
}

func num(v float64) string {
	switch {
	case v == 0:
		return "–"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func markdown(rep *report) string {
	var sb strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	w("# berth benchmark (%s)\n\n", rep.Started)
	w("Options: %s\n\n", optionsLine(rep.Options))
	w("## Machine limits (same bytes, same run)\n\n")
	w("| limit | MB/s |\n|---|---:|\n")
	w("| sha256 in process (1 core) | %s |\n", num(rep.Machine.SHA256MBps))
	w("| fsync'd sequential write, best of page cache and O_DIRECT (%s) | %s |\n", rep.Machine.Dir, num(rep.Machine.DiskMBps))
	w("| loopback TCP copy | %s |\n", num(rep.Machine.LoopbackMBps))
	w("| verified-ingest probe: loopback receive, sha256 and O_DIRECT write overlapped, fsync'd | %s |\n\n", num(rep.Machine.IngestMBps))

	var peers []regResult
	if len(rep.Registries) > 1 && rep.Registries[0].Name == "berth" {
		peers = rep.Registries[1:]
	}
	w("## Registries\n\n| workload | metric |")
	for _, r := range rep.Registries {
		w(" %s |", r.Name)
	}
	for _, p := range peers {
		w(" berth / %s |", p.Name)
	}
	w("\n|---|---|")
	for range len(rep.Registries) + len(peers) {
		w("---:|")
	}
	w("\n")
	for _, m := range allMetrics(rep) {
		w("| %s | %s |", m.workload, m.name)
		for _, r := range rep.Registries {
			v, _ := value(r, m)
			w(" %s |", num(v))
		}
		for _, p := range peers {
			key := m.workload + "/" + m.name
			w(" %s%s |", ratioCell(rep.Ratios[p.Name][key], m.higherBetter), spreadCell(rep.Spread[p.Name][key]))
		}
		w("\n")
	}
	w("| process | peak RSS MB |")
	for _, r := range rep.Registries {
		w(" %s |", num(float64(r.PeakRSS)/1e6))
	}
	for _, p := range peers {
		w(" %s |", ratioCell(rep.Ratios[p.Name]["peak RSS"], false))
	}
	w("\n\nRatios are berth's value over the peer's; ✓ marks where berth is better.")
	if rep.Rounds > 1 {
		w(" Figures are medians over %d rounds, each with new content; a ratio is of the medians, and after it, in brackets, the lowest and the highest of the rounds' own ratios.", rep.Rounds)
	}
	w("\n")
	for _, r := range rep.Registries {
		if r.Error != "" {
			w("\n**%s failed:** %s\n", r.Name, r.Error)
		}
	}
	if len(rep.Fractions) > 0 {
		w("\n## Against the machine's limits (each measured right before the sample)\n\n| figure |")
		for _, r := range rep.Registries {
			w(" %s |", r.Name)
		}
		w(" berth's target |\n|---|")
		for range rep.Registries {
			w("---:|")
		}
		w("---:|\n")
		for _, f := range fractionRows {
			w("| %s |", f.key)
			for _, reg := range rep.Registries {
				r, _ := find(reg.Results, f.workload)
				if v := fractionOf(r, f.bound); v > 0 {
					w(" %.0f %% |", v*100)
				} else {
					w(" – |")
				}
			}
			w(" %s |\n", cmp.Or(f.target, "–"))
		}
	}
	if len(rep.Notes) > 0 {
		w("\n## Notes\n\n")
		for _, n := range rep.Notes {
			w("- %s\n", n)
		}
	}
	return sb.String()
}

// fractionRows are the figures against the machine: bound rows divide
// by the verified-ingest probe, the others by a limit; target is
// berth's, from the issue ("" for none).
var fractionRows = []struct {
	workload, key string
	bound         bool
	target        string
}{
	{"large push monolithic", "large push monolithic / min(sha256, disk)", false, "≥ 80 %"},
	{"large push chunked", "large push chunked / min(sha256, disk)", false, "≥ 80 %"},
	{"large pull", "large pull / loopback", false, "≥ 80 %"},
	{firstPull, "large pull, first after push / loopback", false, "≥ 80 %"},
	{coldPull, "large pull, cold / min(cold disk read, loopback)", false, ""},
	{"large push monolithic", "large push monolithic / verified-ingest probe", true, ""},
	{"large push chunked", "large push chunked / verified-ingest probe", true, ""},
}

// fractionOf is r's fraction for row f.
func fractionOf(r result, bound bool) float64 {
	if bound {
		return r.BoundFraction
	}
	return r.Fraction
}

func ratioCell(v float64, higherBetter bool) string {
	if v == 0 {
		return "–"
	}
	mark := ""
	if (higherBetter && v > 1) || (!higherBetter && v < 1) {
		mark = " ✓"
	}
	return fmt.Sprintf("%.2f×%s", v, mark)
}

// optionValue prints whole numbers as integers: read back from JSON
// (--render) every number is a float64.
func optionValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = optionValue(e)
		}
		return out
	}
	return v
}

// spreadCell is " [lo–hi]" for a ratio's range over the rounds, or "".
func spreadCell(lohi [2]float64) string {
	if lohi[0] == 0 {
		return ""
	}
	return fmt.Sprintf(" [%.2f–%.2f]", lohi[0], lohi[1])
}

func optionsLine(o map[string]any) string {
	keys := []string{"large_size", "small_size", "small_count", "clients", "duration", "repeat", "rounds",
		"concurrent_large", "image_clients", "image_layer_size", "tags", "repos", "mixed_count"}
	var parts []string
	for _, k := range keys {
		if v, ok := o[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, optionValue(v)))
		}
	}
	return strings.Join(parts, ", ")
}
