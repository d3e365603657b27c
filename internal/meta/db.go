package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/berth-registry/berth/internal/errs"
)

// Dialect names returned by DB.Dialect.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Retry policy for transactions that lose a race (PostgreSQL serialization
// failure or deadlock, SQLite BUSY). The whole function is re-run.
const (
	txAttempts    = 6
	txBackoffBase = 5 * time.Millisecond
	sqliteBusyMS  = 10000
)

// DB is an open metadata store.
//
// On SQLite it holds two pools over the same WAL file: a single-connection
// write pool whose transactions start with BEGIN IMMEDIATE, so a
// transaction that reads and then writes owns the write lock from its
// first statement and never fails half-way with SQLITE_BUSY, and a read
// pool of query_only connections for non-transactional reads, which WAL
// lets run beside the writer. On PostgreSQL both are the same pool.
type DB struct {
	dialect string
	r, w    *sql.DB
	reads   *stmtCache  // SQLite: prepared statements of r
	writes  *writeStmts // SQLite: prepared statements of w (writestmts.go)
	group   txGroup     // SQLite: GroupTx batches (grouptx.go)
	// identGen and projGen count committed changes to users, robots and
	// group memberships, and to projects, made through this DB
	// (generations.go); projects caches project rows against projGen.
	identGen, projGen atomic.Uint64
	projects          projectCache
}

// Open connects to the store named by dsn and applies pending migrations.
// "postgres://…" and "postgresql://…" select PostgreSQL; anything else is
// a SQLite file path, optionally prefixed by "sqlite://" or "file:" and
// optionally followed by "?query" parameters passed to the driver.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var db *DB
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = openPostgres(dsn)
	} else {
		db, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openPostgres(dsn string) (*DB, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(8)
	p.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{dialect: Postgres, r: p, w: p}, nil
}

func openSQLite(ctx context.Context, dsn string) (*DB, error) {
	path, query, err := sqlitePath(dsn)
	if err != nil {
		return nil, err
	}
	open := func(pragmas []string, txlock string) (*sql.DB, error) {
		q := url.Values{}
		for k, vs := range query {
			q[k] = vs
		}
		q.Add("_pragma", "busy_timeout("+strconv.Itoa(sqliteBusyMS)+")")
		q.Add("_pragma", "foreign_keys(1)")
		for _, p := range pragmas {
			q.Add("_pragma", p)
		}
		if txlock != "" {
			q.Set("_txlock", txlock)
		}
		return sql.Open("sqlite", "file:"+escapeSQLitePath(path)+"?"+q.Encode())
	}
	// The file holds password hashes and key material: create it readable
	// by the owner only (SQLite gives its -wal and -shm files the same
	// mode). An existing file keeps the mode its operator chose.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create sqlite %s: %w", path, err)
	}
	// WAL is a property of the file, set once by the writer; readers
	// only need to refuse writes.
	w, err := open([]string{"journal_mode(WAL)", "synchronous(FULL)"}, "immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before any reader opens it.
	// Processes opening a new file at once can get SQLITE_BUSY here
	// without the busy timeout applying (switching to WAL needs an
	// exclusive lock, and SQLite will not wait where waiting could
	// deadlock), so retry for as long as the busy timeout would have.
	deadline := time.Now().Add(sqliteBusyMS * time.Millisecond)
	for {
		err = w.PingContext(ctx)
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Duration(5+rand.N(20)) * time.Millisecond)
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := open([]string{"query_only(1)"}, "")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{dialect: SQLite, r: r, w: w, reads: newStmtCache(r), writes: newWriteStmts(w)}, nil
}

// sqlitePath splits a SQLite DSN into a file path and driver parameters.
func sqlitePath(dsn string) (string, url.Values, error) {
	s := strings.TrimPrefix(dsn, "sqlite://")
	s = strings.TrimPrefix(s, "file:")
	path, rawQuery, _ := strings.Cut(s, "?")
	if path == "" || path == ":memory:" || strings.HasPrefix(path, ":memory:") {
		return "", nil, errs.Invalidf("sqlite dsn %q: a file path is required (the store uses a read and a write pool)", dsn)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, errs.Wrap(errs.Invalid, err, "sqlite dsn %q: bad parameters", dsn)
	}
	return path, q, nil
}

// escapeSQLitePath escapes the characters that are special in a SQLite URI
// filename, so that any path can be opened with the "file:" form.
func escapeSQLitePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Close closes every pool.
func (db *DB) Close() error {
	err := errors.Join(db.reads.close(), db.writes.close(), db.w.Close())
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Dialect returns SQLite or Postgres.
func (db *DB) Dialect() string { return db.dialect }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "metadata store unreachable")
	}
	return nil
}

// Q returns a queryer that runs each statement on its own (autocommit).
// Methods that need several statements to be atomic open their own
// transaction. On SQLite, do not use it for writes from inside a Tx
// function: the write connection is held by the transaction.
func (db *DB) Q() *Q {
	return &Q{db: db, r: db.r, w: db.w}
}

// Tx runs fn in one transaction and commits if fn returns nil. When the
// transaction loses a race (PostgreSQL 40001/40P01, SQLite BUSY) fn is run
// again from the start, a bounded number of times, so fn must not have
// side effects outside the database that cannot be repeated. PostgreSQL
// runs at READ COMMITTED; use the Lock* methods where a decision depends
// on a row staying as read.
func (db *DB) Tx(ctx context.Context, fn func(q *Q) error) error {
	var err error
	for attempt := 0; attempt < txAttempts; attempt++ {
		if attempt > 0 {
			d := txBackoffBase << (attempt - 1)
			d += rand.N(d)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(ctx.Err(), err)
			case <-t.C:
			}
		}
		err = db.tx(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
	}
	return errs.Wrap(errs.Unavailable, err, "metadata transaction kept conflicting; retry")
}

func (db *DB) tx(ctx context.Context, fn func(q *Q) error) (err error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	done := false
	var changed changes
	defer func() {
		if !done {
			tx.Rollback()
		}
		db.moveGenerations(changed) // after commit (or rollback): generations.go
	}()
	if err := fn(&Q{db: db, r: tx, w: tx, tx: true, changed: &changed}); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// retryable reports whether err means the transaction lost a race and
// running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// isFKViolation reports whether err is a foreign key violation, which the
// store turns into NotFound (the parent row is missing).
func isFKViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}
