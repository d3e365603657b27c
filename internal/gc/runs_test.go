package gc_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// garbage stores n unreferenced blobs (rows and bytes), old enough for a
// zero time window.
func (e *env) garbage(n int) int64 {
	e.t.Helper()
	var total int64
	for i := range n {
		b := data(fmt.Sprintf("garbage %d", i), 100+i%50)
		d := oci.FromBytes(b)
		if err := e.store.Put(e.ctx, d, b); err != nil {
			e.t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		if _, err := e.db.Q().InsertBlob(e.ctx, meta.Blob{Digest: d, Size: int64(len(b)), LastSeen: old, CreatedAt: old}); err != nil {
			e.t.Fatal(err)
		}
		total += int64(len(b))
	}
	return total
}

// TestStop stops a run half-way, from this node and from another one:
// it ends as stopped, nothing is left deleting, every row still has its
// bytes, and the next run finishes the job.
func TestStop(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.garbage(400)
		other := e.collector()
		for _, stopper := range []*gc.Collector{e.gc, other} {
			run, err := e.gc.Start(e.ctx, gc.KindManual, gc.Params{})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for { // wait until it has deleted something
				r, err := e.gc.Get(e.ctx, run.ID)
				if err != nil {
					t.Fatal(err)
				}
				if r.BlobsDeleted > 0 || r.Status != meta.GCRunning || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := stopper.Stop(e.ctx, run.ID); err != nil {
				t.Fatal(err)
			}
			r, err := e.gc.Wait(e.ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != meta.GCStopped && r.Status != meta.GCSuccess {
				t.Fatalf("stopped run ended %s:\n%s", r.Status, r.Log)
			}
			t.Logf("run %d ended %s after deleting %d blobs", r.ID, r.Status, r.BlobsDeleted)
			if r.Status == meta.GCStopped && !strings.Contains(r.Log, "stopped") {
				t.Errorf("log of a stopped run does not say so:\n%s", r.Log)
			}
			if n := e.count(`SELECT count(*) FROM blobs WHERE state = 'deleting'`); n != 0 {
				t.Fatalf("a stop left %d blobs deleting", n)
			}
			e.checkInvariant1()
			if err := stopper.Stop(e.ctx, run.ID); err != nil {
				t.Fatalf("stopping an ended run: %v", err)
			}
			if r2, _ := e.gc.Get(e.ctx, run.ID); r2.Status != r.Status {
				t.Fatalf("stopping an ended run changed its status to %s", r2.Status)
			}
		}
		e.run(gc.Params{Workers: 4})
		if n := e.count(`SELECT count(*) FROM blobs`); n != 0 {
			t.Fatalf("%d blobs left after the final run", n)
		}
		if err := e.gc.Stop(e.ctx, 999999); !errs.Is(err, errs.NotFound) {
			t.Fatalf("stop of an unknown run: %v", err)
		}
	})
}

// TestOneAtATime: of several nodes starting a run at once exactly one
// does; the others get Conflict until it ends. A lease whose holder
// died expires, and its run is then marked as failed.
func TestOneAtATime(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.garbage(100)
		nodes := []*gc.Collector{e.gc, e.collector(), e.collector(), e.collector()}
		var wg sync.WaitGroup
		ids := make([]int64, len(nodes))
		errList := make([]error, len(nodes))
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := n.Start(e.ctx, gc.KindManual, gc.Params{})
				ids[i], errList[i] = r.ID, err
			}()
		}
		wg.Wait()
		started := 0
		for i, err := range errList {
			switch {
			case err == nil:
				started++
				if _, err := nodes[i].Wait(e.ctx, ids[i]); err != nil {
					t.Fatal(err)
				}
			case !errs.Is(err, errs.Conflict):
				t.Fatalf("node %d: %v, want Conflict", i, err)
			}
		}
		if started != 1 {
			t.Fatalf("%d runs started at once, want 1", started)
		}

		// A node died holding the lease in the middle of run 'dead'.
		q := e.db.Q()
		dead, err := q.CreateGCRun(e.ctx, meta.GCRun{Kind: gc.KindManual, Status: meta.GCRunning, Workers: 1, Node: "dead"})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if ok, err := q.AcquireGCLease(e.ctx, "dead", now, now.Add(300*time.Millisecond)); err != nil || !ok {
			t.Fatalf("take the lease: %v %v", ok, err)
		}
		if _, err := q.RenewGCLease(e.ctx, "dead", dead.ID, now.Add(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.gc.Start(e.ctx, gc.KindManual, gc.Params{}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("start while another node holds the lease: %v, want Conflict", err)
		}
		time.Sleep(350 * time.Millisecond)
		r, err := e.gc.Run(e.ctx, gc.KindManual, gc.Params{})
		if err != nil || r.Status != meta.GCSuccess {
			t.Fatalf("run after the lease expired: %v %s", err, r.Status)
		}
		d, err := q.GetGCRun(e.ctx, dead.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != meta.GCError || !strings.Contains(d.Log, "abandoned") {
			t.Fatalf("the dead node's run is %s with log %q; want error, abandoned", d.Status, d.Log)
		}
	})
}

// TestLeaseLost: a run whose lease another node took stops deleting and
// fails.
func TestLeaseLost(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir+"/berth.db", gc.WithLeaseTTL(200*time.Millisecond))
	e.garbage(300)
	run, err := e.gc.Start(e.ctx, gc.KindManual, gc.Params{})
	if err != nil {
		t.Fatal(err)
	}
	// Steal the lease as if it had expired.
	q := e.db.Q()
	if err := q.ReleaseGCLease(e.ctx, run.Node); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if ok, err := q.AcquireGCLease(e.ctx, "thief", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("steal: %v %v", ok, err)
	}
	r, err := e.gc.Wait(e.ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != meta.GCError && r.Status != meta.GCSuccess {
		t.Fatalf("run ended %s:\n%s", r.Status, r.Log)
	}
	t.Logf("run ended %s after deleting %d blobs", r.Status, r.BlobsDeleted)
	if r.Status == meta.GCError && !strings.Contains(r.Log, "lease") {
		t.Fatalf("failed run does not say why:\n%s", r.Log)
	}
	if l, _ := q.GetGCLease(e.ctx); l.Holder != "thief" {
		t.Fatalf("the run released a lease it did not hold: holder %q", l.Holder)
	}
	e.checkInvariant1()
}

// TestParams checks validation.
func TestParams(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir+"/berth.db")
	for _, p := range []gc.Params{{Workers: 11}, {Workers: -1}, {TimeWindow: -time.Second}} {
		if _, err := e.gc.Start(e.ctx, gc.KindManual, p); !errs.Is(err, errs.Invalid) {
			t.Errorf("%+v: %v, want Invalid", p, err)
		}
	}
	r := e.run(gc.Params{TimeWindow: 90 * time.Minute, Workers: 10, DeleteUntagged: true, DryRun: true})
	if r.TimeWindow != 90*time.Minute || r.Workers != 10 || !r.DeleteUntagged || !r.DryRun || r.Kind != gc.KindManual {
		t.Fatalf("run recorded %+v", r)
	}
	list, total, err := e.gc.List(e.ctx, meta.ListOptions{})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("history: %v %d %v", list, total, err)
	}
}
