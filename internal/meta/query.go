package meta

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Q runs the store's queries, either inside a transaction (from DB.Tx) or
// statement by statement (from DB.Q). Each query is written once with '?'
// placeholders and rebound for PostgreSQL.
type Q struct {
	db   *DB
	r, w queryer // reads may go to a separate pool outside transactions
	tx   bool
	// changed collects what a transaction changed; the generations move
	// when it ends (generations.go).
	changed *changes
}

func (q *Q) pg() bool { return q.db.dialect == Postgres }

// rebind turns '?' placeholders into PostgreSQL's $1, $2, … . Queries in
// this package never contain '?' inside string literals, but quoted text
// is skipped anyway so that a future one cannot be corrupted silently.
func (q *Q) rebind(query string) string {
	if !q.pg() {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// exec runs a write statement.
func (q *Q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.writeStmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.w.ExecContext(ctx, q.rebind(query), args...)
}

// execN runs a write statement and returns the number of rows it changed.
func (q *Q) execN(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// query runs a read statement.
func (q *Q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if st := q.txStmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.r.QueryContext(ctx, q.rebind(query), args...)
}

// queryRow runs a read statement that returns at most one row.
func (q *Q) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if st := q.txStmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.r.QueryRowContext(ctx, q.rebind(query), args...)
}

// prepared returns the cached statement of a read outside a transaction
// (stmtcache.go), or nil.
func (q *Q) prepared(ctx context.Context, query string) *sql.Stmt {
	if q.tx || q.r != q.db.r {
		return nil
	}
	return q.db.reads.get(ctx, query)
}

// txStmt returns the cached statement of a read inside a SQLite
// transaction (writestmts.go), or nil.
func (q *Q) txStmt(ctx context.Context, query string) *sql.Stmt {
	if !q.tx || q.r != q.w {
		return nil
	}
	return q.writeStmt(ctx, query)
}

// atomic runs fn in the current transaction, or in a new one when q is
// not transactional, for methods made of several statements.
func (q *Q) atomic(ctx context.Context, fn func(q *Q) error) error {
	if q.tx {
		return fn(q)
	}
	return q.db.Tx(ctx, fn)
}

// Times are stored with microsecond precision on both dialects, so a value
// reads back the same everywhere: timestamptz on PostgreSQL, INTEGER unix
// nanoseconds on SQLite.

// now returns the current time as the store keeps it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// normTime returns t as the store keeps it.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ts converts t into a query argument for a time column.
func (q *Q) ts(t time.Time) any {
	t = normTime(t)
	if q.pg() {
		return t
	}
	return t.UnixNano()
}

// timeCol scans a time column of either dialect.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*c.t = time.Unix(0, v).UTC()
	case time.Time:
		*c.t = v.UTC()
	case nil:
		*c.t = time.Time{}
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// limit returns a LIMIT clause for n, or nothing when n <= 0.
func limit(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(n)
}

// chunkSize bounds the number of values in one IN list or multi-row
// INSERT, well below SQLite's and PostgreSQL's parameter limits.
const chunkSize = 500

// chunks calls fn with consecutive slices of at most size elements.
func chunks[T any](s []T, size int, fn func([]T) error) error {
	for len(s) > 0 {
		n := min(size, len(s))
		if err := fn(s[:n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

// uniq returns s without duplicates, keeping the first occurrence.
func uniq[T comparable](s []T) []T {
	seen := make(map[T]bool, len(s))
	out := make([]T, 0, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// scanStrings reads a single-column result of strings.
func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
