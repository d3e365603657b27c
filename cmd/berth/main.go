// Command berth is the berth container registry. It only parses the
// command line and hands over: configuration to internal/config, the
// server to internal/app.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/version"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // bad configuration, or the server failed
	exitUsage = 2 // malformed command line
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run executes the command line args (without the program name) and
// returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(rest, stdout, stderr, getenv)
	case "ca":
		return printCA(rest, stdout, stderr, getenv)
	case "gc":
		return runGC(rest, stdout, stderr, getenv)
	case "pull-secret":
		return pullSecret(rest, stdout, stderr, getenv)
	case "scanner":
		return runScanner(rest, stdout, stderr, getenv)
	case "version":
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "berth version: unexpected argument %q\n", rest[0])
			return exitUsage
		}
		fmt.Fprintln(stdout, version.String())
		return exitOK
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] == "serve" {
			serveUsage(stdout)
		} else if len(rest) > 0 && rest[0] == "ca" {
			caUsage(stdout)
		} else if len(rest) > 0 && rest[0] == "gc" {
			gcUsage(stdout)
		} else if len(rest) > 0 && rest[0] == "pull-secret" {
			pullSecretUsage(stdout)
		} else if len(rest) > 0 && rest[0] == "scanner" {
			scannerUsage(stdout)
		} else {
			usage(stdout)
		}
		return exitOK
	default:
		what := "command"
		if len(cmd) > 0 && cmd[0] == '-' {
			what = "flag"
		}
		fmt.Fprintf(stderr, "berth: unknown %s %q\nRun 'berth help' for usage.\n", what, cmd)
		return exitUsage
	}
}

func serve(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, code, ok := loadConfig("berth serve", args, serveUsage, stdout, stderr, getenv)
	if !ok {
		return code
	}

	logger := newLogger(stderr, cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, restore the default handling, so that a
	// second one kills a drain that hangs.
	context.AfterFunc(ctx, stop)

	if err := app.Serve(ctx, cfg, logger); err != nil {
		logger.Error("berth stopped", "err", err)
		return exitError
	}
	return exitOK
}

// printCA writes the CA certificate that signs berth's generated server
// certificate, for clients to trust. It takes the serve flags, of which
// --data-dir, --database and --config matter.
func printCA(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, code, ok := loadConfig("berth ca", args, caUsage, stdout, stderr, getenv)
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pem, err := app.CA(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "berth ca: %v\n", err)
		return exitError
	}
	_, _ = stdout.Write(pem)
	return exitOK
}

// newLogger builds the process logger; Load has validated c.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `berth is a private OCI container registry.

Usage:
  berth <command> [flags]

Commands:
  serve     run the registry
  ca        print the CA certificate that clients must trust (PEM)
  gc        collect garbage once: free what nothing uses any more
  pull-secret
            print a Kubernetes image-pull Secret of a robot account
  scanner   import the vulnerability database, or show its age and source
  version   print the version
  help      print this help ("berth help serve" for serve alone)

`)
	serveUsage(w)
}

func serveUsage(w io.Writer) {
	fmt.Fprint(w, "Usage: berth serve [flags]\n\nFlags:\n")
	config.Usage(w)
}

func caUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: berth ca [flags]

Prints the CA certificate that signs the server certificate berth makes for
itself (HTTPS without tls.cert), for clients to trust, e.g.
  berth ca --data-dir /var/lib/berth > /etc/docker/certs.d/registry.example:5000/ca.crt
It reads the database of `+"`berth serve`"+`, so give the same --data-dir,
--database or --config; it never makes a CA. It takes every serve flag.
`)
}

// loadConfig reads the configuration of command name (flags, environment,
// file). When it cannot, it says why — usage on stdout for -h, on stderr
// with the error for bad flags — and ok is false with the exit code.
func loadConfig(name string, args []string, usage func(io.Writer), stdout, stderr io.Writer,
	getenv func(string) string) (cfg config.Config, code int, ok bool) {
	cfg, err := config.Load(args, getenv)
	var usageErr *config.UsageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return cfg, exitOK, false
	case errors.As(err, &usageErr):
		fmt.Fprintf(stderr, "%s: %v\n\n", name, err)
		usage(stderr)
		return cfg, exitUsage, false
	case err != nil:
		fmt.Fprintln(stderr, err)
		return cfg, exitError, false
	}
	return cfg, exitOK, true
}
