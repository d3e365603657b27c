package pulls

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is a store of either dialect holding one repository with one
// manifest tagged "t".
type fixture struct {
	db   *meta.DB
	repo meta.Repo
	d    oci.Digest
}

func forEachDialect(t *testing.T, fn func(t *testing.T, f fixture)) {
	for _, dc := range []struct {
		name string
		dsn  func(testing.TB) string
	}{
		{meta.SQLite, func(t testing.TB) string { return filepath.Join(t.TempDir(), "meta.db") }},
		{meta.Postgres, pgtest.DSN},
	} {
		t.Run(dc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := meta.Open(ctx, dc.dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			q := db.Q()
			repo, err := q.EnsureRepo(ctx, "p/app")
			if err != nil {
				t.Fatal(err)
			}
			d := oci.FromBytes([]byte("m"))
			if _, err := q.PutManifest(ctx, meta.Manifest{RepoID: repo.ID, Digest: d, MediaType: oci.MediaTypeImageManifest,
				Size: 1, Content: []byte("m")}, nil, nil); err != nil {
				t.Fatal(err)
			}
			if err := q.PutTag(ctx, repo.ID, "t", d); err != nil {
				t.Fatal(err)
			}
			fn(t, fixture{db: db, repo: repo, d: d})
		})
	}
}

// state is what the API shows of the fixture's pulls.
type state struct {
	count         int64
	artifact, tag time.Time
	audits        int
}

func (f fixture) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	q := f.db.Q()
	info, err := q.GetRepoInfo(ctx, "p/app")
	if err != nil {
		t.Fatal(err)
	}
	a, err := q.GetArtifact(ctx, f.repo.ID, f.d)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := q.GetTagInfo(ctx, f.repo.ID, "t")
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := q.ListAudit(ctx, meta.ListOptions{Page: 1, PageSize: 10}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return state{count: info.PullCount, artifact: a.PulledAt, tag: tag.PulledAt, audits: n}
}

func at(sec int) time.Time { return time.Date(2026, 5, 1, 12, 0, sec, 0, time.UTC) }

func pullAudit(sec int) meta.AuditLog {
	return meta.AuditLog{Username: "admin", Resource: "p/app:t", ResourceType: "artifact", Operation: "pull", OpTime: at(sec)}
}

// TestFlushCoalesces checks that pulls wait in memory and then land in
// one write: exact counts, the newest pull time whatever the order, and
// every audit entry.
func TestFlushCoalesces(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f fixture) {
		b := New(f.db, WithInterval(time.Hour))
		b.Pull(f.repo.ID, f.d, "t", at(3))
		b.Pull(f.repo.ID, f.d, "t", at(9))
		b.Pull(f.repo.ID, f.d, "", at(12)) // by digest: the tag's time stays
		b.Pull(f.repo.ID, f.d, "t", at(5))
		for _, s := range []int{3, 9, 12, 5} {
			b.Audit(pullAudit(s))
		}
		if got := f.state(t); got != (state{}) {
			t.Fatalf("before the flush: %+v, want nothing written", got)
		}
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := state{count: 4, artifact: at(12), tag: at(9), audits: 4}
		if got := f.state(t); got != want {
			t.Fatalf("after the flush: %+v, want %+v", got, want)
		}
		// An older batch (another node's) does not move times back.
		b.Pull(f.repo.ID, f.d, "t", at(1))
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		want.count = 5
		if got := f.state(t); got != want {
			t.Fatalf("after an older pull: %+v, want %+v", got, want)
		}
		if b.Flushes() != 2 || b.Dropped() != 0 {
			t.Fatalf("flushes %d, dropped %d", b.Flushes(), b.Dropped())
		}
	})
}

// TestFullBufferDrops checks that a full buffer drops new entries (and
// counts them) but still counts pulls of artifacts already pending.
func TestFullBufferDrops(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f fixture) {
		b := New(f.db, WithInterval(time.Hour), WithLimits(100, 3))
		b.Pull(f.repo.ID, f.d, "t", at(1)) // two entries: artifact and tag time
		b.Audit(pullAudit(1))              // three: full
		b.Audit(pullAudit(2))              // dropped
		b.Pull(f.repo.ID, f.d, "t", at(2)) // pending already: counted
		if b.Dropped() != 1 {
			t.Fatalf("dropped %d, want 1", b.Dropped())
		}
		if err := b.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := state{count: 2, artifact: at(2), tag: at(2), audits: 1}
		if got := f.state(t); got != want {
			t.Fatalf("after the flush: %+v, want %+v", got, want)
		}
	})
}

// TestWriterAndClose checks the background writer: a full batch is
// written without waiting for the interval, and Close writes the rest.
func TestWriterAndClose(t *testing.T) {
	forEachDialect(t, func(t *testing.T, f fixture) {
		b := New(f.db, WithInterval(time.Hour), WithLimits(2, 100))
		b.Start()
		b.Pull(f.repo.ID, f.d, "t", at(1)) // two entries: an early write
		deadline := time.Now().Add(30 * time.Second)
		for b.Flushes() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("a full batch was not written within 30s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.Audit(pullAudit(1))
		if err := b.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := state{count: 1, artifact: at(1), tag: at(1), audits: 1}
		if got := f.state(t); got != want {
			t.Fatalf("after Close: %+v, want %+v", got, want)
		}
	})
}
