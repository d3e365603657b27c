package meta

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// writeStmts keeps the statements of SQLite's single writer connection
// prepared. A CPU profile of small-blob pushes showed an eighth of berth's
// time in SQLite's parser, re-preparing the same few INSERTs and SELECTs
// of every upload commit. A statement is used inside a transaction through
// Tx.StmtContext, which reuses what is prepared on the transaction's own
// connection. Preparing on the writer pool needs its only connection,
// which a running transaction holds, so a statement first seen inside one
// runs unprepared once while a goroutine prepares it for next time.
type writeStmts struct {
	db      *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool
	closed  bool
}

func newWriteStmts(db *sql.DB) *writeStmts {
	return &writeStmts{db: db, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the prepared statement of query, or nil (the caller runs
// the query directly). It never waits for the writer connection.
func (c *writeStmts) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if c.closed || c.pending[query] || len(c.m)+len(c.pending) >= stmtCacheMax || !cacheable(query) {
		return nil
	}
	c.pending[query] = true
	go c.prepare(query)
	return nil
}

func (c *writeStmts) prepare(query string) {
	st, err := c.db.PrepareContext(context.Background(), query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return // not cached; the query keeps running unprepared
	}
	if c.closed {
		st.Close()
		return
	}
	c.m[query] = st
}

func (c *writeStmts) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	return first
}

// writeStmt returns the cached statement of query for q's write side on
// SQLite, bound to q's transaction when there is one, or nil.
func (q *Q) writeStmt(ctx context.Context, query string) *sql.Stmt {
	if q.db.writes == nil {
		return nil
	}
	var tx *sql.Tx
	if q.tx {
		t, ok := q.w.(*sql.Tx)
		if !ok {
			return nil
		}
		tx = t
	} else if q.w != q.db.w {
		return nil
	}
	st := q.db.writes.get(query)
	if st == nil || tx == nil {
		return st
	}
	return tx.StmtContext(ctx, st)
}

// cacheable: one plain statement (a prepared statement runs only the first
// of several).
func cacheable(query string) bool {
	if strings.Contains(query, ";") {
		return false
	}
	t := strings.ToUpper(strings.TrimSpace(query))
	for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}
