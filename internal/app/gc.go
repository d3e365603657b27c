package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// GC runs one garbage collection over the stores cfg names, as `berth gc`
// does, and returns the run's record. It works while servers are running
// on the same stores: the lease in the database keeps it from running
// beside another collection (a Conflict error then). Cancelling ctx stops
// the run between two candidates.
func GC(ctx context.Context, cfg config.Config, p gc.Params, logger *slog.Logger) (meta.GCRun, error) {
	if !cfg.Database.Postgres() {
		path, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(cfg.Database.URL, "sqlite://"), "file:"), "?")
		if _, err := os.Stat(path); err != nil {
			return meta.GCRun{}, fmt.Errorf("no berth database at %s; give the --data-dir or --database that `berth serve` uses: %w", path, err)
		}
	}
	db, err := meta.Open(ctx, cfg.Database.URL)
	if err != nil {
		return meta.GCRun{}, fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	store, err := openStorage(cfg)
	if err != nil {
		return meta.GCRun{}, err
	}
	svc := registry.New(db, store, registry.WithLogger(logger), registry.WithUploadExpiry(cfg.Uploads.Expiry))
	c := gc.New(db, store, gc.WithLogger(logger), gc.WithUploadSweeper(svc))
	defer c.Close()
	return c.Run(ctx, gc.KindManual, p)
}
