package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// node is one berth server assembled from configuration: stores, services
// and the HTTP handler in front of them. Serve adds the listener and the
// background work; NewHandler hands out the handler alone. Both go through
// assemble, so a test of the handler tests what Serve serves.
type node struct {
	db      *meta.DB
	store   blob.Store
	svc     *registry.Service
	id      *identity
	tls     *serverTLS
	handler http.Handler
	gc      *gc.Collector
	scans   *scanning
}

// assemble opens the stores and builds the services and the handler. On
// success the caller owns n.db and must close it.
func assemble(ctx context.Context, cfg config.Config, logger *slog.Logger) (n *node, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	db, err := meta.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	store, err := openStorage(cfg)
	if err != nil {
		return nil, err
	}
	scans := &scanning{}
	svc := registry.New(db, store, scans.pushHook(),
		registry.WithLogger(logger),
		registry.WithUploadExpiry(cfg.Uploads.Expiry),
		registry.WithMaxChunk(cfg.Uploads.MaxChunk),
		registry.WithMaxManifestSize(cfg.Manifests.MaxSize),
		registry.WithQuota(meta.ProjectQuotas{}),
	)
	id, err := setupIdentity(ctx, cfg, db, svc, logger)
	if err != nil {
		return nil, err
	}
	tlsSrv, err := setupTLS(ctx, cfg, db, logger)
	if err != nil {
		return nil, err
	}
	id.api.Configure(apiSystem(cfg, store, tlsSrv)...)
	if err := scans.setup(ctx, cfg, db, id, svc, tlsSrv, logger); err != nil {
		return nil, err
	}
	id.api.SetScans(scans.svc)
	collector := gc.New(db, store, gc.WithLogger(logger), gc.WithUploadSweeper(svc)) // scheduler: Serve
	id.api.SetGC(collector)
	return &node{
		db: db, store: store, svc: svc, id: id, tls: tlsSrv, gc: collector, scans: scans,
		handler: logRequests(logger, newMux(cfg, db, svc, id, tlsSrv, logger, scans.pullPolicy())),
	}, nil
}

// NewHandler builds the HTTP handler that Serve serves, over the stores
// cfg names, without listening and without background work (upload
// sweeping, audit retention, certificate renewal). It is for tests that
// want the whole server in process. The returned func releases the
// stores.
func NewHandler(ctx context.Context, cfg config.Config, logger *slog.Logger) (http.Handler, func(), error) {
	n, err := assemble(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	return n.handler, func() { n.gc.Close(); n.db.Close() }, nil
}
