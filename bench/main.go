// Command bench measures berth against distribution 2.8 and any other
// running registry (--peer), side by side in one run, and against this
// machine's limits (sha256, fsync'd disk writes, loopback TCP) measured with
// the same bytes. It writes a Markdown table to stdout and
// bench-results/results.md, and JSON to bench-results/results.json.
//
//	go run ./bench [--large-size 256MiB] [--small-count 1000] [--clients 8] [--duration 5s] [--peer NAME=URL[,user:pass]]...
//
// Everything runs on loopback; every workload is bounded in count and time.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
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
	workDir      string
	outDir       string
	peers        peerFlags
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
	fs.StringVar(&o.workDir, "work-dir", "", "where data dirs go (default: a new temp dir; it is removed at the end)")
	fs.StringVar(&o.outDir, "out", "bench-results", "directory for results.md and results.json")
	fs.Var(&o.peers, "peer", "another running registry, NAME=URL[,user:pass] (repeatable)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	o.largeSize, o.smallSize = int64(large), int(small)
	switch {
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
		if p.Name == "berth" || p.Name == "distribution" {
			return o, fmt.Errorf("--peer %s: that name is taken by a registry bench starts", p.Name)
		}
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
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
			"clients": o.clients, "duration": o.duration.String(),
		},
		Notes: []string{
			"Large blob: one push monolithic (POST, PUT), one chunked (POST, 16 MiB PATCHes, PUT), one pull; one client.",
			"Small blobs: each push is POST+PUT; latencies are per blob.",
			"CPU s/GB: utime+stime of the registry process over the workload per 10^9 bytes moved; peak RSS is VmHWM at the end. Both only for registries bench started.",
			"distribution runs with its access log off and log level warn; berth with its defaults.",
			"No PNG chart yet.",
		},
	}

	logf("bench: preparing data (%d MiB large blob, %d × %d KiB small blobs) in %s", o.largeSize>>20, o.smallCount, o.smallSize>>10, work)
	d := &workloadData{large: make([]byte, o.largeSize)}
	rand.Read(d.large)
	d.largeDigest = digestOf(d.large)
	d.large[0] ^= 0xff
	d.large2Digest = digestOf(d.large)
	d.large[0] ^= 0xff
	for range o.smallCount {
		b := make([]byte, o.smallSize)
		rand.Read(b)
		d.small = append(d.small, b)
		d.smallDigests = append(d.smallDigests, digestOf(b))
	}

	logf("bench: measuring machine limits")
	rep.Machine = machine{CPUs: runtime.NumCPU(), Dir: work, SHA256MBps: sha256Rate(d.large)}
	var err error
	if rep.Machine.DiskMBps, err = diskRate(work, d.large); err != nil {
		return fmt.Errorf("disk rate: %w", err)
	}
	if rep.Machine.LoopbackMBps, err = loopbackRate(d.large); err != nil {
		return fmt.Errorf("loopback rate: %w", err)
	}
	logf("  sha256 %.0f MB/s, fsync'd write %.0f MB/s, loopback %.0f MB/s", rep.Machine.SHA256MBps, rep.Machine.DiskMBps, rep.Machine.LoopbackMBps)

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
	bp, burl, bpass, err := startBerth(bin, work)
	if err != nil {
		return err
	}
	targets = append(targets, target{name: "berth", url: burl, user: "admin", pass: bpass, proc: bp})
	if !o.noDist {
		if _, err := os.Stat(o.distribution); err != nil {
			rep.Notes = append(rep.Notes, "distribution not measured: "+o.distribution+" missing (apt-get install docker-registry)")
			logf("bench: %s missing; distribution skipped (apt-get install docker-registry)", o.distribution)
		} else {
			logf("bench: starting distribution (%s)", o.distribution)
			dp, durl, err := startDistribution(o.distribution, work)
			if err != nil {
				return err
			}
			targets = append(targets, target{name: "distribution", url: durl, proc: dp})
		}
	}
	for _, p := range o.peers {
		targets = append(targets, target{name: p.Name, url: p.URL, user: p.User, pass: p.Pass})
	}

	for _, t := range targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		logf("bench: %s at %s", t.name, t.url)
		c := newClient(t.url, t.user, t.pass, o.clients)
		var cpu func() (float64, bool)
		if t.proc != nil {
			pid := t.proc.pid()
			cpu = func() (float64, bool) { return cpuSeconds(pid) }
		}
		res, err := runWorkloads(ctx, c, t.name, d, o, cpu, logf)
		c.close()
		rr := regResult{Name: t.name, URL: t.url, Managed: t.proc != nil, Results: res}
		if err != nil {
			rr.Error = err.Error()
			logf("bench: %s: %v", t.name, err)
		}
		if t.proc != nil {
			rr.PeakRSS, _ = peakRSS(t.proc.pid())
		}
		rep.Registries = append(rep.Registries, rr)
	}
	computeRatios(rep)

	md := markdown(rep)
	fmt.Print(md)
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.outDir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.outDir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	logf("bench: wrote %s and %s", filepath.Join(o.outDir, "results.md"), filepath.Join(o.outDir, "results.json"))
	for _, r := range rep.Registries {
		if r.Error != "" {
			return fmt.Errorf("%s failed: %s", r.Name, r.Error)
		}
	}
	return nil
}
