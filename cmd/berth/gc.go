package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
)

// runGC is `berth gc`: one garbage collection over the stores that
// `berth serve` uses (its flags, variables and file), safe to run while
// servers are up. It prints what was (or would be) freed and exits 1 if
// the run did not succeed.
func runGC(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	p, rest, err := gcFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		gcUsage(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth gc: %v\n\n", err)
		gcUsage(stderr)
		return exitUsage
	}
	cfg, code, ok := loadConfig("berth gc", rest, gcUsage, stdout, stderr, getenv)
	if !ok {
		return code
	}
	logger := newLogger(stderr, cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	run, err := app.GC(ctx, cfg, p, logger)
	if errs.Is(err, errs.Conflict) {
		fmt.Fprintf(stderr, "berth gc: %v; try again when it has finished\n", err)
		return exitError
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth gc: %v\n", err)
		return exitError
	}
	verb := "freed"
	if run.DryRun {
		verb = "would free"
	}
	fmt.Fprintf(stdout, "gc run %d %s: %s %d bytes (%d blobs); %d manifests, %d links, %d uploads removed%s\n",
		run.ID, run.Status, verb, run.BytesFreed, run.BlobsDeleted, run.ManifestsDeleted, run.LinksRemoved,
		run.UploadsRemoved, map[bool]string{true: " (dry run: nothing was deleted)"}[run.DryRun])
	if run.Status != meta.GCSuccess {
		fmt.Fprintf(stderr, "berth gc: the run ended %s; its log:\n%s", run.Status, run.Log)
		return exitError
	}
	return exitOK
}

// gcFlags takes gc's own flags out of args and leaves the serve flags,
// which select the stores, for config.Load.
func gcFlags(args []string) (gc.Params, []string, error) {
	p := gc.Params{TimeWindow: gc.DefaultTimeWindow, Workers: 1}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		needValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag needs an argument: --%s", name)
			}
			i++
			return args[i], nil
		}
		boolean := func(dst *bool) error {
			if !hasValue {
				*dst = true
				return nil
			}
			b, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("--%s: %q is not true or false", name, value)
			}
			*dst = b
			return nil
		}
		var err error
		switch name {
		case "h", "help":
			return p, nil, flag.ErrHelp
		case "dry-run":
			err = boolean(&p.DryRun)
		case "delete-untagged":
			err = boolean(&p.DeleteUntagged)
		case "time-window":
			var v string
			if v, err = needValue(); err == nil {
				if p.TimeWindow, err = time.ParseDuration(v); err != nil || p.TimeWindow < 0 {
					err = fmt.Errorf("--time-window: %q is not a duration of 0 or more, such as 1h or 30m", v)
				}
			}
		case "workers":
			var v string
			if v, err = needValue(); err == nil {
				if p.Workers, err = strconv.Atoi(v); err != nil || p.Workers < 1 || p.Workers > gc.MaxWorkers {
					err = fmt.Errorf("--workers: want a number from 1 to %d, got %q", gc.MaxWorkers, v)
				}
			}
		default:
			rest = append(rest, a)
		}
		if err != nil {
			return p, nil, err
		}
	}
	return p, rest, nil
}

func gcUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: berth gc [--dry-run] [--delete-untagged] [--time-window 1h] [--workers 1] [serve flags]

Runs one garbage collection over the database and storage of `+"`berth serve`"+`
(give the same --data-dir, --database, --storage or --config) and prints
what it freed. Servers may keep running: pushes and pulls go on, and if a
collection is already running anywhere this one refuses to start.

  --dry-run           report what would be freed; delete nothing
  --delete-untagged   also delete manifests without tags that no index
                      lists and that are not signatures, SBOMs or other
                      referrers of a manifest that stays
  --time-window D     keep what was pushed or used within D before the run
                      (a Go duration; default 1h; 0 is allowed)
  --workers N         delete with N workers in parallel (1 to 10)

It takes every serve flag; see "berth help serve".
`)
}
