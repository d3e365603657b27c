package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/scan"
)

// runScanner is `berth scanner import FILE... [serve flags]` and
// `berth scanner status [serve flags]`: the built-in scanner's
// vulnerability database, over the database `berth serve` uses.
func runScanner(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		scannerUsage(stderr)
		return exitUsage
	}
	sub, rest := args[0], args[1:]
	var files []string
	switch sub {
	case "-h", "-help", "--help", "help":
		scannerUsage(stdout)
		return exitOK
	case "import":
		// The files come first; the serve flags after them.
		for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			files, rest = append(files, rest[0]), rest[1:]
		}
		if len(files) == 0 && !helpAsked(rest) {
			fmt.Fprintf(stderr, "berth scanner import: give at least one file\n\n")
			scannerUsage(stderr)
			return exitUsage
		}
	case "status":
	default:
		fmt.Fprintf(stderr, "berth scanner: unknown command %q\n\n", sub)
		scannerUsage(stderr)
		return exitUsage
	}
	cfg, code, ok := loadConfig("berth scanner "+sub, rest, scannerUsage, stdout, stderr, getenv)
	if !ok {
		return code
	}
	logger := newLogger(stderr, cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var info scan.DBInfo
	var err error
	if sub == "import" {
		info, err = app.ImportVulnDB(ctx, cfg, files, logger)
	} else {
		info, err = app.VulnDBInfo(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "berth scanner %s: %v\n", sub, err)
		return exitError
	}
	printDBInfo(stdout, info)
	return exitOK
}

func helpAsked(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return true
		}
	}
	return false
}

func printDBInfo(w io.Writer, info scan.DBInfo) {
	if !info.Loaded {
		fmt.Fprintln(w, "vulnerability database: none imported")
		return
	}
	fmt.Fprintf(w, "vulnerability database: %d records\n", info.Records)
	fmt.Fprintf(w, "  source:      %s\n", info.Source)
	fmt.Fprintf(w, "  checksum:    %s\n", info.Checksum)
	fmt.Fprintf(w, "  imported at: %s\n", info.ImportedAt.UTC().Format(time.RFC3339))
	if !info.UpdatedAt.IsZero() {
		fmt.Fprintf(w, "  updated at:  %s (newest record)\n", info.UpdatedAt.UTC().Format(time.RFC3339))
	}
	ecos := make([]string, 0, len(info.Ecosystems))
	for e := range info.Ecosystems {
		ecos = append(ecos, e)
	}
	sort.Strings(ecos)
	for _, e := range ecos {
		fmt.Fprintf(w, "  %-12s %d\n", e+":", info.Ecosystems[e])
	}
}

func scannerUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  berth scanner import FILE... [serve flags]
  berth scanner status [serve flags]

import replaces the built-in scanner's vulnerability database with the OSV
records in FILE...: osv.dev's per-ecosystem all.zip files (for example
https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip), tar or
tar.gz archives of them or of OSV JSON files, JSON files, or directories of
these. All files together become the new database; it replaces the old one
at once, and only if the whole import succeeds. Servers sharing the
database use it from their next scan.

status prints the database's source, age and size.

Give the --data-dir, --database or --config that `+"`berth serve`"+` uses;
see "berth help serve".
`)
}
