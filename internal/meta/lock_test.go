package meta

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/berth-registry/berth/internal/oci"
)

// bound is how long a test waits for something that must happen.
const bound = 30 * time.Second

func serializationFailure() error {
	return &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
}

// blockedProbe returns a function that reports whether some transaction
// started after the probe was made is waiting for a lock: on PostgreSQL a
// backend of this database waiting on a lock, on SQLite a caller queued
// for the single write connection.
func blockedProbe(t *testing.T, db *DB) func() bool {
	t.Helper()
	if db.Dialect() == Postgres {
		return func() bool {
			return count(t, db, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
		}
	}
	base := db.w.Stats().WaitCount
	return func() bool { return db.w.Stats().WaitCount > base }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", bound, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func recv[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(bound):
		t.Fatalf("gave up after %v waiting for %s", bound, what)
		panic("unreachable")
	}
}

// TestLockBlobBlocks shows that a transaction holding LockBlob makes a
// second LockBlob wait, and that the second then sees the first's commit:
// the property GC and upload commits rely on.
func TestLockBlobBlocks(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		d := dg("contended")
		must1[bool](t)(db.Q().InsertBlob(ctx, Blob{Digest: d, Size: 1}))

		events := make(chan string, 4)
		locked, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		done1 := make(chan error, 1)
		go func() {
			done1 <- db.Tx(ctx, func(q *Q) error {
				if _, err := q.LockBlob(ctx, d); err != nil {
					return err
				}
				once.Do(func() { close(locked) })
				<-release
				if err := q.SetBlobState(ctx, d, BlobDeleting); err != nil {
					return err
				}
				events <- "tx1 updated"
				return nil
			})
		}()
		recv(t, "tx1 to lock", locked)

		blocked := blockedProbe(t, db)
		done2 := make(chan error, 1)
		var seen Blob
		go func() {
			done2 <- db.Tx(ctx, func(q *Q) (err error) {
				seen, err = q.LockBlob(ctx, d)
				events <- "tx2 locked"
				return err
			})
		}()
		waitFor(t, "tx2 to wait for the lock", blocked)
		select {
		case e := <-events:
			t.Fatalf("%q while tx1 held the lock", e)
		default:
		}
		close(release)
		must(t, recv(t, "tx1", done1))
		must(t, recv(t, "tx2", done2))
		diff(t, "event order", []string{"tx1 updated", "tx2 locked"}, []string{<-events, <-events})
		diff(t, "state seen by tx2", BlobDeleting, seen.State)
	})
}

// TestLockBlobsShared: readers that share-lock blobs do not wait for each
// other, and LockBlob waits for all of them. PostgreSQL only: SQLite has a
// single writer, which TestLockBlobBlocks covers.
func TestLockBlobsSharedPostgres(t *testing.T) {
	t.Parallel()
	db := openDB(t, pgDSN(t))
	ctx := context.Background()
	d := dg("shared")
	must1[bool](t)(db.Q().InsertBlob(ctx, Blob{Digest: d, Size: 1}))

	holding := make(chan struct{}, 2)
	release := make(chan struct{})
	done := make(chan error, 3)
	for range 2 {
		go func() {
			done <- db.Tx(ctx, func(q *Q) error {
				bs, err := q.LockBlobsShared(ctx, []oci.Digest{d})
				if err != nil || len(bs) != 1 {
					return err
				}
				holding <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	// Both hold the shared lock at the same time.
	recv(t, "first shared lock", holding)
	recv(t, "second shared lock", holding)

	blocked := blockedProbe(t, db)
	var exclusive atomic.Bool
	go func() {
		done <- db.Tx(ctx, func(q *Q) error {
			_, err := q.LockBlob(ctx, d)
			exclusive.Store(true)
			return err
		})
	}()
	waitFor(t, "LockBlob to wait for the shared locks", blocked)
	if exclusive.Load() {
		t.Fatal("LockBlob returned while shared locks were held")
	}
	close(release)
	for range 3 {
		must(t, recv(t, "transactions", done))
	}
	diff(t, "exclusive lock taken", true, exclusive.Load())
}

// TestTxRetriesDeadlock makes two transactions lock two blobs in opposite
// order. PostgreSQL aborts one with a deadlock error; Tx runs it again and
// both succeed.
func TestTxRetriesDeadlockPostgres(t *testing.T) {
	t.Parallel()
	db := openDB(t, pgDSN(t))
	ctx := context.Background()
	a, b := dg("a"), dg("b")
	for _, d := range []oci.Digest{a, b} {
		must1[bool](t)(db.Q().InsertBlob(ctx, Blob{Digest: d, Size: 1}))
	}
	var calls atomic.Int32
	first := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var onces [2]sync.Once
	run := func(me int, mine, theirs oci.Digest) error {
		return db.Tx(ctx, func(q *Q) error {
			calls.Add(1)
			if _, err := q.LockBlob(ctx, mine); err != nil {
				return err
			}
			firstAttempt := false
			onces[me].Do(func() { close(first[me]); firstAttempt = true })
			if firstAttempt { // wait until the other holds its lock
				select {
				case <-first[1-me]:
				case <-time.After(bound):
				}
			}
			if _, err := q.LockBlob(ctx, theirs); err != nil {
				return err
			}
			return q.TouchBlob(ctx, mine, at(me))
		})
	}
	done := make(chan error, 2)
	go func() { done <- run(0, a, b) }()
	go func() { done <- run(1, b, a) }()
	must(t, recv(t, "tx 0", done))
	must(t, recv(t, "tx 1", done))
	// At least one was aborted and retried; a retry can lose again when
	// the other transaction has not yet taken the row lock it waited for.
	if n := calls.Load(); n < 3 {
		t.Errorf("%d attempts in all, want at least 3 (a deadlock and a retry)", n)
	}
}

func pgDSN(t *testing.T) string {
	for _, dc := range dialectCases {
		if dc.name == Postgres {
			return dc.dsn(t)
		}
	}
	t.Fatal("no postgres case")
	return ""
}
