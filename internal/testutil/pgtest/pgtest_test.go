package pgtest

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMain(m *testing.M) { Main(m) }

// TestDSN checks that each call gives a distinct, empty, writable database.
func TestDSN(t *testing.T) {
	ctx := context.Background()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two calls returned the same DSN %s", a)
	}
	names := map[string]bool{}
	for _, dsn := range []string{a, b} {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var name string
		var tables int
		if err := db.QueryRowContext(ctx, `SELECT current_database(),
			(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		// The private cluster sorts linguistically by default (ICU), so
		// that byte-order bugs show up; an external server may not.
		var a string
		if err := db.QueryRowContext(ctx, `SELECT min(x) FROM (VALUES ('a'), ('Z')) v(x)`).Scan(&a); err != nil {
			t.Fatal(err)
		}
		t.Logf("database %s: default collation puts %q first", name, a)
		if tables != 0 {
			t.Errorf("database %s has %d tables, want an empty one", name, tables)
		}
		names[name] = true
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
			t.Fatalf("write to %s: %v", name, err)
		}
	}
	if len(names) != 2 {
		t.Errorf("databases %v, want two distinct", names)
	}
}

// TestDropped checks that a test's database is gone after its cleanup.
func TestDropped(t *testing.T) {
	var dsn string
	t.Run("inner", func(t *testing.T) { dsn = DSN(t) })
	s, err := get()
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	var n int
	if err := s.admin.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(0, n); diff != "" {
		t.Errorf("database %s still exists after cleanup (-want +got):\n%s", name, diff)
	}
}
