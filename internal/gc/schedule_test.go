package gc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
)

func TestCron(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct{ expr, after, want string }{
		{"* * * * *", "2026-03-01T10:00:30Z", "2026-03-01T10:01:00Z"},
		{"0 * * * *", "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"},
		{"0 0 * * * *", "2026-03-01T10:59:59Z", "2026-03-01T11:00:00Z"},    // Harbor's Hourly
		{"0 0 0 * * *", "2026-03-01T10:00:00Z", "2026-03-02T00:00:00Z"},    // Harbor's Daily
		{"0 0 0 * * 0", "2026-03-02T10:00:00Z", "2026-03-08T00:00:00Z"},    // Harbor's Weekly: Sunday
		{"*/15 * * * * *", "2026-03-01T10:00:14Z", "2026-03-01T10:00:15Z"}, // seconds
		{"30 2 * * mon-fri", "2026-03-06T03:00:00Z", "2026-03-09T02:30:00Z"},
		{"0 0 1,15 * *", "2026-03-02T00:00:00Z", "2026-03-15T00:00:00Z"},
		{"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"0 12 13 * 5", "2026-03-01T00:00:00Z", "2026-03-06T12:00:00Z"}, // day 13 OR a Friday
		{"0 0 * * 7", "2026-03-02T00:00:00Z", "2026-03-08T00:00:00Z"},   // 7 is Sunday
		{"0 0 1 JAN *", "2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"@daily", "2026-03-01T10:00:00Z", "2026-03-02T00:00:00Z"},
		{"@hourly", "2026-03-01T10:20:00Z", "2026-03-01T11:00:00Z"},
		{"5-10/5 3 * * *", "2026-03-01T03:05:00Z", "2026-03-01T03:10:00Z"},
	} {
		cr, err := gc.ParseCron(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if got := cr.Next(at(c.after)); !got.Equal(at(c.want)) {
			t.Errorf("%q after %s: got %s, want %s", c.expr, c.after, got.Format(time.RFC3339), c.want)
		}
	}
	if cr, err := gc.ParseCron("0 0 30 2 *"); err != nil || !cr.Next(at("2026-01-01T00:00:00Z")).IsZero() {
		t.Errorf("February 30th: %v", err)
	}
	for _, bad := range []string{"", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
		"* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *", "1,,2 * * * *", "@often"} {
		if _, err := gc.ParseCron(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%q: got %v, want Invalid", bad, err)
		}
	}
}

// TestSchedule: a schedule fires once per slot across nodes, with its
// parameters, and never for slots before it was set.
func TestSchedule(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		if _, ok, err := e.gc.GetSchedule(e.ctx); ok || err != nil {
			t.Fatalf("a new store has a schedule: %v %v", ok, err)
		}
		for _, bad := range []gc.Schedule{{Type: "Monthly"}, {Type: gc.ScheduleCustom}, {Type: gc.ScheduleCustom, Cron: "61 * * * *"},
			{Type: gc.ScheduleManual}, {Type: gc.ScheduleDaily, Params: gc.Params{Workers: 20}}} {
			if _, err := e.gc.SetSchedule(e.ctx, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("%+v: %v, want Invalid", bad, err)
			}
		}
		s, err := e.gc.SetSchedule(e.ctx, gc.Schedule{Type: gc.ScheduleDaily})
		if err != nil || s.Cron != "0 0 0 * * *" {
			t.Fatalf("daily preset: %+v %v", s, err)
		}
		p := gc.Params{DeleteUntagged: true, Workers: 2}
		if _, err := e.gc.SetSchedule(e.ctx, gc.Schedule{Type: gc.ScheduleCustom, Cron: "*/10 * * * *", Params: p}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := e.gc.GetSchedule(e.ctx)
		if err != nil || !ok || got.Cron != "*/10 * * * *" || got.Params.DeleteUntagged != true || got.Params.Workers != 2 {
			t.Fatalf("read back %+v %v %v", got, ok, err)
		}
		if !got.CreatedAt.Equal(s.CreatedAt) {
			t.Errorf("replacing the schedule changed its creation time")
		}

		nodes := []*gc.Collector{e.gc, e.collector(), e.collector()}
		tickAll := func() []int64 {
			var mu sync.Mutex
			var ids []int64
			var wg sync.WaitGroup
			for _, n := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, err := gc.Tick(n, e.ctx)
					if err != nil {
						t.Error(err)
					}
					if id != 0 {
						mu.Lock()
						ids = append(ids, id)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			return ids
		}
		if ids := tickAll(); len(ids) != 0 {
			t.Fatalf("fired right after being set: %v", ids)
		}
		e.clock.advance(10*time.Minute + time.Second)
		ids := tickAll()
		if len(ids) != 1 {
			t.Fatalf("a due slot started %d runs, want 1", len(ids))
		}
		r, err := e.gc.Wait(e.ctx, ids[0])
		if err != nil || r.Kind != gc.KindSchedule || !r.DeleteUntagged || r.Workers != 2 || r.Status != meta.GCSuccess {
			t.Fatalf("scheduled run: %+v %v", r, err)
		}
		if ids := tickAll(); len(ids) != 0 {
			t.Fatalf("the same slot fired again: %v", ids)
		}
		// Three slots missed while every node was down: one run.
		e.clock.advance(35 * time.Minute)
		if ids := tickAll(); len(ids) != 1 {
			t.Fatalf("missed slots started %d runs, want 1", len(ids))
		} else if _, err := e.gc.Wait(e.ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		next := gc.NextRun(got, e.clock.now())
		if next.IsZero() || next.Minute()%10 != 0 || next.Second() != 0 {
			t.Fatalf("next run at %v", next)
		}

		if _, err := e.gc.SetSchedule(e.ctx, gc.Schedule{Type: gc.ScheduleNone}); err != nil {
			t.Fatal(err)
		}
		e.clock.advance(time.Hour)
		if ids := tickAll(); len(ids) != 0 {
			t.Fatalf("a removed schedule fired: %v", ids)
		}
		if _, ok, _ := e.gc.GetSchedule(e.ctx); ok {
			t.Fatal("the schedule is still there")
		}
	})
}

// TestSchedulerLoop: RunScheduler starts a due run by itself and ends
// with its context.
func TestSchedulerLoop(t *testing.T) {
	e := newEnv(t, t.TempDir()+"/berth.db")
	if _, err := e.gc.SetSchedule(e.ctx, gc.Schedule{Type: gc.ScheduleCustom, Cron: "* * * * * *"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.gc.RunScheduler(ctx, 50*time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for e.count(`SELECT count(*) FROM gc_runs WHERE kind = 'SCHEDULE'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no scheduled run started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
