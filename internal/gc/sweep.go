package gc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// collect is the run proper: plan, then delete manifests, links, blobs,
// bytes without rows and expired uploads, in that order. Each deletion
// locks and re-checks its candidate; a stop takes effect between two
// candidates, never inside one.
func (c *Collector) collect(r *runState) error {
	ctx := r.ctx
	r.setPhase("mark", 0)
	p, err := c.makePlan(ctx, r.cutoff, r.p.DeleteUntagged)
	if err != nil {
		return fmt.Errorf("mark: %w", err)
	}
	var leftBytes, blobBytes int64
	for _, b := range p.leftovers {
		leftBytes += b.size
	}
	for _, b := range p.blobs {
		blobBytes += b.size
	}
	c.logf(r, "INFO", "mark: %d manifests in %d waves, %d links, %d blobs (%s) to collect; %d blobs (%s) left deleting by an earlier run",
		p.manifestCount(), len(p.waves), len(p.links), len(p.blobs), humanBytes(blobBytes), len(p.leftovers), humanBytes(leftBytes))

	orphans, err := c.findOrphans(ctx, r, p)
	if err != nil {
		return fmt.Errorf("look for bytes without a row: %w", err)
	}
	if r.p.DryRun {
		r.manifests.Store(int64(p.manifestCount()))
		r.links.Store(int64(len(p.links)))
		var n, size int64
		for _, list := range [][]blobRef{p.leftovers, p.blobs, orphans} {
			for _, b := range list {
				n++
				size += b.size
			}
		}
		r.blobs.Store(n)
		r.bytes.Store(size)
		c.logf(r, "INFO", "dry run: nothing was deleted; expired uploads are swept by real runs only")
		return nil
	}

	r.setPhase("leftovers", len(p.leftovers))
	if err := forEach(r, p.leftovers, func(b []blobRef) error { return c.finishDeleting(r, b) }); err != nil {
		return err
	}
	for i, wave := range p.waves {
		r.setPhase(fmt.Sprintf("manifests (wave %d of %d)", i+1, len(p.waves)), len(wave))
		if err := forEach(r, wave, func(b []manifestKey) error { return c.deleteManifests(r, b) }); err != nil {
			return err
		}
	}
	r.setPhase("links", len(p.links))
	if err := forEach(r, p.links, func(b []manifestKey) error { return c.removeLinks(r, b) }); err != nil {
		return err
	}
	r.setPhase("blobs", len(p.blobs))
	if err := forEach(r, p.blobs, func(b []blobRef) error { return c.deleteBlobs(r, b) }); err != nil {
		return err
	}
	r.setPhase("bytes without rows", len(orphans))
	if err := c.deleteOrphans(r, orphans); err != nil {
		return err
	}
	r.setPhase("uploads", 0)
	if c.uploads != nil {
		n, err := c.uploads.SweepUploads(ctx)
		r.uploads.Add(int64(n))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.failures.Add(1)
			c.logf(r, "WARNING", "sweep expired uploads: %v", err)
		}
	}
	if t, ok := c.blobs.(tempSweeper); ok {
		if _, err := t.SweepTemp(time.Hour); err != nil {
			c.logf(r, "WARNING", "sweep temporary files: %v", err)
		}
	}
	return nil
}

// batchSize is how many candidates one transaction locks, re-checks and
// changes: few enough that a push meeting one of them waits only
// milliseconds, many enough that commits (an fsync each on SQLite) do
// not dominate.
const batchSize = 100

// forEach runs fn on batches of items with the run's workers, stopping
// early when the run's context ends. fn reports failures of single
// batches itself (they do not stop the run) and returns only errors that
// must.
func forEach[T any](r *runState, items []T, fn func([]T) error) error {
	if len(items) == 0 {
		return r.ctx.Err()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	work := make(chan []T)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(r.p.Workers, (len(items)+batchSize-1)/batchSize) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range work {
				if err := fn(batch); err != nil {
					once.Do(func() { first = err; cancel() })
				}
				r.phaseDone.Add(int64(len(batch)))
			}
		}()
	}
feed:
	for len(items) > 0 {
		n := min(batchSize, len(items))
		select {
		case <-ctx.Done():
			break feed
		case work <- items[:n]:
		}
		items = items[n:]
	}
	close(work)
	wg.Wait()
	if first != nil {
		return first
	}
	return r.ctx.Err()
}

// failed records the failure of one batch and lets the run go on,
// unless the run itself is ending.
func (c *Collector) failed(r *runState, err error, format string, args ...any) error {
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	r.failures.Add(1)
	c.logf(r, "WARNING", format+": %v", append(args, err)...)
	return nil
}

// failedKeep is failed for steps that finish candidates: they run even
// while the run is stopping, so their failures always count.
func (c *Collector) failedKeep(r *runState, err error, format string, args ...any) {
	r.failures.Add(1)
	c.logf(r, "WARNING", format+": %v", append(args, err)...)
}

// deleteManifests deletes the untagged manifests and orphaned referrers
// of batch that, each with its row locked, still qualify.
func (c *Collector) deleteManifests(r *runState, batch []manifestKey) error {
	return inSlices(r, batch, func(ctx context.Context, q *meta.Q, k manifestKey) error {
		ok, err := q.LockManifest(ctx, k.repo, k.d)
		if err != nil {
			return err
		}
		if ok {
			// A new statement, after the lock: it sees tags, index
			// entries and subjects committed while we waited.
			ok, err = q.ManifestCollectible(ctx, k.repo, k.d, r.cutoff, r.p.DeleteUntagged)
			if err != nil {
				return err
			}
		}
		if !ok {
			return errUnchanged
		}
		return q.DeleteManifest(ctx, k.repo, k.d)
	}, nil, func(done []manifestKey, changed int) {
		r.manifests.Add(int64(changed))
	}, func(err error, rest []manifestKey) error {
		return c.failed(r, err, "delete %d manifests from %s@%s on", len(rest), repoName(rest[0].repo), rest[0].d)
	})
}

func repoName(id int64) string { return fmt.Sprintf("repository %d", id) }

// removeLinks removes the repository links of batch for which, with the
// blob's row locked (the row uploads, mounts and manifest pushes lock
// too), no manifest of the repository references the blob and neither
// the link nor the blob was used after the cutoff.
func (c *Collector) removeLinks(r *runState, batch []manifestKey) error {
	return inSlices(r, batch, func(ctx context.Context, q *meta.Q, k manifestKey) error {
		if _, err := q.LockBlob(ctx, k.d); err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
		ok, err := q.RemoveLinkIfUnused(ctx, k.repo, k.d, r.cutoff)
		if err == nil && !ok {
			err = errUnchanged
		}
		return err
	}, nil, func(done []manifestKey, changed int) {
		r.links.Add(int64(changed))
	}, func(err error, rest []manifestKey) error {
		return c.failed(r, err, "remove %d links from blob %s on", len(rest), rest[0].d)
	})
}

// deleteBlobs collects blobs by DESIGN.md's protocol: transaction 1
// locks each row, re-checks in a new statement that nothing references
// it and that it is old, and marks it deleting; then the bytes go; then
// transaction 2 deletes the rows.
func (c *Collector) deleteBlobs(r *runState, batch []blobRef) error {
	var marked []blobRef
	return inSlices(r, batch, func(ctx context.Context, q *meta.Q, b blobRef) error {
		row, err := q.LockBlob(ctx, b.d)
		if errs.Is(err, errs.NotFound) {
			return errUnchanged
		}
		if err != nil {
			return err
		}
		if row.State != meta.BlobLive {
			return errUnchanged
		}
		ok, err := q.BlobCollectible(ctx, b.d, r.cutoff)
		if err != nil {
			return err
		}
		if !ok {
			return errUnchanged
		}
		if err := q.SetBlobState(ctx, b.d, meta.BlobDeleting); err != nil {
			return err
		}
		marked = append(marked, blobRef{b.d, row.Size})
		return nil
	}, func() { marked = marked[:0] }, func([]blobRef, int) {
		// Marked: finish them even if the run is being stopped, so that
		// pushes of these digests do not wait for the next run.
		c.finishBlobs(r, marked)
		marked = marked[:0]
	}, func(err error, rest []blobRef) error {
		marked = marked[:0]
		return c.failed(r, err, "mark %d blobs from %s on", len(rest), rest[0].d)
	})
}

// errUnchanged tells inSlices that a candidate was left alone.
var errUnchanged = errors.New("unchanged")

// txBudget bounds how long one GC transaction keeps taking candidates.
// On SQLite a transaction holds the only write lock, and every write of
// a push waits for it: short transactions keep push latency near its
// idle value, while a commit per candidate would spend the run on
// fsyncs.
const txBudget = 5 * time.Millisecond

// inSlices runs step on the items of batch in transactions of up to
// txBudget each. step returns nil when it changed the item, errUnchanged
// when it left it alone, or an error that aborts the transaction. After
// each commit, committed is called with the items it covered and how
// many were changed; after a failed transaction, failed is called with
// the items not yet done, and its result is returned. begin, if not
// nil, runs at the start of every attempt of a transaction (the store
// retries one that lost a race).
func inSlices[T any](r *runState, batch []T, step func(context.Context, *meta.Q, T) error, begin func(), committed func([]T, int),
	failed func(error, []T) error) error {
	c := r.collector
	// A stop must not interrupt a commit (its outcome would be unknown,
	// and marked rows unfinished): the transaction ignores cancellation,
	// and the loop checks for a stop between candidates instead.
	ctx := context.WithoutCancel(r.ctx)
	for len(batch) > 0 {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		var n, changed int
		err := c.db.Tx(ctx, func(q *meta.Q) error {
			n, changed = 0, 0
			if begin != nil {
				begin()
			}
			start := time.Now()
			for _, it := range batch {
				if n > 0 && (time.Since(start) > txBudget || r.ctx.Err() != nil) {
					break
				}
				switch err := step(ctx, q, it); {
				case err == nil:
					changed++
				case !errors.Is(err, errUnchanged):
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return failed(err, batch)
		}
		committed(batch[:n], changed)
		batch = batch[n:]
	}
	return nil
}

// finishBlobs deletes the bytes and then the rows of blobs in state
// deleting. Both steps are idempotent; a crash between them leaves rows
// deleting for the next run.
func (c *Collector) finishBlobs(r *runState, batch []blobRef) error {
	if len(batch) == 0 {
		return nil
	}
	if err := c.fence(r); err != nil {
		return err // the rows stay deleting; whoever holds the lease now finishes them
	}
	ctx := context.WithoutCancel(r.ctx)
	gone := make([]blobRef, 0, len(batch))
	for _, b := range batch {
		if err := c.blobs.Delete(ctx, b.d); err != nil {
			c.failedKeep(r, err, "delete bytes of blob %s (its row stays deleting)", b.d)
			continue
		}
		gone = append(gone, b)
	}
	var n, size int64
	err := c.db.Tx(ctx, func(q *meta.Q) error {
		n, size = 0, 0
		for _, b := range gone {
			ok, err := q.DeleteDeletingBlob(ctx, b.d)
			if err != nil {
				return err
			}
			if ok {
				n++
				size += b.size
			}
		}
		return nil
	})
	if err != nil {
		c.failedKeep(r, err, "delete the rows of %d blobs (they stay deleting)", len(gone))
		return nil
	}
	r.blobs.Add(n)
	r.bytes.Add(size)
	return nil
}
