package scanjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// Scan all: queue a scan of every image in every repository, now
// (Manual) or on a schedule shared by every node.

const (
	settingSchedule = "scan_all.schedule"
	settingFired    = "scan_all.schedule.fired"
)

// Schedule is when scan all runs by itself (Harbor's ScheduleObj).
type Schedule struct {
	Type      string    `json:"type"`
	Cron      string    `json:"cron"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Stats is Harbor's Stats of the latest scan-all run.
type Stats struct {
	Total     int            `json:"total"`
	Completed int            `json:"completed"`
	Metrics   map[string]int `json:"metrics"`
	Ongoing   bool           `json:"ongoing"`
	Trigger   string         `json:"trigger,omitempty"`
}

func (s *Service) requireScanAll(p access.Principal, action string) error {
	if s.acc.CanSystem(p, "scan-all", action) {
		return nil
	}
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required for scan all")
	}
	return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s scan all", p.Name(), action)
}

// ScanAllNow queues a scan of every image, as Harbor's manual trigger.
func (s *Service) ScanAllNow(ctx context.Context, p access.Principal) (meta.ScanAllRun, error) {
	if err := s.requireScanAll(p, access.ActCreate); err != nil {
		return meta.ScanAllRun{}, err
	}
	if st, err := s.ScanAllStats(ctx, p, ""); err == nil && st.Ongoing {
		return meta.ScanAllRun{}, errs.New(errs.Conflict, "CONFLICT", "a scan all is already running")
	}
	return s.scanAll(ctx, "Manual")
}

// scanAll records a scan-all run and leaves queueing its scans to the
// background walk (WalkScanAll), so that the request answers at once
// however many artifacts there are; the run's metrics show the progress.
func (s *Service) scanAll(ctx context.Context, trigger string) (meta.ScanAllRun, error) {
	run, err := s.db.Q().CreateScanAllRun(ctx, trigger)
	if err != nil {
		return run, err
	}
	select {
	case s.walk <- struct{}{}:
	default:
	}
	return run, nil
}

// runWalker walks scan-all runs until ctx ends: when woken (a run was
// recorded on this node) or every idle interval (on another node, or its
// walker died).
func (s *Service) runWalker(ctx context.Context, idle time.Duration) {
	t := time.NewTicker(idle)
	defer t.Stop()
	for {
		if _, err := s.WalkScanAll(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("scan all: walk", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.walk:
		case <-t.C:
		}
	}
}

// WalkScanAll queues the scans of every scan-all run that waits for it
// (one node walks a run; another takes over when its claim runs out) and
// returns how many runs it finished.
func (s *Service) WalkScanAll(ctx context.Context) (int, error) {
	holder := s.node + "/" + randomID()[:8]
	done := 0
	for range 1000 { // bounded: runs are recorded one request at a time
		run, ok, err := s.db.Q().ClaimScanAllWalk(ctx, holder, time.Now(), time.Now().Add(s.lease))
		if err != nil || !ok {
			return done, err
		}
		total, mine, err := s.walkRun(ctx, run, holder)
		if err != nil {
			return done, err
		}
		if !mine {
			continue
		}
		if ok, err := s.db.Q().FinishScanAllWalk(ctx, run.ID, holder, total); err != nil {
			return done, err
		} else if ok {
			done++
			s.log.Info("scan all: scans queued", "run", run.ID, "trigger", run.Trigger, "scans", total)
		}
	}
	return done, nil
}

// walkRun queues a scan of every image in every repository for run,
// keeping holder's claim alive; mine is false when the claim was lost.
func (s *Service) walkRun(ctx context.Context, run meta.ScanAllRun, holder string) (total int, mine bool, err error) {
	jt := TriggerScanAll
	if run.Trigger == "Schedule" {
		jt = TriggerSchedule
	}
	last := ""
	for range 1_000_000 { // bounded walk over the repositories
		names, err := s.db.Q().ListRepos(ctx, last, 100)
		if err != nil {
			return total, true, err
		}
		// The claim is renewed before each page of artifacts, so that a
		// large repository does not outlast it.
		keep := func() (bool, error) {
			return s.db.Q().ExtendScanAllWalk(ctx, run.ID, holder, time.Now().Add(s.lease))
		}
		for _, name := range names {
			n, err := s.scanRepo(ctx, run.ID, name, jt, keep)
			total += n
			if errors.Is(err, errWalkLost) {
				return total, false, nil
			}
			if err != nil {
				s.log.Warn("scan all: repository", "repository", name, "err", err)
			}
		}
		if ok, err := keep(); err != nil || !ok {
			return total, ok, err
		}
		if len(names) < 100 {
			break
		}
		last = names[len(names)-1]
	}
	return total, true, nil
}

// errWalkLost stops a walk whose claim another node took over.
var errWalkLost = errors.New("scan-all walk taken over by another node")

func (s *Service) scanRepo(ctx context.Context, runID int64, name, trigger string, keep func() (bool, error)) (int, error) {
	pr, err := s.project(ctx, name)
	if err != nil {
		return 0, err
	}
	total := 0
	for page := 1; page <= 100_000; page++ {
		if ok, err := keep(); err != nil {
			return total, err
		} else if !ok {
			return total, errWalkLost
		}
		arts, _, err := s.reg.ListArtifacts(ctx, name, meta.ListOptions{Page: page, PageSize: 100}, registry.ArtifactOptions{})
		if err != nil {
			return total, err
		}
		for _, a := range arts {
			m, err := s.reg.GetManifest(ctx, name, string(a.Digest))
			if err != nil {
				continue // deleted meanwhile
			}
			n, err := s.enqueue(ctx, pr, name, m, KindVulnerability, trigger, runID, false)
			total += n
			if err != nil {
				return total, err
			}
		}
		if len(arts) < 100 {
			break
		}
	}
	return total, nil
}

// ScanAllStats returns the metrics of the latest scan-all run (of the
// scheduled ones when trigger is "Schedule").
func (s *Service) ScanAllStats(ctx context.Context, p access.Principal, trigger string) (Stats, error) {
	if err := s.requireScanAll(p, access.ActRead); err != nil {
		return Stats{}, err
	}
	run, err := s.db.Q().LatestScanAllRun(ctx, trigger)
	if errs.Is(err, errs.NotFound) {
		return Stats{Metrics: map[string]int{}}, nil
	}
	if err != nil {
		return Stats{}, err
	}
	counts, err := s.db.Q().ScanJobCounts(ctx, run.ID)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Metrics: map[string]int{}, Trigger: run.Trigger}
	names := map[string]string{meta.ScanQueued: "Pending", meta.ScanRunning: "Running", meta.ScanSuccess: "Success",
		meta.ScanError: "Error", meta.ScanStopped: "Stopped"}
	for status, n := range counts {
		st.Metrics[names[status]] += n
		st.Total += n
		if status != meta.ScanQueued && status != meta.ScanRunning {
			st.Completed += n
		}
	}
	// Until its walk is over, a run is ongoing even when every scan queued
	// so far has ended.
	st.Ongoing = !run.Enqueued || st.Completed < st.Total
	return st, nil
}

// StopScanAll stops the queued and running scans of the latest run.
func (s *Service) StopScanAll(ctx context.Context, p access.Principal) error {
	if err := s.requireScanAll(p, access.ActStop); err != nil {
		return err
	}
	run, err := s.db.Q().LatestScanAllRun(ctx, "")
	if err != nil {
		return err
	}
	_, err = s.db.Q().StopScanAllJobs(ctx, run.ID)
	return err
}

// GetSchedule returns the scan-all schedule (Type None when unset).
func (s *Service) GetSchedule(ctx context.Context, p access.Principal) (Schedule, error) {
	if err := s.requireScanAll(p, access.ActRead); err != nil {
		return Schedule{}, err
	}
	return s.schedule(ctx)
}

func (s *Service) schedule(ctx context.Context) (Schedule, error) {
	b, err := s.db.Q().GetSetting(ctx, settingSchedule)
	if errs.Is(err, errs.NotFound) {
		return Schedule{Type: gc.ScheduleNone}, nil
	}
	if err != nil {
		return Schedule{}, err
	}
	var sc Schedule
	if err := json.Unmarshal(b, &sc); err != nil {
		return Schedule{}, err
	}
	return sc, nil
}

// presetCron are the crons of Harbor's presets (six fields, seconds first).
var presetCron = map[string]string{gc.ScheduleHourly: "0 0 * * * *", gc.ScheduleDaily: "0 0 0 * * *", gc.ScheduleWeekly: "0 0 0 * * 0"}

// SetSchedule sets the schedule; type Manual runs a scan all now instead.
func (s *Service) SetSchedule(ctx context.Context, p access.Principal, sc Schedule) error {
	if sc.Type == gc.ScheduleManual {
		_, err := s.ScanAllNow(ctx, p)
		return err
	}
	if err := s.requireScanAll(p, access.ActUpdate); err != nil {
		return err
	}
	switch sc.Type {
	case gc.ScheduleNone:
		sc.Cron = ""
	case gc.ScheduleHourly, gc.ScheduleDaily, gc.ScheduleWeekly:
		if strings.TrimSpace(sc.Cron) == "" {
			sc.Cron = presetCron[sc.Type]
		}
	case gc.ScheduleCustom, gc.ScheduleSchedule:
		sc.Type = gc.ScheduleCustom
	default:
		return errs.New(errs.Invalid, "", "schedule.type must be None, Hourly, Daily, Weekly, Custom or Manual, got %q", clip(sc.Type))
	}
	if sc.Type != gc.ScheduleNone {
		cr, err := gc.ParseCron(sc.Cron)
		if err != nil {
			return errs.New(errs.Invalid, "", "schedule.cron: %v", err)
		}
		if cr.Next(time.Now()).IsZero() { // as the GC schedule: a cron that never fires is a mistake
			return errs.New(errs.Invalid, "", "schedule.cron %q never fires", clip(sc.Cron))
		}
	}
	old, _ := s.schedule(ctx)
	sc.CreatedAt, sc.UpdatedAt = old.CreatedAt, time.Now().UTC()
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = sc.UpdatedAt
	}
	b, _ := json.Marshal(sc)
	return s.db.Q().PutSetting(ctx, settingSchedule, b)
}

// NextRun returns when the schedule fires next after t (zero: never).
func NextRun(sc Schedule, t time.Time) time.Time {
	if sc.Type == gc.ScheduleNone || sc.Type == "" {
		return time.Time{}
	}
	cr, err := gc.ParseCron(sc.Cron)
	if err != nil {
		return time.Time{}
	}
	return cr.Next(t)
}

// tickSchedule starts a scheduled scan all when one is due and this node
// claims its slot (a compare-and-swap on the last slot fired, as GC's
// schedule does).
func (s *Service) tickSchedule(ctx context.Context) error {
	sc, err := s.schedule(ctx)
	if err != nil || sc.Type == gc.ScheduleNone || sc.Type == "" {
		return err
	}
	cr, err := gc.ParseCron(sc.Cron)
	if err != nil {
		return err
	}
	q := s.db.Q()
	now := time.Now().UTC()
	old, err := q.GetSetting(ctx, settingFired)
	if errs.Is(err, errs.NotFound) {
		_, err = q.PutSettingIfAbsent(ctx, settingFired, []byte(now.Format(time.RFC3339Nano)+" start"))
		return err
	}
	if err != nil {
		return err
	}
	ts, _, _ := strings.Cut(string(old), " ")
	last, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		last = now
	}
	slot := cr.Next(last)
	if slot.IsZero() || slot.After(now) {
		return nil
	}
	for range 100000 {
		n := cr.Next(slot)
		if n.IsZero() || n.After(now) {
			break
		}
		slot = n
	}
	mine := []byte(slot.Format(time.RFC3339Nano) + " " + s.node + "/" + randomID()[:8])
	got, err := q.SwapSetting(ctx, settingFired, old, mine)
	if err != nil || !bytes.Equal(got, mine) {
		return err
	}
	run, err := s.scanAll(ctx, "Schedule")
	if err == nil {
		s.log.Info("scan all: scheduled run recorded", "run", run.ID)
	}
	return err
}
