// Package app assembles berth: configuration to stores to services to the
// HTTP server, and owns the process lifecycle. It is the only package that
// picks concrete drivers.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/blob/s3"
	"github.com/berth-registry/berth/internal/config"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/ui"
	"github.com/berth-registry/berth/internal/version"
)

// Serve runs berth until ctx is cancelled, then drains in-flight requests
// (up to the shutdown timeout) and returns nil.
func Serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	n, err := assemble(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer n.db.Close()
	defer n.closePulls(logger) // after the last request, before the database closes
	defer n.gc.Close()         // before the database closes: stops a run in progress
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	srv := &http.Server{
		Handler:           n.handler,
		TLSConfig:         n.tls.config,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	n.pulls.Start()
	go n.svc.RunSweeper(bg, 10*time.Minute)
	go n.gc.RunScheduler(bg, 30*time.Second)
	go n.id.runHousekeeping(bg, cfg.Audit.Retention, logger)
	go n.scans.run(bg)
	go runVulnDBRefresh(bg, cfg, n.db, logger)
	if t, ok := n.store.(interface {
		SweepTemp(time.Duration) (int, error)
	}); ok {
		if _, err := t.SweepTemp(time.Hour); err != nil {
			logger.Warn("sweep temporary files", "err", err)
		}
	}

	if n.metrics != nil {
		mln, err := net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s (metrics.addr): %w", cfg.Metrics.Addr, err)
		}
		msrv := &http.Server{Handler: metricsMux(n, cfg), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close() // scrapes need no draining
		logger.Info("serving metrics", "addr", mln.Addr().String(), "path", "/metrics")
	}

	n.tls.start(bg)
	scheme := n.tls.scheme()
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	logger.Info("berth is serving", "version", version.Version, "addr", ln.Addr().String(), "scheme", scheme,
		"database", n.db.Dialect(), "data_dir", cfg.DataDir)

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining requests", "timeout", cfg.Shutdown.Timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown did not drain every request", "err", err)
		_ = srv.Close()
	}
	stopBG()
	logger.Info("stopped")
	return nil
}

func openStorage(cfg config.Config) (blob.Store, error) {
	if loc, ok := cfg.Storage.S3(); ok {
		// New checks that the bucket answers; no request context yet.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := s3.New(ctx, s3.Options{
			Endpoint: loc.Endpoint, Secure: loc.Secure, Region: loc.Region, PathStyle: loc.PathStyle,
			Bucket: loc.Bucket, Prefix: loc.Prefix, AccessKey: loc.AccessKey, SecretKey: loc.SecretKey,
		})
		if err != nil {
			return nil, fmt.Errorf("open storage: %w", err)
		}
		return st, nil
	}
	path, ok := cfg.Storage.FilePath()
	if !ok {
		return nil, fmt.Errorf("config: storage.url: unsupported storage %q", cfg.Storage.URL)
	}
	st, err := fs.New(path)
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", path, err)
	}
	return st, nil
}

func newMux(cfg config.Config, db *meta.DB, svc *registry.Service, id *identity, tlsSrv *serverTLS, logger *slog.Logger, v2opts ...ocihttp.Option) http.Handler {
	mux := http.NewServeMux()
	v2 := ocihttp.New(svc, append(append(id.v2Options(), ocihttp.WithLogger(logger),
		ocihttp.WithChunkMinLength(svc.ChunkMinLength()),
		ocihttp.WithPullPolicy(contentTrust(svc, id.registry))), v2opts...)...)
	id.routes(mux)
	mux.Handle("/v2/", v2)
	mux.Handle("/v2", v2)
	mux.HandleFunc("GET /api/v2.0/systeminfo/getcert", tlsSrv.serveCA)
	mux.HandleFunc("GET /ca.crt", tlsSrv.serveCA)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := db.Ping(ctx); err != nil {
			logger.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if cfg.Server.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// The web UI takes every path no other route claims; the patterns
	// above are more specific, so the APIs keep priority.
	mux.Handle("/", ui.New(ui.Embedded()))
	// ServeMux cleans paths and redirects ("/v2/a//b" to "/v2/a/b", which
	// is another repository, and "/v2/../x" out of the API). The registry
	// API routes its own paths and refuses such names, so it gets them raw.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
			v2.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
