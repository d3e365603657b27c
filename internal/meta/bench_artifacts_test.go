package meta

// Large repositories stay fast: page 1 of the artifact listing reads one
// page of rows through an index, whatever the repository's size. The
// benchmark times ListArtifacts (the queries behind GET
// /api/v2.0/projects/{p}/repositories/{r}/artifacts) over 100,000
// artifacts; TestListArtifactsPlanIsIndexed checks SQLite's plan of those
// very queries, captured as ListArtifacts sends them, on a small fixture
// (the plan does not depend on the row count).

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// recordedQuery is one statement a Q sent, with its arguments.
type recordedQuery struct {
	sql  string
	args []any
}

// recorder is a queryer that remembers the statements it passes on.
type recorder struct {
	queryer
	mu  sync.Mutex
	got []recordedQuery
}

func (r *recorder) note(query string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, recordedQuery{query, append([]any(nil), args...)})
}

func (r *recorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.note(query, args)
	return r.queryer.QueryContext(ctx, query, args...)
}

func (r *recorder) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	r.note(query, args)
	return r.queryer.QueryRowContext(ctx, query, args...)
}

// fillArtifacts inserts n image manifests into a new repository name with
// multi-row INSERTs in one transaction, pushed one second apart, and
// returns the repository's id.
func fillArtifacts(tb testing.TB, db *DB, name string, n int) int64 {
	tb.Helper()
	ctx := context.Background()
	repo, err := db.Q().EnsureRepo(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	const perStmt = 100 // 9 parameters a row
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	err = db.Tx(ctx, func(q *Q) error {
		for start := 0; start < n; start += perStmt {
			end := min(start+perStmt, n)
			var b strings.Builder
			b.WriteString(`INSERT INTO manifests (repo_id, digest, media_type, artifact_type, subject, size, annotations, created_at, content) VALUES `)
			args := make([]any, 0, 9*(end-start))
			for i := start; i < end; i++ {
				if i > start {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
				content := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":"sha256:%064x","size":2},"layers":[]}`,
					oci.MediaTypeImageManifest, oci.MediaTypeImageConfig, i))
				args = append(args, repo.ID, oci.FromBytes(content), oci.MediaTypeImageManifest, oci.MediaTypeImageConfig, "",
					int64(len(content)), nil, q.ts(base.Add(time.Duration(i)*time.Second)), content)
			}
			if _, err := q.exec(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("fill %s with %d artifacts: %v", name, n, err)
	}
	return repo.ID
}

// listPlans runs page 1 of the listing through a recording Q and returns
// the page, and SQLite's plan of each statement it sent.
func listPlans(t *testing.T, db *DB, repoID int64) ([]Artifact, int, []recordedQuery, []string) {
	t.Helper()
	ctx := context.Background()
	rec := &recorder{queryer: db.r}
	q := &Q{db: db, r: rec, w: db.w}
	page, total, err := q.ListArtifacts(ctx, repoID, ListOptions{Page: 1, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	plans := make([]string, len(rec.got))
	for i, rq := range rec.got {
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+rq.sql, rq.args...)
		if err != nil {
			t.Fatalf("explain %s: %v", rq.sql, err)
		}
		var lines []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		plans[i] = strings.Join(lines, "\n")
	}
	return page, total, rec.got, plans
}

func TestListArtifactsPlanIsIndexed(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "meta.db"))
	if db.Dialect() != SQLite {
		t.Skip("EXPLAIN QUERY PLAN is SQLite's")
	}
	fillArtifacts(t, db, "bench/other", 50) // rows of another repository the plan must skip
	repoID := fillArtifacts(t, db, "bench/big", 100)
	page, total, queries, plans := listPlans(t, db, repoID)
	if total != 100 || len(page) != 10 {
		t.Fatalf("page 1: %d artifacts of %d, want 10 of 100", len(page), total)
	}
	if page[0].CreatedAt.Before(page[9].CreatedAt) {
		t.Errorf("page 1 is not newest first: %v … %v", page[0].CreatedAt, page[9].CreatedAt)
	}
	if len(queries) != 2 {
		t.Fatalf("ListArtifacts sent %d statements, want the count and the page: %v", len(queries), queries)
	}
	for i, rq := range queries {
		plan := plans[i]
		t.Logf("statement %d: %s\nplan:\n%s", i+1, strings.Join(strings.Fields(rq.sql), " "), plan)
		for _, line := range strings.Split(plan, "\n") {
			fields := strings.Fields(line)
			// "SCAN m" without an index reads the whole table; a SCAN of
			// another alias (the NOT EXISTS subqueries) is one too.
			// "SCAN CONSTANT ROW" is a SELECT without FROM (the count's
			// arithmetic over its scalar subqueries): no table is read.
			if len(fields) >= 2 && fields[0] == "SCAN" && !strings.Contains(line, " USING ") && line != "SCAN CONSTANT ROW" {
				t.Errorf("statement %d scans a table without an index: %q\nfull plan:\n%s", i+1, line, plan)
			}
			if strings.Contains(line, "TEMP B-TREE") {
				t.Errorf("statement %d sorts in a temporary B-tree: %q\nfull plan:\n%s", i+1, line, plan)
			}
		}
		if !strings.Contains(plan, "USING INDEX") && !strings.Contains(plan, "USING COVERING INDEX") {
			t.Errorf("statement %d does not reach manifests through an index:\n%s", i+1, plan)
		}
	}
	// The page query reads manifests through (repo_id, created_at, id),
	// which gives the default order (newest push first) for free.
	if !strings.Contains(plans[1], "manifests_repo_created") {
		t.Errorf("page query does not use manifests_repo_created:\n%s", plans[1])
	}
}

// BenchmarkListArtifacts100k times page 1 of a repository with 100,000
// artifacts: ListArtifacts as the API calls it, then each of the two
// statements it sends on its own (the count behind X-Total-Count, and the
// page).
func BenchmarkListArtifacts100k(b *testing.B) {
	const n = 100_000
	db := openDB(b, filepath.Join(b.TempDir(), "meta.db"))
	start := time.Now()
	repoID := fillArtifacts(b, db, "bench/big", n)
	b.Logf("fixture: %d artifacts in %v", n, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	rec := &recorder{queryer: db.r}
	list := func(b *testing.B, q *Q) {
		page, total, err := q.ListArtifacts(ctx, repoID, ListOptions{Page: 1, PageSize: 10})
		if err != nil {
			b.Fatal(err)
		}
		if total != n || len(page) != 10 {
			b.Fatalf("page 1: %d artifacts of %d", len(page), total)
		}
	}
	list(b, &Q{db: db, r: rec, w: db.w})
	if len(rec.got) != 2 {
		b.Fatalf("ListArtifacts sent %d statements, want 2", len(rec.got))
	}
	b.Run("ListArtifacts", func(b *testing.B) {
		q := db.Q()
		for b.Loop() {
			list(b, q)
		}
	})
	for i, what := range []string{"count", "page"} {
		rq := rec.got[i]
		b.Run(what, func(b *testing.B) {
			for b.Loop() {
				rows, err := db.r.QueryContext(ctx, rq.sql, rq.args...)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
				rows.Close()
			}
		})
	}
}
