package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan"
)

// The built-in scanner's vulnerability database: `berth scanner import`
// and `berth scanner status`, and the scheduled refresh from
// scanner.db_urls that every node runs (one does the work, by lease).

// scanTempDir is where the scanner and imports keep temporary files.
func scanTempDir(cfg config.Config) (string, error) {
	dir := filepath.Join(cfg.DataDir, "tmp", "scan")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return dir, nil
}

// openForScanner opens the metadata store of cfg for a CLI command. A
// SQLite file is created only inside an existing data directory, so a
// mistyped --data-dir fails instead of filling a new one.
func openForScanner(ctx context.Context, cfg config.Config) (*meta.DB, error) {
	if !cfg.Database.Postgres() {
		path, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(cfg.Database.URL, "sqlite://"), "file:"), "?")
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("no berth data directory at %s; give the --data-dir or --database that `berth serve` uses: %w",
				filepath.Dir(path), err)
		}
	}
	db, err := meta.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// ImportVulnDB replaces the vulnerability database with the OSV archives
// (or directories of them) at paths, as `berth scanner import` does. The
// servers sharing the database use it from their next scan.
func ImportVulnDB(ctx context.Context, cfg config.Config, paths []string, logger *slog.Logger) (scan.DBInfo, error) {
	db, err := openForScanner(ctx, cfg)
	if err != nil {
		return scan.DBInfo{}, err
	}
	defer db.Close()
	tmp, err := scanTempDir(cfg)
	if err != nil {
		return scan.DBInfo{}, err
	}
	sources := make([]scan.Source, len(paths))
	for i, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return scan.DBInfo{}, err
		}
		sources[i] = scan.FileSource(abs)
	}
	return scan.New(db, scan.WithLogger(logger), scan.WithTempDir(tmp)).ImportSources(ctx, sources...)
}

// VulnDBInfo describes the vulnerability database in use.
func VulnDBInfo(ctx context.Context, cfg config.Config) (scan.DBInfo, error) {
	db, err := openForScanner(ctx, cfg)
	if err != nil {
		return scan.DBInfo{}, err
	}
	defer db.Close()
	return scan.New(db).DBInfo(ctx)
}

// runVulnDBRefresh keeps the database built from scanner.db_urls no
// older than scanner.refresh_interval, until ctx ends.
func runVulnDBRefresh(ctx context.Context, cfg config.Config, db *meta.DB, logger *slog.Logger) {
	if len(cfg.Scanner.DBURLs) == 0 {
		return
	}
	tmp, err := scanTempDir(cfg)
	if err != nil {
		logger.Warn("vulnerability database refresh disabled", "err", err)
		return
	}
	host, _ := os.Hostname()
	e := scan.New(db, scan.WithLogger(logger), scan.WithTempDir(tmp))
	scan.NewRefresher(e, cfg.Scanner.DBURLs, cfg.Scanner.RefreshInterval, fmt.Sprintf("%s:%d", host, os.Getpid())).
		Run(ctx, time.Minute)
}
