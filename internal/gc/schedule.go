package gc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Schedule types, as Harbor names them (ScheduleObj.type). Manual is not
// a schedule: it asks for a run now.
const (
	ScheduleNone   = "None"
	ScheduleHourly = "Hourly"
	ScheduleDaily  = "Daily"
	ScheduleWeekly = "Weekly"
	ScheduleCustom = "Custom"
	// ScheduleSchedule is Harbor's other name for a custom cron.
	ScheduleSchedule = "Schedule"
	ScheduleManual   = "Manual"
)

// The crons Harbor's UI sends for its presets (six fields, seconds
// first), used when a preset comes without one.
var presetCron = map[string]string{
	ScheduleHourly: "0 0 * * * *",
	ScheduleDaily:  "0 0 0 * * *",
	ScheduleWeekly: "0 0 0 * * 0",
}

// Settings keys. The schedule is shared by every node; the last slot
// fired is claimed with a compare-and-swap so that one node runs it.
const (
	settingSchedule = "gc.schedule"
	settingFired    = "gc.schedule.fired"
)

// Schedule is when GC runs by itself, and with which parameters.
type Schedule struct {
	Type      string // ScheduleHourly, ScheduleDaily, ScheduleWeekly or ScheduleCustom; ScheduleNone when unset
	Cron      string
	Params    Params
	CreatedAt time.Time
	UpdatedAt time.Time
}

type storedSchedule struct {
	Type           string    `json:"type"`
	Cron           string    `json:"cron"`
	DryRun         bool      `json:"dry_run"`
	DeleteUntagged bool      `json:"delete_untagged"`
	TimeWindow     int64     `json:"time_window_seconds"`
	Workers        int       `json:"workers"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// GetSchedule returns the schedule; ok is false when there is none.
func (c *Collector) GetSchedule(ctx context.Context) (s Schedule, ok bool, err error) {
	raw, err := c.db.Q().GetSetting(ctx, settingSchedule)
	if errs.Is(err, errs.NotFound) {
		return Schedule{Type: ScheduleNone}, false, nil
	}
	if err != nil {
		return Schedule{}, false, err
	}
	var st storedSchedule
	if err := json.Unmarshal(raw, &st); err != nil {
		return Schedule{}, false, fmt.Errorf("read gc schedule: %w", err)
	}
	s = Schedule{Type: st.Type, Cron: st.Cron, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt,
		Params: Params{DryRun: st.DryRun, DeleteUntagged: st.DeleteUntagged,
			TimeWindow: time.Duration(st.TimeWindow) * time.Second, Workers: st.Workers}}
	return s, s.Type != ScheduleNone && s.Type != "", nil
}

// SetSchedule replaces the schedule; type None removes it. Presets
// without a cron get Harbor's; Custom needs one. It returns the schedule
// as stored. The next run is the first slot after now.
func (c *Collector) SetSchedule(ctx context.Context, s Schedule) (Schedule, error) {
	switch s.Type {
	case ScheduleNone:
		s.Cron = ""
	case ScheduleHourly, ScheduleDaily, ScheduleWeekly:
		if strings.TrimSpace(s.Cron) == "" {
			s.Cron = presetCron[s.Type]
		}
	case ScheduleCustom, ScheduleSchedule:
		s.Type = ScheduleCustom
		if strings.TrimSpace(s.Cron) == "" {
			return Schedule{}, errs.Invalidf("a %s schedule needs a cron expression", s.Type)
		}
	case ScheduleManual:
		return Schedule{}, errs.Invalidf("Manual is not a schedule: it starts a run (POST /system/gc/schedule)")
	default:
		return Schedule{}, errs.Invalidf("unknown schedule type %q: use None, Hourly, Daily, Weekly or Custom", s.Type)
	}
	if s.Type != ScheduleNone {
		cr, err := ParseCron(s.Cron)
		if err != nil {
			return Schedule{}, err
		}
		if cr.Next(c.now()).IsZero() {
			return Schedule{}, errs.Invalidf("cron %q never fires", s.Cron)
		}
		s.Cron = strings.TrimSpace(s.Cron)
	}
	p, err := s.Params.check()
	if err != nil {
		return Schedule{}, err
	}
	s.Params = p
	now := c.now().UTC().Truncate(time.Microsecond)
	old, had, err := c.GetSchedule(ctx)
	if err != nil {
		return Schedule{}, err
	}
	s.CreatedAt, s.UpdatedAt = now, now
	if had {
		s.CreatedAt = old.CreatedAt
	}
	raw, err := json.Marshal(storedSchedule{Type: s.Type, Cron: s.Cron, DryRun: p.DryRun, DeleteUntagged: p.DeleteUntagged,
		TimeWindow: int64(p.TimeWindow / time.Second), Workers: p.Workers, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt})
	if err != nil {
		return Schedule{}, err
	}
	q := c.db.Q()
	if err := q.PutSetting(ctx, settingSchedule, raw); err != nil {
		return Schedule{}, err
	}
	// Count slots from now: a new schedule does not fire for the past.
	if err := q.PutSetting(ctx, settingFired, firedValue(now, "set")); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// NextRun returns when schedule s fires next after t (zero if never).
func NextRun(s Schedule, t time.Time) time.Time {
	if s.Type == ScheduleNone || s.Type == "" {
		return time.Time{}
	}
	cr, err := ParseCron(s.Cron)
	if err != nil {
		return time.Time{}
	}
	return cr.Next(t)
}

// firedValue is the stored record of the last slot fired: the slot and
// who claimed it, so that two nodes claiming the same slot differ.
func firedValue(slot time.Time, who string) []byte {
	return []byte(slot.UTC().Format(time.RFC3339Nano) + " " + who)
}

func parseFired(b []byte) (time.Time, error) {
	s, _, _ := strings.Cut(string(b), " ")
	return time.Parse(time.RFC3339Nano, s)
}

// RunScheduler starts the scheduled runs that fall due, checking every
// interval, until ctx ends. Every node runs it; for each slot one node
// claims it and starts the run, which the lease keeps to one at a time
// (a slot that falls while a run is going on is skipped). Slots missed
// while no node was up are run once, not once each.
func (c *Collector) RunScheduler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := c.tick(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("gc schedule", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick starts the scheduled run if one is due and this node claims it,
// and returns its ID (0 when nothing started).
func (c *Collector) tick(ctx context.Context) (int64, error) {
	s, ok, err := c.GetSchedule(ctx)
	if err != nil || !ok {
		return 0, err
	}
	cr, err := ParseCron(s.Cron)
	if err != nil {
		return 0, err
	}
	q := c.db.Q()
	now := c.now()
	old, err := q.GetSetting(ctx, settingFired)
	if errs.Is(err, errs.NotFound) {
		_, err = q.PutSettingIfAbsent(ctx, settingFired, firedValue(now, "start"))
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	last, err := parseFired(old)
	if err != nil {
		_, err = q.SwapSetting(ctx, settingFired, old, firedValue(now, "reset"))
		return 0, err
	}
	slot := cr.Next(last)
	if slot.IsZero() || slot.After(now) {
		return 0, nil
	}
	// Missed slots coalesce into the latest one due.
	for range 100000 {
		n := cr.Next(slot)
		if n.IsZero() || n.After(now) {
			break
		}
		slot = n
	}
	mine := firedValue(slot, c.node+"/"+randomHex(4))
	got, err := q.SwapSetting(ctx, settingFired, old, mine)
	if err != nil || !bytes.Equal(got, mine) {
		return 0, err // another node claimed it
	}
	run, err := c.Start(ctx, KindSchedule, s.Params)
	if errs.Is(err, errs.Conflict) {
		c.log.Info("gc schedule: skipped the run due at " + slot.UTC().Format(time.RFC3339) + ": a run is in progress")
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	c.log.Info("gc schedule: started a run", "run", run.ID, "slot", slot.UTC().Format(time.RFC3339))
	return run.ID, nil
}
