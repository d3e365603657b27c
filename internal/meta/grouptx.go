package meta

import (
	"context"
	"strconv"
	"sync"
)

// txGroup batches concurrent GroupTx calls on SQLite into one transaction.
// SQLite has one writer, and with synchronous=FULL every commit waits for
// an fsync of the WAL; pushes from many clients queued behind each other's
// fsyncs. Committed together, they share one.
type txGroup struct {
	mu      sync.Mutex
	queue   []*groupReq
	leading bool
}

type groupReq struct {
	fn   func(q *Q) error
	err  error
	done chan struct{}
}

// GroupTx runs fn in a transaction that may be shared with other GroupTx
// calls running at the same time (SQLite; on PostgreSQL it is Tx). Each fn
// runs inside its own savepoint: an fn that fails changes nothing and gets
// its own error, and the others still commit. GroupTx returns once the
// shared transaction is committed (or failed), so a nil error still means
// fn's writes are durable. fn must use a context that is not cancelled
// (context.WithoutCancel): cancelling a running SQLite statement rolls
// back the whole transaction, which other callers share.
func (db *DB) GroupTx(ctx context.Context, fn func(q *Q) error) error {
	if db.dialect != SQLite {
		return db.Tx(ctx, fn)
	}
	r := &groupReq{fn: fn, done: make(chan struct{})}
	g := &db.group
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if !g.leading {
		g.leading = true
		go db.leadGroup()
	}
	g.mu.Unlock()
	<-r.done
	return r.err
}

// leadGroup commits batches until no caller is waiting.
func (db *DB) leadGroup() {
	g := &db.group
	g.mu.Lock()
	for len(g.queue) > 0 {
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		db.runGroup(batch)
		g.mu.Lock()
	}
	g.leading = false
	g.mu.Unlock()
}

func (db *DB) runGroup(batch []*groupReq) {
	ctx := context.Background()
	results := make([]error, len(batch))
	err := db.Tx(ctx, func(q *Q) error {
		clear(results)
		if len(batch) == 1 {
			return batch[0].fn(q)
		}
		for i, r := range batch {
			sp := "grp" + strconv.Itoa(i)
			if _, err := q.w.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
				return err
			}
			if e := r.fn(q); e != nil {
				if retryable(e) {
					return e // the whole transaction runs again
				}
				results[i] = e
				if _, err := q.w.ExecContext(ctx, "ROLLBACK TO "+sp); err != nil {
					return err
				}
			}
			if _, err := q.w.ExecContext(ctx, "RELEASE "+sp); err != nil {
				return err
			}
		}
		return nil
	})
	for i, r := range batch {
		switch {
		case len(batch) == 1:
			r.err = err
		case results[i] != nil:
			r.err = results[i]
		default:
			r.err = err
		}
		close(r.done)
	}
}
