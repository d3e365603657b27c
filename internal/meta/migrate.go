package meta

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrations live in migrations/<dialect>/NNNN_name.sql, one change per
// file, applied in version order and recorded in schema_migrations. A
// file, once released, is never edited: add a new one.
//
//go:embed migrations
var migrationFS embed.FS

// migrateLockKey is the PostgreSQL advisory lock that serialises
// migrations when several nodes start at once ("berthmig" in ASCII).
const migrateLockKey int64 = 0x62657274_686d6967

type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", dialect, name)
		}
		b, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.version - b.version) })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// migrate applies pending migrations in one transaction. On PostgreSQL a
// transaction-scoped advisory lock makes concurrent starters wait for the
// first one and then find nothing left to do; on SQLite the write lock
// taken by BEGIN IMMEDIATE does the same. Versions in the database that
// this binary does not know (a newer node migrated first) are left alone,
// so migrations must stay compatible with the previous release.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations(db.dialect)
	if err != nil {
		return err
	}
	return db.Tx(ctx, func(q *Q) error {
		if q.pg() {
			if _, err := q.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, migrateLockKey); err != nil {
				return fmt.Errorf("lock migrations: %w", err)
			}
		}
		if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := q.query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied := map[int64]bool{}
		for rows.Next() {
			var v int64
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			applied[v] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			// Not rebound: migration files use no placeholders, and
			// their comments may contain quotes.
			if _, err := q.w.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %s/%s: %w", db.dialect, m.name, err)
			}
			if fix := dataMigrations[m.version]; fix != nil {
				if err := fix(ctx, q); err != nil {
					return fmt.Errorf("apply migration %s/%s: %w", db.dialect, m.name, err)
				}
			}
			if _, err := q.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, now().UnixNano()); err != nil {
				return fmt.Errorf("record migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}
