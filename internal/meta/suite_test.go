package meta

// The shared suite: every test runs against SQLite and PostgreSQL through
// forEachDialect, and asserts the rows it can observe.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type dialectCase struct {
	name string
	dsn  func(t testing.TB) string
}

var dialectCases = []dialectCase{
	{SQLite, func(t testing.TB) string { return filepath.Join(t.TempDir(), "meta.db") }},
	{Postgres, pgtest.DSN},
}

// forEachDialect runs fn, in parallel subtests, on a fresh store of each
// dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	for _, dc := range dialectCases {
		t.Run(dc.name, func(t *testing.T) {
			t.Parallel()
			fn(t, openDB(t, dc.dsn(t)))
		})
	}
}

func openDB(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// count returns the result of a SELECT count(*) query.
func count(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	q := db.Q()
	var n int
	if err := q.queryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// wantKind fails unless err has kind k.
func wantKind(t testing.TB, err error, k errs.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", k)
	}
	if got := errs.KindOf(err); got != k {
		t.Fatalf("got %v (kind %v), want kind %v", err, got, k)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must1[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// dg returns a distinct valid digest for s.
func dg(s string) oci.Digest { return oci.FromBytes([]byte(s)) }

// at returns a fixed UTC time with nanoseconds, which the store keeps to
// the microsecond.
func at(sec int) time.Time { return time.Date(2020, 5, 1, 12, 0, sec, 123456789, time.UTC) }

var diffOpts = []cmp.Option{cmpopts.EquateEmpty()}

func diff(t testing.TB, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, diffOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func TestOpenDialectAndMigrations(t *testing.T) {
	for _, dc := range dialectCases {
		t.Run(dc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := dc.dsn(t)
			ms, err := migrations(dc.name)
			must(t, err)

			// N processes starting at once on a new database.
			const n = 4
			dbs := make(chan *DB, n)
			errc := make(chan error, n)
			for range n {
				go func() {
					db, err := Open(ctx, dsn)
					errc <- err
					dbs <- db
				}()
			}
			for range n {
				if err := <-errc; err != nil {
					t.Fatalf("concurrent Open: %v", err)
				}
				db := <-dbs
				if got := db.Dialect(); got != dc.name {
					t.Errorf("Dialect() = %q, want %q", got, dc.name)
				}
				must(t, db.Ping(ctx))
				if n := count(t, db, `SELECT count(*) FROM schema_migrations`); n != len(ms) {
					t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
				}
				must(t, db.Close())
			}

			// Re-open: nothing re-applied, data kept.
			db := openDB(t, dsn)
			must1[Repo](t)(db.Q().EnsureRepo(ctx, "kept"))
			must(t, db.Close())
			db = openDB(t, dsn)
			if n := count(t, db, `SELECT count(*) FROM schema_migrations`); n != len(ms) {
				t.Errorf("after re-open schema_migrations has %d rows, want %d", n, len(ms))
			}
			names := must1[[]string](t)(db.Q().ListRepos(ctx, "", 0))
			diff(t, "repositories after re-open", []string{"kept"}, names)
		})
	}
}

func TestSQLiteSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct{ dsn, file string }{
		{filepath.Join(dir, "plain.db"), "plain.db"},
		{"sqlite://" + filepath.Join(dir, "scheme.db"), "scheme.db"},
		{"file:" + filepath.Join(dir, "file.db") + "?_pragma=cache_size(-4000)", "file.db"},
		{filepath.Join(dir, "odd #1 %41.db"), "odd #1 %41.db"}, // '?' would start parameters
	} {
		dsn := tc.dsn
		t.Run(tc.file, func(t *testing.T) {
			db := openDB(t, dsn)
			if _, err := os.Stat(filepath.Join(dir, tc.file)); err != nil {
				t.Errorf("database file: %v", err)
			}
			if db.Dialect() != SQLite {
				t.Fatalf("Dialect() = %q", db.Dialect())
			}
			pragma := func(name string) string {
				var v string
				must(t, db.w.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
				return v
			}
			got := map[string]string{}
			for _, p := range []string{"journal_mode", "foreign_keys", "synchronous", "busy_timeout"} {
				got[p] = pragma(p)
			}
			diff(t, "write pool pragmas", map[string]string{
				"journal_mode": "wal", "foreign_keys": "1", "synchronous": "2", "busy_timeout": "10000",
			}, got)
			// The read pool refuses writes.
			if _, err := db.r.ExecContext(ctx, `DELETE FROM repositories`); err == nil {
				t.Error("read pool accepted a write")
			}
		})
	}
	_, err := Open(ctx, ":memory:")
	wantKind(t, err, errs.Invalid)
}

func TestTxRollbackAndRetry(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Tx(ctx, func(q *Q) error {
			r, err := q.EnsureRepo(ctx, "rolled/back")
			if err != nil {
				return err
			}
			must(t, q.LinkBlob(ctx, r.ID, dg("x")))
			if _, err := q.InsertBlob(ctx, Blob{Digest: dg("x"), Size: 1}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx = %v, want the function's error", err)
		}
		for _, table := range []string{"repositories", "repo_blobs", "blobs"} {
			if n := count(t, db, `SELECT count(*) FROM `+table); n != 0 {
				t.Errorf("%s has %d rows after rollback, want 0", table, n)
			}
		}

		// A lost race is retried with the whole function.
		calls := 0
		err = db.Tx(ctx, func(q *Q) error {
			calls++
			if _, err := q.EnsureRepo(ctx, fmt.Sprintf("try/%d", calls)); err != nil {
				return err
			}
			if calls == 1 {
				return fmt.Errorf("wrapped: %w", serializationFailure())
			}
			return nil
		})
		must(t, err)
		diff(t, "calls", 2, calls)
		diff(t, "repositories after retry", []string{"try/2"}, must1[[]string](t)(db.Q().ListRepos(ctx, "", 0)))

		// A race lost every time ends as Unavailable.
		calls = 0
		err = db.Tx(ctx, func(q *Q) error { calls++; return serializationFailure() })
		wantKind(t, err, errs.Unavailable)
		diff(t, "calls", txAttempts, calls)
	})
}

// TestSQLiteTxTakesWriteLock: a transaction owns the write lock from its
// first statement (BEGIN IMMEDIATE), even if it has only read so far, so
// another process cannot slip a write between its read and its write.
func TestSQLiteTxTakesWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	db := openDB(t, path)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	must(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	must(t, err)
	defer conn.Close()

	var during error
	must(t, db.Tx(ctx, func(q *Q) error {
		_, err := q.GetBlob(ctx, dg("x"))
		wantKind(t, err, errs.NotFound)
		_, during = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if during == nil {
			_, err = conn.ExecContext(ctx, "ROLLBACK")
			must(t, err)
		}
		return nil
	}))
	if !retryable(during) {
		t.Errorf("another writer began during a reading transaction: got %v, want SQLITE_BUSY", during)
	}
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	must(t, err)
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	must(t, err)
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("database file mode %o, want 600", mode)
	}
}
