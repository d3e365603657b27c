// Command bench measures berth against distribution 2.8 and any other
// running registry (--peer), side by side in one run, and against this
// machine's limits (sha256, fsync'd disk writes, loopback TCP) measured with
// the same bytes. It writes a Markdown table to stdout and
// bench-results/results.md, and JSON to bench-results/results.json.
//
//	go run ./bench [--large-size 256MiB] [--small-count 1000] [--clients 8] [--duration 5s] [--repeat 3]
//	    [--rounds 1] [--control] [--tags 10000] [--repos 10000] [--only REGEXP]
//	    [--peer NAME=URL[,user:pass]]... [--peer-pid NAME=PID]...
//
// It also draws the registries side by side in bench-results/results.png.
//
// Everything runs on loopback; every workload is bounded in count and time.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	largeSize    int64
	smallSize    int
	smallCount   int
	clients      int
	duration     time.Duration
	timeout      time.Duration
	berthBin     string
	distribution string
	noDist       bool
	noColdPull   bool
	workDir      string
	outDir       string
	peers        peerFlags
	peerPIDs     map[string]int

	repeat          int
	rounds          int    // whole passes over the workloads, each with new content
	control         bool   // also run a second berth, as a peer, to show the noise
	render          string // a results.json to draw again, measuring nothing
	concurrentLarge int
	imageClients    []int
	imageLayerSize  int
	tags, repos     int
	mixedCount      int
	only            *regexp.Regexp
	scratch         string // where the disk probe writes (the work dir)
	coldPull        bool   // the page cache can be dropped: run the cold pull
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	large := sizeFlag(256 << 20)
	small := sizeFlag(16 << 10)
	fs.Var(&large, "large-size", "size of the large blob (e.g. 256MiB, 1GiB)")
	fs.Var(&small, "small-size", "size of each small blob")
	fs.IntVar(&o.smallCount, "small-count", 1000, "number of small blobs")
	fs.IntVar(&o.clients, "clients", 8, "concurrent clients for the small-blob and manifest workloads")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of the manifest HEAD workload")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.StringVar(&o.berthBin, "berth-bin", "bin/berth", "berth binary (built from ./cmd/berth when missing)")
	fs.StringVar(&o.distribution, "distribution-bin", "/usr/bin/docker-registry", "distribution 2.8 binary (Debian package docker-registry)")
	fs.BoolVar(&o.noDist, "no-distribution", false, "do not start distribution")
	fs.BoolVar(&o.noColdPull, "no-cold-pull", false, "never drop the machine's page cache (the cold pull, which does so as root, is left out)")
	fs.StringVar(&o.workDir, "work-dir", "", "where data dirs go (default: a new temp dir; it is removed at the end)")
	fs.StringVar(&o.outDir, "out", "bench-results", "directory for results.md and results.json")
	fs.Var(&o.peers, "peer", "another running registry, NAME=URL[,user:pass] (repeatable)")
	o.peerPIDs = map[string]int{}
	fs.Func("peer-pid", "NAME=PID: the process of a --peer, to measure its CPU time and memory (repeatable)", func(v string) error {
		name, pid, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n <= 0 {
			return fmt.Errorf("want NAME=PID, got %q", v)
		}
		o.peerPIDs[name] = n
		return nil
	})
	fs.IntVar(&o.repeat, "repeat", 3, "samples of each large-blob workload (the median is reported)")
	fs.IntVar(&o.rounds, "rounds", 1, "passes over every workload, each with new content; figures are the medians, ratios show their range")
	fs.BoolVar(&o.control, "control", false, "also start a second berth (\"berth-control\") and measure it as a peer: berth's ratio to itself is the run's noise")
	fs.StringVar(&o.render, "render", "", "draw results.md and results.png again into --out from this results.json, measuring nothing")
	fs.IntVar(&o.concurrentLarge, "concurrent-large", 4, "large blobs pushed at once in the concurrent push (0: skip)")
	imageClients := fs.String("image-clients", "1,8,32", "concurrent clients of the multi-layer image workloads")
	layer := sizeFlag(1 << 20)
	fs.Var(&layer, "image-layer-size", "largest layer of the multi-layer images (the others are 1/4, 1/16 and 4KiB)")
	fs.IntVar(&o.tags, "tags", 10_000, "tags in the repository whose tag list is timed (0: skip)")
	fs.IntVar(&o.repos, "repos", 10_000, "repositories in the catalog that is timed (0: skip)")
	// 900 blobs (about 200 MB) take a second or two: with 180 the whole
	// workload lasted a third of a second, and one hiccup of the VM moved
	// its ratio by 0.9-1.2x.
	fs.IntVar(&o.mixedCount, "mixed-count", 900, "blobs of 4KiB .. 1MiB in the mixed-size workload")
	only := fs.String("only", "", "run only the workloads whose name matches this regular expression")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.largeSize, o.smallSize, o.imageLayerSize = int64(large), int(small), int(layer)
	for _, f := range strings.Split(*imageClients, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 1024 {
			return o, fmt.Errorf("--image-clients: %q is not 1 .. 1024", f)
		}
		o.imageClients = append(o.imageClients, n)
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return o, fmt.Errorf("--only: %w", err)
		}
		o.only = re
	}
	switch {
	case o.largeSize < 64:
		return o, errors.New("--large-size: at least 64 bytes")
	case o.repeat < 1 || o.repeat > 100:
		return o, errors.New("--repeat: 1 .. 100")
	case o.rounds < 1 || o.rounds > 20:
		return o, errors.New("--rounds: 1 .. 20")
	case o.concurrentLarge < 0 || o.concurrentLarge > 64:
		return o, errors.New("--concurrent-large: 0 .. 64")
	case o.imageLayerSize < 64<<10 || o.imageLayerSize > 256<<20:
		return o, errors.New("--image-layer-size: 64KiB .. 256MiB")
	case o.tags < 0 || o.tags > 1_000_000 || o.repos < 0 || o.repos > 1_000_000:
		return o, errors.New("--tags, --repos: 0 .. 1000000")
	case o.mixedCount < 1 || o.mixedCount > 100_000:
		return o, errors.New("--mixed-count: 1 .. 100000")
	case o.largeSize > 8<<30:
		return o, errors.New("--large-size: at most 8GiB (it is held in memory)")
	case o.smallSize > 64<<20:
		return o, errors.New("--small-size: at most 64MiB")
	case o.smallCount < 1 || o.smallCount > 1_000_000:
		return o, errors.New("--small-count: 1 .. 1000000")
	case int64(o.smallCount)*int64(o.smallSize) > 4<<30:
		return o, errors.New("--small-count × --small-size: at most 4GiB")
	case o.clients < 1 || o.clients > 1024:
		return o, errors.New("--clients: 1 .. 1024")
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return o, errors.New("--duration: more than 0, at most 10m")
	case o.timeout <= 0:
		return o, errors.New("--timeout: must be positive")
	}
	for _, p := range o.peers {
		if p.Name == "berth" || p.Name == "distribution" || p.Name == controlName {
			return o, fmt.Errorf("--peer %s: that name is taken by a registry bench starts", p.Name)
		}
	}
	for name := range o.peerPIDs {
		if !slices.ContainsFunc(o.peers, func(p peer) bool { return p.Name == name }) {
			return o, fmt.Errorf("--peer-pid %s: no --peer of that name", name)
		}
	}
	return o, nil
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == ingestSenderArg {
		if err := ingestSender(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, "bench: ingest sender:", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.render != "" {
		if err := render(o.render, o.outDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

// target is one registry under test.
type target struct {
	name, url, user, pass string
	proc                  *proc // nil for --peer registries
	pid                   int   // the process, when known
}

// controlName is the second berth of --control.
const controlName = "berth-control"

// runAll runs every workload on every target, workload by workload: each
// workload runs on all registries before the next one starts, and the
// registry that goes first moves along by one each time, so that load
// from elsewhere and the machine's drift weigh on all of them alike
// rather than on whichever ran first. It does so o.rounds times, each
// round with new content from newData (so that no push finds its blobs
// stored already); the list workloads, whose set-up is long, run in the
// first round only. A registry that fails a workload runs no more of
// them. The report gets each registry's medians over the rounds
// (mergeRounds) and, for more than one round, the range of berth's
// ratios (spreads).
func runAll(ctx context.Context, rep *report, targets []target, newData func() *workloadData, o options) error {
	clients := make([]*client, len(targets))
	regs := make([]regResult, len(targets))
	for i, t := range targets {
		clients[i] = newClient(t.url, t.user, t.pass, o.clients)
		defer clients[i].close()
		regs[i] = regResult{Name: t.name, URL: t.url, Managed: t.proc != nil}
		logf("bench: %s at %s", t.name, t.url)
	}
	rounds := make([][]regResult, o.rounds)
	for round := range o.rounds {
		if o.rounds > 1 {
			logf("bench: round %d of %d", round+1, o.rounds)
		}
		d := newData()
		steps := make([][]step, len(targets))
		for i := range targets {
			steps[i] = workloadSteps(clients[i], d, o)
		}
		rounds[round] = make([]regResult, len(targets))
		for i := range targets {
			rounds[round][i] = regResult{Name: targets[i].name}
		}
		for k := range steps[0] {
			if round > 0 && steps[0][k].once {
				continue
			}
			for j := range targets {
				i := (j + k + round) % len(targets)
				if regs[i].Error != "" {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				r, err := runStep(ctx, steps[i][k], targets[i].name, targets[i].pid, logf)
				if err != nil {
					regs[i].Error = err.Error()
					logf("bench: %s: %v", targets[i].name, err)
					continue
				}
				rounds[round][i].Results = append(rounds[round][i].Results, r)
			}
		}
	}
	for i, t := range targets {
		var per [][]result
		for _, rr := range rounds {
			per = append(per, rr[i].Results)
		}
		regs[i].Results = mergeRounds(per)
		if t.pid != 0 {
			regs[i].PeakRSS, _ = peakRSS(t.pid)
		}
	}
	rep.Registries = append(rep.Registries, regs...)
	rep.Rounds = o.rounds
	if o.rounds > 1 {
		rep.Spread = spreads(rounds)
	}
	return nil
}

// newWorkloadData makes the content of one round: a new seed, the large
// blob and its variants, the small and the mixed-size blobs.
func newWorkloadData(o options) *workloadData {
	var seed [8]byte
	rand.Read(seed[:])
	d := &workloadData{seed: binary.LittleEndian.Uint64(seed[:]), large: make([]byte, o.largeSize)}
	rand.Read(d.large)
	d.largeDigest = digestOf(d.large)
	d.prepareVariants(o.concurrentLarge)
	for range o.smallCount {
		b := make([]byte, o.smallSize)
		rand.Read(b)
		d.small = append(d.small, b)
		d.smallDigests = append(d.smallDigests, digestOf(b))
	}
	for i := range o.mixedCount {
		b := pseudoRandom(d.seed+uint64(i), mixedSize(i))
		d.mixed = append(d.mixed, b)
		d.mixedDigests = append(d.mixedDigests, digestOf(b))
	}
	return d
}

// writeResults writes rep as results.md, results.json and results.png in
// dir, and the Markdown to stdout too when show is set.
func writeResults(rep *report, dir string, show bool) error {
	md := markdown(rep)
	if show {
		fmt.Print(md)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	png := filepath.Join(dir, "results.png")
	if err := writeChart(png, rep); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	logf("bench: wrote %s, %s and %s", filepath.Join(dir, "results.md"), filepath.Join(dir, "results.json"), png)
	return nil
}

// render draws the Markdown and the chart again from a results.json that
// an earlier run wrote, into dir: to redraw figures after a change to the
// report, without measuring again.
func render(file, dir string) error {
	js, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(js, &rep); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(rep.Registries) == 0 {
		return fmt.Errorf("%s: no registries: not a bench results.json", file)
	}
	return writeResults(&rep, dir, false)
}

func run(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	work := o.workDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "berth-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	rep := &report{
		Started: time.Now().UTC().Format(time.RFC3339),
		Options: map[string]any{
			"large_size": o.largeSize, "small_size": o.smallSize, "small_count": o.smallCount,
			"clients": o.clients, "duration": o.duration.String(), "repeat": o.repeat, "rounds": o.rounds,
			"concurrent_large": o.concurrentLarge, "image_clients": o.imageClients,
			"image_layer_size": o.imageLayerSize, "tags": o.tags, "repos": o.repos, "mixed_count": o.mixedCount,
		},
		Notes: []string{
			"Large blob: pushes monolithic (POST, PUT) and chunked (POST, 16 MiB PATCHes, PUT) and a pull, one client, --repeat samples each (median); before every sample the machine limit is measured again (min(sha256, fsync'd disk) for pushes, loopback TCP for pulls), and the fraction is the median rate over the median of those limits, so load from elsewhere weighs on both alike. Pushes are also set against the verified-ingest probe, measured before each sample too: what this machine does when it only receives over loopback, hashes and writes durably, overlapped, with sender and receiver on the same cores: the bare work any registry that checks digests and keeps data safe must do, and so a practical ceiling for its pushes on this machine.",
			"Large pulls, one sample per round each: \"first after push\" pulls a new variant right after pushing it (untimed), from whatever the push left in the page cache; \"cold\" pulls a new variant after every dirty page is written and the page cache dropped (root only), against the lower of the loopback copy and a cold sequential read of the same bytes from the disk, measured right before. Every workload starts after sync(2), so that no registry pays for writes another left to the kernel.",
			"Concurrent large push: --concurrent-large different blobs of --large-size at once, one client each; peak RSS is the largest VmRSS sampled every 20 ms during the workload.",
			"Images: config + 4 layers (--image-layer-size, 1/4, 1/16, 4 KiB) + manifest per image, pushed then pulled by 1, 8 and 32 clients; latencies are per image.",
			"Lists: a repository with --tags tags and a registry with --repos repositories (setup not timed), then complete listings following Link headers for --duration.",
			"Mixed CI: per 10 operations 4 image pulls, 2 HEAD checks of a manifest and its blobs, 2 pushes of a new 2-layer image, 1 new tag, 1 tag list.",
			"Small blobs: each push is POST+PUT; latencies are per blob.",
			"CPU s/GB: utime+stime of the registry process over the workload's samples (not the push that sets up the large pull) per 10^9 bytes moved; the process row's peak RSS is VmHWM at the end. Both only for registries bench started or named with --peer-pid.",
			"distribution runs with its access log off and log level warn; berth with its defaults.",
		},
	}

	if o.rounds > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("Rounds: every workload ran %d times, each time with new content and the registries' order moved along by one; figures are the medians over the rounds, and the bracketed range after a ratio the lowest and highest of the rounds' ratios. The list workloads (long set-up) ran in the first round only. The machine limits in the first table were measured once, before the first round.", o.rounds))
	}
	if o.control {
		rep.Notes = append(rep.Notes, controlName+" is a second berth from the same binary, started and measured like berth: berth's ratio to it is what this run's noise alone makes of a ratio.")
	}

	// distribution runs unless asked not to or not installed.
	withDist := false
	if !o.noDist {
		if _, err := os.Stat(o.distribution); err != nil {
			rep.Notes = append(rep.Notes, "distribution not measured: "+o.distribution+" missing (apt-get install docker-registry)")
			logf("bench: %s missing; distribution skipped (apt-get install docker-registry)", o.distribution)
		} else {
			withDist = true
		}
	}
	managed := 1 // berth, the control and distribution store in work
	if o.control {
		managed++
	}
	if withDist {
		managed++
	}
	if o.coldPull = wantColdPull(o); !o.coldPull && !o.noColdPull && (o.only == nil || o.only.MatchString(coldPull)) {
		logf("bench: this user cannot write %s: %q is left out", dropCachesFile, coldPull)
	}
	if err := checkSpace(o, work, managed); err != nil {
		return err
	}

	logf("bench: preparing data (%d MiB large blob, %d × %d KiB small blobs) in %s", o.largeSize>>20, o.smallCount, o.smallSize>>10, work)
	o.scratch = work
	d := newWorkloadData(o)
	first := true
	newData := func() *workloadData {
		if first { // the first round uses the content the limits are measured with
			first = false
			return d
		}
		return newWorkloadData(o)
	}

	logf("bench: measuring machine limits")
	rep.Machine = machine{CPUs: runtime.NumCPU(), Dir: work, SHA256MBps: sha256Rate(d.large, 3)}
	var err error
	if rep.Machine.DiskMBps, err = diskRate(work, d.large); err != nil {
		return fmt.Errorf("disk rate: %w", err)
	}
	if rep.Machine.LoopbackMBps, err = loopbackRate(d.large); err != nil {
		return fmt.Errorf("loopback rate: %w", err)
	}
	if rep.Machine.IngestMBps, err = ingestRate(work, d.large); err != nil {
		return fmt.Errorf("ingest rate: %w", err)
	}
	logf("  sha256 %.0f MB/s, fsync'd write %.0f MB/s, loopback %.0f MB/s, verified ingest %.0f MB/s", rep.Machine.SHA256MBps, rep.Machine.DiskMBps, rep.Machine.LoopbackMBps, rep.Machine.IngestMBps)

	var targets []target
	defer func() {
		for _, t := range targets {
			if t.proc != nil {
				t.proc.stop()
			}
		}
	}()
	bin, err := ensureBerth(o.berthBin)
	if err != nil {
		return err
	}
	logf("bench: starting berth (%s)", bin)
	bp, burl, bpass, err := startBerth(bin, work, "berth")
	if err != nil {
		return err
	}
	targets = append(targets, target{name: "berth", url: burl, user: "admin", pass: bpass, proc: bp, pid: bp.pid()})
	if o.control {
		logf("bench: starting %s (the same binary)", controlName)
		cp, curl, cpass, err := startBerth(bin, work, controlName)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: controlName, url: curl, user: "admin", pass: cpass, proc: cp, pid: cp.pid()})
	}
	if withDist {
		logf("bench: starting distribution (%s)", o.distribution)
		dp, durl, err := startDistribution(o.distribution, work)
		if err != nil {
			return err
		}
		targets = append(targets, target{name: "distribution", url: durl, proc: dp, pid: dp.pid()})
	}
	for _, p := range o.peers {
		targets = append(targets, target{name: p.Name, url: p.URL, user: p.User, pass: p.Pass, pid: o.peerPIDs[p.Name]})
	}

	if err := runAll(ctx, rep, targets, newData, o); err != nil {
		return err
	}
	computeRatios(rep)

	if err := writeResults(rep, o.outDir, true); err != nil {
		return err
	}
	for _, r := range rep.Registries {
		if r.Error != "" {
			return fmt.Errorf("%s failed: %s", r.Name, r.Error)
		}
	}
	return nil
}
