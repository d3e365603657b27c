package gc

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Bytes without a row. A crash between an upload's rename and the commit
// of its row leaves committed bytes that no row names; nothing can reach
// them, and GC deletes them. But an upload commit in flight looks the
// same for a moment: it puts a new digest's bytes in place before
// inserting the row, in one transaction, and on PostgreSQL that
// transaction holds no lock GC could wait on until it inserts.
//
// So GC first claims each such digest with a row of its own in state
// deleting (from then on, commits of the digest wait or get a retryable
// error), then waits until every transaction older than the claim has
// ended, and then re-checks each under its row lock: if a commit linked
// the digest meanwhile, its bytes are in place and the row becomes live
// instead; otherwise the bytes and then the row go. On SQLite a commit
// holds the write lock from its start to its end, so a claim cannot fall
// inside one and the wait returns at once.

// findOrphans lists committed bytes that have no blob row and were last
// written before the cutoff, if the store can list its blobs.
func (c *Collector) findOrphans(ctx context.Context, r *runState, p *plan) ([]blobRef, error) {
	w, ok := c.blobs.(blob.Walker)
	if !ok {
		return nil, nil
	}
	var out []blobRef
	err := w.Walk(ctx, func(d oci.Digest, size int64, mod time.Time) error {
		if _, ok := p.rows[d]; !ok && mod.Before(r.cutoff) {
			out = append(out, blobRef{d, size})
		}
		return nil
	})
	if len(out) > 0 {
		c.logf(r, "INFO", "found %d blobs stored without a row", len(out))
	}
	return out, err
}

// deleteOrphans claims, waits, re-checks and deletes (see above).
func (c *Collector) deleteOrphans(r *runState, orphans []blobRef) error {
	if len(orphans) == 0 {
		return nil
	}
	var claimed []blobRef
	for len(orphans) > 0 {
		batch := orphans[:min(batchSize, len(orphans))]
		orphans = orphans[len(batch):]
		if err := r.ctx.Err(); err != nil {
			return c.releaseClaims(r, claimed, err)
		}
		var got []blobRef
		ctx := context.WithoutCancel(r.ctx) // see inSlices
		err := c.db.Tx(ctx, func(q *meta.Q) error {
			got = got[:0]
			now := c.now()
			for _, o := range batch {
				_, err := q.LockBlob(ctx, o.d)
				if err == nil {
					continue // it has a row now: not an orphan
				}
				if !errs.Is(err, errs.NotFound) {
					return err
				}
				ok, err := q.InsertBlob(ctx, meta.Blob{Digest: o.d, Size: o.size, State: meta.BlobDeleting,
					LastSeen: now, CreatedAt: now})
				if err != nil {
					return err
				}
				if ok {
					got = append(got, o)
				}
			}
			return nil
		})
		if err != nil {
			if ferr := c.failed(r, err, "claim %d blobs without rows", len(batch)); ferr != nil {
				return c.releaseClaims(r, claimed, ferr)
			}
			continue
		}
		claimed = append(claimed, got...)
	}
	ok, err := c.db.WaitOlderTransactions(r.ctx, c.orphanWait, 20*time.Millisecond)
	if err != nil || !ok {
		if err == nil {
			c.logf(r, "WARNING", "transactions older than the claim of %d blobs without rows stayed open for %s; leaving them for the next run",
				len(claimed), c.orphanWait)
		}
		return c.releaseClaims(r, claimed, err)
	}
	if err := forEach(r, claimed, func(batch []blobRef) error { return c.finishDeleting(r, batch) }); err != nil {
		// Stopped part-way: give back the claims not yet finished.
		return c.releaseClaims(r, claimed, err)
	}
	return nil
}

// finishDeleting finishes blobs whose rows are in state deleting: rows
// left by a run that stopped half-way, and GC's claims on bytes without
// rows. Under each row's lock it re-checks references: a deleting row
// that GC marked itself cannot have gained any (pushes, mounts and
// manifests refuse it), so a referenced one is a claim that an upload
// commit, older than the claim, linked; its bytes are in place and the
// row becomes live. The others lose their bytes and then their rows.
func (c *Collector) finishDeleting(r *runState, batch []blobRef) error {
	var doomed []blobRef
	ctx := context.WithoutCancel(r.ctx) // see inSlices
	err := c.db.Tx(ctx, func(q *meta.Q) error {
		doomed = doomed[:0]
		for _, o := range batch {
			row, err := q.LockBlob(ctx, o.d)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if row.State != meta.BlobDeleting {
				continue
			}
			used, err := q.BlobReferenced(ctx, o.d)
			if err != nil {
				return err
			}
			if used {
				c.logf(r, "INFO", "blob %s is deleting but referenced: an upload committed it; keeping it", o.d)
				if err := q.SetBlobState(ctx, o.d, meta.BlobLive); err != nil {
					return err
				}
				continue
			}
			doomed = append(doomed, blobRef{o.d, row.Size})
		}
		return nil
	})
	if err != nil {
		return c.failed(r, err, "re-check %d deleting blobs", len(batch))
	}
	return c.finishBlobs(r, doomed)
}

// releaseClaims undoes claims on bytes without rows that will not be
// deleted now: a digest that got referenced meanwhile becomes live, the
// others lose GC's row again and stay orphans for the next run.
func (c *Collector) releaseClaims(r *runState, claimed []blobRef, cause error) error {
	ctx := context.WithoutCancel(r.ctx)
	for _, o := range claimed {
		err := c.db.Tx(ctx, func(q *meta.Q) error {
			row, err := q.LockBlob(ctx, o.d)
			if errs.Is(err, errs.NotFound) {
				return nil
			}
			if err != nil || row.State != meta.BlobDeleting {
				return err
			}
			used, err := q.BlobReferenced(ctx, o.d)
			if err != nil {
				return err
			}
			if used {
				return q.SetBlobState(ctx, o.d, meta.BlobLive)
			}
			_, err = q.DeleteDeletingBlob(ctx, o.d)
			return err
		})
		if err != nil {
			c.failedKeep(r, err, "release claim on %s (its row stays deleting)", o.d)
		}
	}
	return cause
}
