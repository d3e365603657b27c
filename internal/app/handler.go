package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/metrics"
	"github.com/berth-registry/berth/internal/pulls"
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
	pulls   *pulls.Buffer    // written every second by Serve, and on shutdown
	metrics *metrics.Metrics // nil unless metrics.addr is set
	scans   *scanning
}

// blobRedirectExpiry is the lifetime of the presigned URLs blob GETs are
// redirected to (storage.s3_redirect): long enough for a slow client to
// follow, short enough that a leaked one soon stops working.
const blobRedirectExpiry = 20 * time.Minute

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
	pullBuf := pulls.New(db, pulls.WithLogger(logger))
	redirect := time.Duration(0)
	if cfg.Storage.S3Redirect {
		redirect = blobRedirectExpiry
	}
	scans := &scanning{}
	svc := registry.New(db, store, scans.pushHook(),
		registry.WithLogger(logger),
		registry.WithPullRecorder(pullBuf),
		registry.WithBlobRedirect(redirect),
		registry.WithUploadExpiry(cfg.Uploads.Expiry),
		registry.WithMaxChunk(cfg.Uploads.MaxChunk),
		registry.WithMaxManifestSize(cfg.Manifests.MaxSize),
		registry.WithQuota(meta.ProjectQuotas{}),
	)
	id, err := setupIdentity(ctx, cfg, db, svc, pullBuf, logger)
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
	n = &node{
		db: db, store: store, svc: svc, id: id, tls: tlsSrv, gc: collector, pulls: pullBuf, scans: scans,
		handler: logRequests(logger, newMux(cfg, db, svc, id, tlsSrv, logger, scans.pullPolicy())),
	}
	if cfg.Metrics.Addr != "" {
		n.metrics = newMetrics(db, pullBuf)
		n.handler = n.metrics.Instrument(n.handler)
	}
	return n, nil
}

// NewHandler builds the HTTP handler that Serve serves, over the stores
// cfg names, without listening and without background work (upload
// sweeping, audit retention, certificate renewal). It is for tests that
// want the whole server in process. Pull records are written when the
// returned func runs, which then releases the stores.
func NewHandler(ctx context.Context, cfg config.Config, logger *slog.Logger) (http.Handler, func(), error) {
	n, err := assemble(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	return n.handler, func() { n.gc.Close(); n.closePulls(logger); n.db.Close() }, nil
}

// closePulls writes the pull records still buffered; before the
// database closes.
func (n *node) closePulls(logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.pulls.Close(ctx); err != nil {
		logger.Error("write buffered pull records at shutdown", "err", err)
	}
}
