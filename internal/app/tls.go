package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/certs"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// How the listener is secured, by configuration:
//
//   - tls.mode off: plain HTTP, for use behind a TLS-terminating proxy.
//   - tls.cert and tls.key set: that pair, re-read when the files change
//     (polled every filePoll) or on SIGHUP.
//   - otherwise (on or auto): a server certificate signed by berth's own
//     CA, both made at first start and kept in the metadata database, so
//     that every node of a PostgreSQL deployment serves the same ones and
//     a SQLite one keeps them in its data dir. The CA is also written to
//     <data-dir>/tls/ca.crt for convenience; berth never reads that file.

// filePoll is how often provided certificate files are checked.
const filePoll = 5 * time.Second

// serverTLS is how Serve secures its listener and which CA it offers
// clients.
type serverTLS struct {
	config *tls.Config // nil serves plain HTTP
	ca     []byte      // PEM of the CA behind the served certificate; nil when berth has none
	noCA   string      // why ca is nil, for the download endpoints
	// start begins the background work (renewal, reloads, SIGHUP)
	// that lasts until ctx ends.
	start func(ctx context.Context)
}

func (s *serverTLS) scheme() string {
	if s.config == nil {
		return "http"
	}
	return "https"
}

func setupTLS(ctx context.Context, cfg config.Config, db *meta.DB, logger *slog.Logger) (*serverTLS, error) {
	switch {
	case cfg.TLS.Mode == config.TLSOff:
		if cfg.TLS.Cert != "" {
			logger.Info("tls.mode is off: tls.cert and tls.key are not used")
		}
		return &serverTLS{
			noCA:  "berth serves plain HTTP (tls.mode off); the certificate clients see is that of the TLS proxy in front of it",
			start: func(context.Context) {},
		}, nil

	case cfg.TLS.Cert != "":
		src, err := certs.LoadFiles(cfg.TLS.Cert, cfg.TLS.Key, logger)
		if err != nil {
			return nil, fmt.Errorf("config: tls.cert: %w", err)
		}
		return &serverTLS{
			config: certs.ServerConfig(src.GetCertificate),
			noCA:   "berth serves the certificate configured in tls.cert; its CA is known to whoever issued it",
			start: func(ctx context.Context) {
				go src.Watch(ctx, filePoll)
				onHangup(ctx, logger, func() {
					if err := src.Reload(); err != nil {
						logger.Error("SIGHUP: reload TLS certificate", "err", err)
					}
				})
			},
		}, nil

	default:
		m := certs.NewManager(db.Q(), cfg.TLS.Hosts, certs.WithLogger(logger))
		if err := m.Start(ctx); err != nil {
			return nil, fmt.Errorf("generated TLS certificate: %w", err)
		}
		exportCA(filepath.Join(cfg.DataDir, "tls", "ca.crt"), m.CA(), logger)
		return &serverTLS{
			config: certs.ServerConfig(m.GetCertificate),
			ca:     m.CA(),
			start: func(ctx context.Context) {
				go m.Run(ctx)
				onHangup(ctx, logger, func() {
					if err := m.Refresh(ctx); err != nil {
						logger.Error("SIGHUP: check server certificate", "err", err)
					}
				})
			},
		}, nil
	}
}

// onHangup calls fn on every SIGHUP until ctx ends. It subscribes before
// returning, so that a SIGHUP never finds berth without a handler (whose
// default would end the process).
func onHangup(ctx context.Context, logger *slog.Logger, fn func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading TLS certificate")
				fn()
			}
		}
	}()
}

// exportCA writes the CA where an operator on this machine looks for it.
// The file is a copy for people; failing to write it is not fatal.
func exportCA(path string, ca []byte, logger *slog.Logger) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, ca) {
		return
	}
	err := func() error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".ca.crt-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.Write(ca); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Chmod(0o644); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return os.Rename(tmp.Name(), path)
	}()
	if err != nil {
		logger.Warn("write a copy of the CA certificate", "path", path, "err", err)
	}
}

// serveCA answers Harbor's GET /api/v2.0/systeminfo/getcert (and
// /ca.crt) with the CA to trust, as a file download.
func (s *serverTLS) serveCA(w http.ResponseWriter, r *http.Request) {
	if s.ca == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"errors": []map[string]string{{"code": "NOT_FOUND", "message": s.noCA}},
		})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="ca.crt"`)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(s.ca)
}

// CA returns, for `berth ca`, the PEM of the CA that signs berth's
// generated server certificate. It reads the database that `berth
// serve` uses with the same configuration and makes nothing: a CA
// printed from a mistyped data dir would be one that no server uses.
func CA(ctx context.Context, cfg config.Config) ([]byte, error) {
	if cfg.TLS.Cert != "" {
		return nil, fmt.Errorf("tls.cert is set: berth serves %s and has no CA of its own; ask whoever issued that certificate", cfg.TLS.Cert)
	}
	if !cfg.Database.Postgres() {
		path, _, _ := strings.Cut(cfg.Database.URL, "?")
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no berth database at %s; give the --data-dir or --database that `berth serve` uses: %w", path, err)
		}
	}
	db, err := meta.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	ca, err := certs.ReadCA(ctx, db.Q())
	if errs.Is(err, errs.NotFound) {
		return nil, errors.New("no CA yet: berth makes it when `berth serve` first starts with HTTPS (tls.mode on or auto, no tls.cert)")
	}
	return ca, err
}
