// Package scan is berth's built-in scanner: it finds the packages
// installed in an image's layers, matches them against an OSV
// vulnerability database kept in the metadata store, and writes Harbor's
// vulnerability report and SBOMs.
//
// It owns package discovery, version ordering, the vulnerability
// database (import, refresh, lookups) and the report and SBOM formats. It
// never fetches anything at scan time, never talks HTTP to clients and
// never decides policy: jobs, the API and the pull policy live elsewhere
// and call Engine.
package scan

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/version"
)

// Layer is one layer of an image, in manifest order. Open returns the
// layer blob as stored (compressed or not; the engine detects gzip, zstd
// and plain tar from the bytes, MediaType is only a hint).
type Layer struct {
	Digest    string
	MediaType string
	Size      int64
	Open      func(context.Context) (io.ReadCloser, error)
}

// Image is what the engine scans: one platform image (not an index; the
// caller scans each child). Config is the image config JSON (may be
// nil). Repository, Digest and MediaType only label the report.
type Image struct {
	Repository string
	Digest     string
	MediaType  string
	Config     []byte
	Layers     []Layer
}

// Limits bound what one scan reads, so that a hostile image cannot
// exhaust memory or disk.
type Limits struct {
	// MaxFileSize is the largest single file read from a layer for
	// package discovery (package databases, binaries, archives); larger
	// files are skipped. Default 256 MiB.
	MaxFileSize int64
	// MaxTotalSize bounds the bytes of all files kept for discovery in
	// one scan. Default 1 GiB.
	MaxTotalSize int64
	// MaxFiles bounds the number of files kept. Default 100000.
	MaxFiles int
}

// Engine scans images. It is safe for concurrent use; each Scan uses a
// temporary directory of its own for the files it keeps.
type Engine struct {
	db      *meta.DB
	log     *slog.Logger
	limits  Limits
	tmpDir  string
	scanner Scanner
	now     func() time.Time
	// lastStaleWarn (unix seconds) rate-limits the warning that the
	// database is old.
	lastStaleWarn atomic.Int64
}

// staleAfter is the database age from which scans log a warning.
const staleAfter = 7 * 24 * time.Hour

// Option configures an Engine.
type Option func(*Engine)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithLimits sets the read limits; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(e *Engine) {
		if l.MaxFileSize > 0 {
			e.limits.MaxFileSize = l.MaxFileSize
		}
		if l.MaxTotalSize > 0 {
			e.limits.MaxTotalSize = l.MaxTotalSize
		}
		if l.MaxFiles > 0 {
			e.limits.MaxFiles = l.MaxFiles
		}
	}
}

// WithTempDir sets where scans keep the files they extract (default
// os.TempDir()).
func WithTempDir(dir string) Option { return func(e *Engine) { e.tmpDir = dir } }

// WithClock sets the clock used for generated_at (tests).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// New returns an engine over the vulnerability database in db.
func New(db *meta.DB, opts ...Option) *Engine {
	e := &Engine{
		db:     db,
		log:    slog.New(slog.DiscardHandler),
		limits: Limits{MaxFileSize: 256 << 20, MaxTotalSize: 1 << 30, MaxFiles: 100000},
		scanner: Scanner{Name: "berth", Vendor: "berth",
			Version: version.Version},
		now: time.Now,
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Scanner returns the name, vendor and version reports are signed with.
func (e *Engine) Scanner() Scanner { return e.scanner }
