// Package pulls owns the write-behind buffer of pull records: the pull
// counts and pull times Harbor's API shows, and the audit entries of
// manifest pulls. A pull is the hottest request a registry serves; writing
// its records synchronously costs a transaction (an fsync on SQLite) per
// pull. The buffer coalesces them in memory and writes them in one
// transaction a second (or sooner when it fills), and on shutdown. It
// must never make a pull wait: when it is full, records are dropped and
// counted.
package pulls

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Defaults.
const (
	DefaultInterval = time.Second
	DefaultBatch    = 1000  // pending entries that trigger an early flush
	DefaultLimit    = 20000 // pending entries beyond which records are dropped
)

type timeKey struct {
	repo   int64
	digest oci.Digest
	tag    string
}

// Buffer collects pull records and writes them in batches. Start it with
// Run; Close writes what is left.
type Buffer struct {
	db       *meta.DB
	log      *slog.Logger
	interval time.Duration
	batch    int
	limit    int

	mu     sync.Mutex
	counts map[int64]int64
	times  map[timeKey]time.Time
	audits []meta.AuditLog

	flushMu sync.Mutex // one write at a time, so batches land in order
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool

	dropped atomic.Uint64
	warned  atomic.Bool
	flushes atomic.Uint64
}

// Option configures a Buffer.
type Option func(*Buffer)

// WithInterval sets how often the buffer is written (default 1s).
func WithInterval(d time.Duration) Option { return func(b *Buffer) { b.interval = d } }

// WithLimits sets the pending entries that trigger an early write and
// those beyond which records are dropped.
func WithLimits(batch, limit int) Option {
	return func(b *Buffer) { b.batch, b.limit = batch, limit }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(b *Buffer) { b.log = l } }

// New returns an empty buffer writing to db.
func New(db *meta.DB, opts ...Option) *Buffer {
	b := &Buffer{
		db: db, log: slog.Default(),
		interval: DefaultInterval, batch: DefaultBatch, limit: DefaultLimit,
		counts: map[int64]int64{}, times: map[timeKey]time.Time{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// pending is the number of entries a write will carry; b.mu held. Pull
// counts are one integer per repository, so they are not counted: a pull
// of an artifact already pending never needs room.
func (b *Buffer) pending() int { return len(b.times) + len(b.audits) }

// full reports, and counts, a record that finds no room; b.mu held.
func (b *Buffer) full(need int) bool {
	if b.pending()+need <= b.limit {
		return false
	}
	b.dropped.Add(1)
	if b.warned.CompareAndSwap(false, true) {
		b.log.Warn("pull record buffer is full: dropping pull records until it drains (counted in berth_pull_records_dropped_total)",
			"limit", b.limit)
	}
	return true
}

// Pull records a pull of manifest d of the repository at t, made by tag
// when tag is not empty.
func (b *Buffer) Pull(repoID int64, d oci.Digest, tag string, t time.Time) {
	mk, tk := timeKey{repo: repoID, digest: d}, timeKey{repo: repoID, digest: d, tag: tag}
	b.mu.Lock()
	need := 0
	if _, ok := b.times[mk]; !ok {
		need++
	}
	if _, ok := b.times[tk]; tag != "" && !ok {
		need++
	}
	if need > 0 && b.full(need) {
		b.mu.Unlock()
		return
	}
	b.counts[repoID]++
	later(b.times, mk, t)
	if tag != "" {
		later(b.times, tk, t)
	}
	n := b.pending()
	b.mu.Unlock()
	b.nudge(n)
}

// Audit records a pull's audit entry.
func (b *Buffer) Audit(a meta.AuditLog) {
	b.mu.Lock()
	if b.full(1) {
		b.mu.Unlock()
		return
	}
	b.audits = append(b.audits, a)
	n := b.pending()
	b.mu.Unlock()
	b.nudge(n)
}

func later(m map[timeKey]time.Time, k timeKey, t time.Time) {
	if old, ok := m[k]; !ok || t.After(old) {
		m[k] = t
	}
}

// nudge asks for an early write once n entries are pending.
func (b *Buffer) nudge(n int) {
	if n < b.batch {
		return
	}
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// take empties the buffer into a batch.
func (b *Buffer) take() meta.PullBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch := meta.PullBatch{Counts: b.counts, Audits: b.audits}
	for k, t := range b.times {
		batch.Times = append(batch.Times, meta.PullTime{RepoID: k.repo, Digest: k.digest, Tag: k.tag, At: t})
	}
	b.counts, b.times, b.audits = map[int64]int64{}, map[timeKey]time.Time{}, nil
	if len(batch.Audits) == 0 && len(batch.Times) == 0 {
		b.warned.Store(false)
	}
	return batch
}

// putBack returns a batch that could not be written, as far as there is
// room, so that a database outage delays records instead of losing them.
func (b *Buffer) putBack(batch meta.PullBatch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, n := range batch.Counts {
		b.counts[id] += n
	}
	for _, p := range batch.Times {
		k := timeKey{repo: p.RepoID, digest: p.Digest, tag: p.Tag}
		if _, ok := b.times[k]; !ok && b.full(1) {
			continue
		}
		later(b.times, k, p.At)
	}
	for _, a := range batch.Audits {
		if b.full(1) {
			continue
		}
		b.audits = append(b.audits, a)
	}
}

// Flush writes what is pending now, in one transaction.
func (b *Buffer) Flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	batch := b.take()
	if batch.Empty() {
		return nil
	}
	if err := b.db.Q().RecordPulls(ctx, batch); err != nil {
		b.putBack(batch)
		return err
	}
	b.flushes.Add(1)
	return nil
}

// Start begins writing the buffer every interval, and early when it
// fills, until Close.
func (b *Buffer) Start() {
	b.started.Store(true)
	go b.run()
}

func (b *Buffer) run() {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		if err := b.Flush(context.Background()); err != nil {
			b.log.Warn("write pull records", "err", err)
		}
	}
}

// Close stops the writer, if it was started, and writes what is left.
// Records that arrive after Close are written by the next Flush only.
func (b *Buffer) Close(ctx context.Context) error {
	b.once.Do(func() { close(b.stop) })
	if b.started.Load() {
		select {
		case <-b.done:
		case <-ctx.Done():
		}
	}
	return b.Flush(ctx)
}

// Dropped is how many records found the buffer full since start.
func (b *Buffer) Dropped() uint64 { return b.dropped.Load() }

// Flushes is how many batches were written since start.
func (b *Buffer) Flushes() uint64 { return b.flushes.Load() }
