package gc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Why a run's context ended early.
var (
	errStopped   = errors.New("stopped on request")
	errLeaseLost = errors.New("lost the gc lease")
	errShutdown  = errors.New("the server is shutting down")
)

// maxLog bounds the log kept in a run's row.
const maxLog = 1 << 20

// progressEvery is how often a long run logs its progress.
const progressEvery = 5 * time.Second

// runState is a run in progress on this node.
type runState struct {
	collector *Collector
	id        int64
	p         Params
	holder    string
	cutoff    time.Time
	ctx       context.Context
	cancel    context.CancelCauseFunc
	done      chan struct{}

	manifests, links, blobs, bytes, uploads atomic.Int64
	failures                                atomic.Int64
	// phaseDone and phaseTotal count the candidates of the current step,
	// for the progress lines of the log.
	phaseDone, phaseTotal atomic.Int64

	mu        sync.Mutex
	phase     string
	logBuf    strings.Builder // not yet written to the row
	logSize   int
	renewedAt time.Time // when the lease was last renewed (local clock)
}

func (r *runState) counts() meta.GCCounts {
	return meta.GCCounts{
		ManifestsDeleted: r.manifests.Load(),
		LinksRemoved:     r.links.Load(),
		BlobsDeleted:     r.blobs.Load(),
		BytesFreed:       r.bytes.Load(),
		UploadsRemoved:   r.uploads.Load(),
	}
}

// logf adds a line to the run's log (and to the process log).
func (c *Collector) logf(r *runState, level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	line := fmt.Sprintf("%s [%s] %s\n", c.now().UTC().Format("2006-01-02T15:04:05.000Z"), level, msg)
	r.mu.Lock()
	if r.logSize+len(line) <= maxLog {
		r.logBuf.WriteString(line)
		r.logSize += len(line)
	} else if r.logSize < maxLog+1 {
		r.logBuf.WriteString("… (log truncated)\n")
		r.logSize = maxLog + 1
	}
	r.mu.Unlock()
	attrs := []any{"run", r.id}
	switch level {
	case "ERROR":
		c.log.Error("gc: "+msg, attrs...)
	case "WARNING":
		c.log.Warn("gc: "+msg, attrs...)
	default:
		c.log.Info("gc: "+msg, attrs...)
	}
}

// setPhase starts a step of total candidates.
func (r *runState) setPhase(p string, total int) {
	r.mu.Lock()
	r.phase = p
	r.mu.Unlock()
	r.phaseDone.Store(0)
	r.phaseTotal.Store(int64(total))
}

// takeLog returns the log text not yet written, and the phase.
func (r *runState) takeLog() (string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.logBuf.String()
	r.logBuf.Reset()
	return s, r.phase
}

// Start begins a run in the background and returns its row. It fails
// with a Conflict error when a run is going on anywhere, and with Invalid
// for bad parameters.
func (c *Collector) Start(ctx context.Context, kind string, p Params) (meta.GCRun, error) {
	p, err := p.check()
	if err != nil {
		return meta.GCRun{}, err
	}
	if kind != KindManual && kind != KindSchedule {
		return meta.GCRun{}, errs.Invalidf("unknown gc run kind %q", kind)
	}
	if c.base.Err() != nil {
		return meta.GCRun{}, errs.New(errs.Unavailable, "", "garbage collection is shutting down")
	}
	q := c.db.Q()
	holder := c.node + "/" + randomHex(4)
	now := c.now()
	got, err := q.AcquireGCLease(ctx, holder, now, now.Add(c.leaseTTL))
	if err != nil {
		return meta.GCRun{}, err
	}
	if !got {
		return meta.GCRun{}, errs.Conflictf("a garbage collection is already running")
	}
	renewed := time.Now()
	release := func() {
		if err := q.ReleaseGCLease(context.WithoutCancel(ctx), holder); err != nil {
			c.log.Warn("gc: release lease", "err", err)
		}
	}
	// Whatever still looks pending or running belongs to a node that
	// died or lost the lease: only the holder runs.
	if n, err := q.AbandonGCRuns(ctx, 0, now.UTC().Format(time.RFC3339)+
		" [ERROR] abandoned: the node running it stopped or lost the gc lease\n"); err != nil {
		release()
		return meta.GCRun{}, err
	} else if n > 0 {
		c.log.Warn("gc: marked abandoned runs as failed", "count", n)
	}
	run, err := q.CreateGCRun(ctx, meta.GCRun{Kind: kind, Status: meta.GCRunning, DryRun: p.DryRun,
		DeleteUntagged: p.DeleteUntagged, TimeWindow: p.TimeWindow, Workers: p.Workers, Node: holder,
		CreatedAt: now})
	if err == nil {
		_, err = q.RenewGCLease(ctx, holder, run.ID, now.Add(c.leaseTTL))
	}
	if err != nil {
		release()
		return meta.GCRun{}, err
	}
	rctx, cancel := context.WithCancelCause(c.base)
	r := &runState{collector: c, id: run.ID, p: p, holder: holder, cutoff: now.Add(-p.TimeWindow), ctx: rctx,
		cancel: cancel, done: make(chan struct{}), renewedAt: renewed}
	c.mu.Lock()
	c.running[run.ID] = r
	c.wg.Add(1)
	c.mu.Unlock()
	go c.execute(r)
	return run, nil
}

// Run runs a collection to its end and returns its final row. Cancelling
// ctx stops it.
func (c *Collector) Run(ctx context.Context, kind string, p Params) (meta.GCRun, error) {
	run, err := c.Start(ctx, kind, p)
	if err != nil {
		return meta.GCRun{}, err
	}
	stop := context.AfterFunc(ctx, func() { c.cancelLocal(run.ID, errStopped) })
	defer stop()
	return c.Wait(context.WithoutCancel(ctx), run.ID)
}

// Wait waits for run id to end and returns its final row.
func (c *Collector) Wait(ctx context.Context, id int64) (meta.GCRun, error) {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return meta.GCRun{}, ctx.Err()
		}
		return c.Get(ctx, id)
	}
	for {
		run, err := c.Get(ctx, id)
		if err != nil || (run.Status != meta.GCRunning && run.Status != meta.GCPending) {
			return run, err
		}
		t := time.NewTimer(c.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return meta.GCRun{}, ctx.Err()
		case <-t.C:
		}
	}
}

// Stop asks run id to stop, wherever it runs; it ends as stopped after
// finishing the candidate at hand. Stopping a run that has ended does
// nothing. A run whose node is gone (the lease is no longer its) is
// marked stopped at once.
func (c *Collector) Stop(ctx context.Context, id int64) error {
	q := c.db.Q()
	going, err := q.RequestGCRunStop(ctx, id)
	if err != nil || !going {
		return err
	}
	if c.cancelLocal(id, errStopped) {
		return nil
	}
	l, err := q.GetGCLease(ctx)
	if err != nil {
		return err
	}
	if l.RunID != id || l.Holder == "" || l.ExpiresAt.Before(c.now()) {
		_, err := q.FinishGCRun(ctx, id, meta.GCStopped, meta.GCCounts{}, c.now().UTC().Format(time.RFC3339)+
			" [INFO] stopped: no node was running it any more\n")
		return err
	}
	return nil
}

func (c *Collector) cancelLocal(id int64, cause error) bool {
	c.mu.Lock()
	r := c.running[id]
	c.mu.Unlock()
	if r == nil {
		return false
	}
	r.cancel(cause)
	return true
}

// execute is the body of a run, from the lease taken to the lease given
// back.
func (c *Collector) execute(r *runState) {
	defer c.wg.Done()
	defer close(r.done)
	defer func() {
		c.mu.Lock()
		delete(c.running, r.id)
		c.mu.Unlock()
	}()
	bg := context.WithoutCancel(r.ctx) // for the bookkeeping after a stop
	hbDone := make(chan struct{})
	var hb sync.WaitGroup
	hb.Add(1)
	go func() { defer hb.Done(); c.heartbeat(r, hbDone) }()

	mode := "collecting"
	if r.p.DryRun {
		mode = "dry run"
	}
	c.logf(r, "INFO", "%s: delete_untagged=%t time_window=%s workers=%d; keeping what was used after %s",
		mode, r.p.DeleteUntagged, r.p.TimeWindow, r.p.Workers, r.cutoff.UTC().Format(time.RFC3339))
	err := c.collect(r)
	if err == nil && !r.p.DryRun {
		// Scan reports are kept by digest; those of artifacts deleted
		// (or whose project was) go with the unreferenced bytes.
		if n, rerr := c.db.Q().DeleteOrphanScanReports(r.ctx); rerr != nil {
			c.logf(r, "WARNING", "scan reports of deleted artifacts: %v; the next run retries", rerr)
		} else if n > 0 {
			c.logf(r, "INFO", "removed %d scan reports of deleted artifacts", n)
		}
	}

	close(hbDone)
	hb.Wait()
	status := meta.GCSuccess
	cause := context.Cause(r.ctx)
	switch {
	case err == nil && r.failures.Load() > 0:
		status = meta.GCError
		c.logf(r, "ERROR", "finished with %d failures; the next run retries them", r.failures.Load())
	case err == nil:
	case r.ctx.Err() != nil && !errors.Is(cause, errLeaseLost):
		// Stopped on request, by Run's caller, or by Close.
		status = meta.GCStopped
		c.logf(r, "INFO", "stopped: %v", cause)
	default:
		status = meta.GCError
		if errors.Is(cause, errLeaseLost) {
			err = cause
		}
		c.logf(r, "ERROR", "failed: %v", err)
	}
	cnt := r.counts()
	verb := "deleted"
	if r.p.DryRun {
		verb = "would delete"
	}
	c.logf(r, "INFO", "%s %d manifests, %d links, %d blobs (%s), swept %d uploads",
		verb, cnt.ManifestsDeleted, cnt.LinksRemoved, cnt.BlobsDeleted, humanBytes(cnt.BytesFreed), cnt.UploadsRemoved)
	logText, _ := r.takeLog()
	// One transaction: whoever sees the run ended can start the next.
	err = c.db.Tx(bg, func(q *meta.Q) error {
		if _, err := q.FinishGCRun(bg, r.id, status, cnt, logText); err != nil {
			return err
		}
		return q.ReleaseGCLease(bg, r.holder)
	})
	if err != nil {
		c.log.Error("gc: record the end of the run and release the lease", "run", r.id, "err", err)
	}
}

// heartbeat renews the lease, writes progress to the run's row, and
// watches for a stop requested on another node, until done is closed.
func (c *Collector) heartbeat(r *runState, done <-chan struct{}) {
	bg := context.WithoutCancel(r.ctx)
	tick := min(c.poll, c.leaseTTL/4)
	t := time.NewTicker(tick)
	defer t.Stop()
	lastProgress := time.Now()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if time.Since(lastProgress) >= progressEvery {
			lastProgress = time.Now()
			r.mu.Lock()
			phase := r.phase
			r.mu.Unlock()
			cnt := r.counts()
			c.logf(r, "INFO", "progress: %s %d/%d; so far %d manifests, %d links, %d blobs deleted, %s freed",
				phase, r.phaseDone.Load(), r.phaseTotal.Load(), cnt.ManifestsDeleted, cnt.LinksRemoved,
				cnt.BlobsDeleted, humanBytes(cnt.BytesFreed))
		}
		if err := c.renew(bg, r); err != nil {
			r.cancel(fmt.Errorf("%w: %v", errLeaseLost, err))
		}
		logText, phase := r.takeLog()
		if err := c.db.Q().UpdateGCRun(bg, r.id, phase, r.counts(), logText); err != nil {
			c.log.Warn("gc: record progress", "run", r.id, "err", err)
			r.mu.Lock()
			r.logBuf.WriteString(logText) // keep it for the next write; order is approximate
			r.mu.Unlock()
		}
		if stop, err := c.db.Q().GCRunStopRequested(bg, r.id); err == nil && stop {
			r.cancel(errStopped)
		}
	}
}

// renew extends the lease if a quarter of it has passed since the last
// renewal.
func (c *Collector) renew(ctx context.Context, r *runState) error {
	r.mu.Lock()
	last := r.renewedAt
	r.mu.Unlock()
	if time.Since(last) < c.leaseTTL/4 {
		return nil
	}
	start := time.Now()
	ok, err := c.db.Q().RenewGCLease(ctx, r.holder, r.id, c.now().Add(c.leaseTTL))
	if err != nil {
		// A failed renewal is not yet a lost lease; fence() refuses to
		// delete once too little of it is certainly left.
		c.log.Warn("gc: renew lease", "run", r.id, "err", err)
		return nil
	}
	if !ok {
		return errors.New("another node holds it")
	}
	r.mu.Lock()
	r.renewedAt = start
	r.mu.Unlock()
	return nil
}

// fence makes sure the lease is certainly ours for a while before bytes
// are deleted: at least half of its TTL, by this node's clock, since the
// last renewal was sent. Otherwise it renews first, and fails the run if
// it cannot.
func (c *Collector) fence(r *runState) error {
	r.mu.Lock()
	left := c.leaseTTL - time.Since(r.renewedAt)
	r.mu.Unlock()
	if left > c.leaseTTL/2 {
		return nil
	}
	start := time.Now()
	ok, err := c.db.Q().RenewGCLease(context.WithoutCancel(r.ctx), r.holder, r.id, c.now().Add(c.leaseTTL))
	if err == nil && !ok {
		err = errors.New("another node holds it")
	}
	if err != nil {
		err = fmt.Errorf("%w: %v", errLeaseLost, err)
		r.cancel(err)
		return err
	}
	r.mu.Lock()
	r.renewedAt = start
	r.mu.Unlock()
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
