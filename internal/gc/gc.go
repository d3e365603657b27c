// Package gc is berth's online garbage collection. It decides from the
// metadata what nothing uses any more (untagged manifests when asked,
// referrers whose subject is gone, links and blobs no manifest needs) and
// deletes it while pushes and pulls go on, following the protocol of
// DESIGN.md that keeps invariant 2: a blob's row is locked and re-checked
// before it is marked deleting, its bytes go before its row, and a push
// that meets a deleting row waits or gets a retryable error. docs/gc.md
// holds the argument for each interleaving.
//
// It also keeps the run history, the lease that lets one run at a time
// across every node, and the schedule. It never serves HTTP and never
// writes SQL of its own: queries live in internal/meta.
package gc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Run kinds, as Harbor names them (GCHistory.job_kind).
const (
	KindManual   = "MANUAL"
	KindSchedule = "SCHEDULE"
)

// DefaultTimeWindow is the grace period when none is given: blobs, links
// and manifests younger than this are never collected.
const DefaultTimeWindow = time.Hour

// MaxWorkers is the largest number of parallel deleters (Harbor's limit).
const MaxWorkers = 10

// Params are the parameters of one run.
type Params struct {
	DryRun bool
	// DeleteUntagged deletes manifests that have no tag, are listed by
	// no index and are not referrers of a manifest that stays.
	DeleteUntagged bool
	// TimeWindow is the grace period: what was created or last used
	// more recently than this before the run started is kept. Zero is
	// allowed; it costs pushes a retry more often, never correctness.
	TimeWindow time.Duration
	// Workers is the number of candidates deleted in parallel, 1 to
	// MaxWorkers (0 means 1).
	Workers int
}

// check validates p and fills defaults.
func (p Params) check() (Params, error) {
	if p.Workers == 0 {
		p.Workers = 1
	}
	if p.Workers < 1 || p.Workers > MaxWorkers {
		return p, errs.Invalidf("workers must be between 1 and %d, got %d", MaxWorkers, p.Workers)
	}
	if p.TimeWindow < 0 {
		return p, errs.Invalidf("time_window must not be negative, got %s", p.TimeWindow)
	}
	if p.TimeWindow > 10*365*24*time.Hour {
		return p, errs.Invalidf("time_window must be at most ten years, got %s", p.TimeWindow)
	}
	p.TimeWindow = p.TimeWindow.Truncate(time.Second) // stored to the second
	return p, nil
}

// UploadSweeper removes expired upload sessions and their data
// (registry.Service does).
type UploadSweeper interface {
	SweepUploads(ctx context.Context) (int, error)
}

// tempSweeper is an optional capability of a blob store: removing the
// temporary files of interrupted writes (blob/fs).
type tempSweeper interface {
	SweepTemp(olderThan time.Duration) (int, error)
}

// Collector runs garbage collections over one metadata store and one
// blob store. Every node of a deployment has one; the lease in the
// database lets one of them run at a time.
type Collector struct {
	db       *meta.DB
	blobs    blob.Store
	uploads  UploadSweeper
	log      *slog.Logger
	now      func() time.Time
	node     string
	leaseTTL time.Duration
	poll     time.Duration
	// orphanWait bounds the wait for older transactions before bytes
	// without a row are deleted (PostgreSQL; see sweep.go).
	orphanWait time.Duration

	base     context.Context // parent of runs started here; ends at Close
	stopBase context.CancelCauseFunc
	mu       sync.Mutex
	running  map[int64]*runState
	wg       sync.WaitGroup
}

// Option configures a Collector.
type Option func(*Collector)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Collector) { c.log = l } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(c *Collector) { c.now = now } }

// WithUploadSweeper has each run sweep expired uploads with s.
func WithUploadSweeper(s UploadSweeper) Option { return func(c *Collector) { c.uploads = s } }

// WithNodeName names this node in the run history and the lease
// (default: host name and process id).
func WithNodeName(name string) Option { return func(c *Collector) { c.node = name } }

// WithLeaseTTL sets how long the lease lasts without renewal (default one
// minute). A run renews it every quarter of that, and before deleting
// bytes makes sure that at least half of it is left.
func WithLeaseTTL(d time.Duration) Option { return func(c *Collector) { c.leaseTTL = d } }

// WithPollInterval sets how often a run looks for a stop request made on
// another node (default one second).
func WithPollInterval(d time.Duration) Option { return func(c *Collector) { c.poll = d } }

// New returns a Collector. Call Close to stop the runs it started.
func New(db *meta.DB, blobs blob.Store, opts ...Option) *Collector {
	host, _ := os.Hostname()
	c := &Collector{
		db:         db,
		blobs:      blobs,
		log:        slog.Default(),
		now:        time.Now,
		node:       fmt.Sprintf("%s:%d", host, os.Getpid()),
		leaseTTL:   time.Minute,
		poll:       time.Second,
		orphanWait: 30 * time.Second,
		running:    map[int64]*runState{},
	}
	for _, o := range opts {
		o(c)
	}
	c.base, c.stopBase = context.WithCancelCause(context.Background())
	return c
}

// Close stops the runs this Collector started (they end as stopped) and
// waits for them.
func (c *Collector) Close() {
	c.stopBase(errShutdown)
	c.wg.Wait()
}

// Get returns run id.
func (c *Collector) Get(ctx context.Context, id int64) (meta.GCRun, error) {
	return c.db.Q().GetGCRun(ctx, id)
}

// List returns a page of the run history and the total count.
func (c *Collector) List(ctx context.Context, o meta.ListOptions) ([]meta.GCRun, int, error) {
	return c.db.Q().ListGCRuns(ctx, o)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
