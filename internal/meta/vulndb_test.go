package meta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/errs"
)

func TestVulnDBGenerations(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		if _, err := q.CurrentVulnGeneration(ctx); !errs.Is(err, errs.NotFound) {
			t.Fatalf("CurrentVulnGeneration on empty store: %v, want NotFound", err)
		}
		load := func(source string, ids ...string) int64 {
			t.Helper()
			gen, err := q.BeginVulnGeneration(ctx, source)
			if err != nil {
				t.Fatal(err)
			}
			var recs []VulnRecord
			var aff []VulnAffected
			for _, id := range ids {
				recs = append(recs, VulnRecord{ID: id, Data: []byte("data-" + id)})
				aff = append(aff, VulnAffected{Ecosystem: "Debian:12", Name: "openssl", RecordID: id},
					VulnAffected{Ecosystem: "Debian:12", Name: "openssl", RecordID: id})
			}
			if err := q.PutVulnRecords(ctx, gen, recs, aff); err != nil {
				t.Fatal(err)
			}
			return gen
		}
		names := func(gen int64) []string {
			t.Helper()
			ms, err := q.VulnRecordsFor(ctx, gen, "Debian:12", false, []string{"openssl", "zlib"})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range ms {
				out = append(out, m.Name+"/"+m.ID+"/"+string(m.Data))
			}
			return out
		}

		g1 := load("one.zip", "A", "B")
		if _, err := q.CurrentVulnGeneration(ctx); !errs.Is(err, errs.NotFound) {
			t.Fatalf("a loading generation is visible: %v", err)
		}
		if err := q.CommitVulnGeneration(ctx, VulnGeneration{ID: g1, Checksum: "sha256:1", Records: 2, Ecosystems: `{"Debian":2}`}); err != nil {
			t.Fatal(err)
		}
		cur, err := q.CurrentVulnGeneration(ctx)
		if err != nil || cur.ID != g1 || cur.Source != "one.zip" || cur.Records != 2 || cur.ImportedAt.IsZero() {
			t.Fatalf("current = %+v, %v", cur, err)
		}
		if diff := cmp.Diff([]string{"openssl/A/data-A", "openssl/B/data-B"}, names(g1)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}

		// An import that fails half-way changes nothing that readers see.
		g2 := load("two.zip", "C")
		if cur, _ := q.CurrentVulnGeneration(ctx); cur.ID != g1 {
			t.Fatalf("current during a second import = %d, want %d", cur.ID, g1)
		}
		if err := q.DeleteVulnGeneration(ctx, g2); err != nil {
			t.Fatal(err)
		}
		if err := q.CommitVulnGeneration(ctx, VulnGeneration{ID: g2}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("commit of a deleted import: %v, want Conflict", err)
		}
		if err := q.DeleteVulnGeneration(ctx, g1); !errs.Is(err, errs.Conflict) {
			t.Fatalf("delete of the current generation: %v, want Conflict", err)
		}

		// Two more imports: the first replaced is kept one round, then dropped.
		g3 := load("three.zip", "D")
		if err := q.CommitVulnGeneration(ctx, VulnGeneration{ID: g3}); err != nil {
			t.Fatal(err)
		}
		if got := names(g1); len(got) != 2 {
			t.Errorf("retired generation's rows = %v, want kept until the next import", got)
		}
		g4 := load("four.zip", "E")
		if err := q.CommitVulnGeneration(ctx, VulnGeneration{ID: g4}); err != nil {
			t.Fatal(err)
		}
		if got := names(g1); len(got) != 0 {
			t.Errorf("generation two imports old still has rows %v", got)
		}
		gens, err := q.VulnGenerations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var states []string
		for _, g := range gens {
			states = append(states, g.Source+":"+g.State)
		}
		if diff := cmp.Diff([]string{"four.zip:current", "three.zip:retired"}, states); diff != "" {
			t.Errorf("generations (-want +got):\n%s", diff)
		}
	})
}

func TestVulnDBLease(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		t0 := now()
		if ok, err := q.AcquireVulnDBLease(ctx, "a", t0, t0.Add(8*time.Minute)); err != nil || !ok {
			t.Fatalf("a acquires a free lease: %v %v", ok, err)
		}
		if ok, err := q.AcquireVulnDBLease(ctx, "b", t0, t0.Add(8*time.Minute)); err != nil || ok {
			t.Fatalf("b acquires a held lease: %v %v", ok, err)
		}
		if ok, err := q.AcquireVulnDBLease(ctx, "b", t0.Add(2*8*time.Minute), t0.Add(3*8*time.Minute)); err != nil || !ok {
			t.Fatalf("b acquires an expired lease: %v %v", ok, err)
		}
		if err := q.ReleaseVulnDBLease(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if ok, err := q.AcquireVulnDBLease(ctx, "a", t0, t0.Add(8*time.Minute)); err != nil || !ok {
			t.Fatalf("a acquires a released lease: %v %v", ok, err)
		}
	})
}

// TestVulnDBDeleteLarge deletes a generation larger than one delete
// batch, and refuses to make a generation current once deletion began.
func TestVulnDBDeleteLarge(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		gen, err := q.BeginVulnGeneration(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		n := deleteBatch + deleteBatch/2
		for start := 0; start < n; start += 500 {
			var recs []VulnRecord
			var aff []VulnAffected
			for i := start; i < start+500 && i < n; i++ {
				id := fmt.Sprintf("R-%05d", i)
				recs = append(recs, VulnRecord{ID: id, Data: []byte{1}})
				aff = append(aff, VulnAffected{Ecosystem: "Go", Name: "m", RecordID: id})
			}
			if err := q.PutVulnRecords(ctx, gen, recs, aff); err != nil {
				t.Fatal(err)
			}
		}
		if ms, err := q.VulnRecordsFor(ctx, gen, "Go", false, []string{"m"}); err != nil || len(ms) != n {
			t.Fatalf("records before delete: %d, %v", len(ms), err)
		}
		if err := q.DeleteVulnGeneration(ctx, gen); err != nil {
			t.Fatal(err)
		}
		if ms, err := q.VulnRecordsFor(ctx, gen, "Go", false, []string{"m"}); err != nil || len(ms) != 0 {
			t.Fatalf("records after delete: %d, %v", len(ms), err)
		}
		var left int
		if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM vulndb_records`).Scan(&left); err != nil || left != 0 {
			t.Fatalf("vulndb_records rows left: %d, %v", left, err)
		}
		if err := q.CommitVulnGeneration(ctx, VulnGeneration{ID: gen}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("commit of a deleted generation: %v, want Conflict", err)
		}
	})
}
