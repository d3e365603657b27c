package scanjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scan"
)

// Run works on the scan queue until ctx ends: it claims runnable jobs, at
// most the configured number at a time, and looks for new ones when woken
// (a scan was queued on this node) or every idle interval (one was queued
// on another node, or a retry came due). It returns when ctx is done and
// the running scans have stopped.
func (s *Service) Run(ctx context.Context, idle time.Duration) {
	slots := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); s.runWalker(ctx, idle) }()
	t := time.NewTicker(idle)
	defer t.Stop()
	for {
		// Claim while there are free slots and runnable jobs.
		for {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			j, ok, err := s.claim(ctx)
			if err != nil || !ok {
				<-slots
				if err != nil && ctx.Err() == nil {
					s.log.Warn("claim scan job", "err", err)
				}
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				s.runJob(ctx, j)
				s.Wake() // a slot is free: look again
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

func (s *Service) claim(ctx context.Context) (meta.ScanJob, bool, error) {
	var j meta.ScanJob
	var ok bool
	err := s.db.Tx(ctx, func(q *meta.Q) error {
		var err error
		j, ok, err = q.ClaimScanJob(ctx, s.node, s.lease)
		return err
	})
	return j, ok, err
}

// errStopped is the cause of a scan cancelled by a stop request.
var errStopped = errors.New("scan stopped on request")

// runJob runs one claimed job: it renews the lease while the scan runs,
// stops it when asked, stores the report and ends or re-queues the job.
func (s *Service) runJob(ctx context.Context, j meta.ScanJob) {
	q := s.db.Q()
	log := s.log.With("job", j.ID, "repository", j.Repository, "digest", j.Digest, "kind", j.Kind)
	rep, err := q.GetScanReport(ctx, j.ReportUUID)
	if errs.Is(err, errs.NotFound) {
		s.finish(ctx, j, meta.ScanStopped, time.Time{}, "superseded by a newer scan\n")
		return
	}
	if err != nil {
		log.Warn("scan job: read report", "err", err)
		s.finish(ctx, j, "", time.Now().Add(s.backoff), fmt.Sprintf("read report: %v\n", err))
		return
	}
	if j.StopRequested {
		s.endReport(ctx, rep, meta.ReportStopped, "stopped\n")
		s.finish(ctx, j, meta.ScanStopped, time.Time{}, "stopped\n")
		return
	}
	if j.Attempts > j.MaxAttempts {
		msg := fmt.Sprintf("gave up after %d attempts (the worker running it stopped answering)\n", j.MaxAttempts)
		s.endReport(ctx, rep, meta.ReportError, msg)
		s.finish(ctx, j, meta.ScanError, time.Time{}, msg)
		return
	}
	sc, err := q.GetScanner(ctx, j.ScannerUUID)
	var b backend
	if err == nil {
		b, err = s.backendOf(sc)
	}
	if err != nil {
		msg := fmt.Sprintf("scanner %s: %v\n", j.ScannerUUID, err)
		s.endReport(ctx, rep, meta.ReportError, msg)
		s.finish(ctx, j, meta.ScanError, time.Time{}, msg)
		return
	}
	rep.Status, rep.Progress = meta.ReportRunning, 0
	rep.Log = fmt.Sprintf("%s attempt %d of %d on %s with scanner %s\n", time.Now().UTC().Format(time.RFC3339),
		j.Attempts, j.MaxAttempts, s.node, sc.Name)
	if err := q.UpdateScanReport(ctx, rep); errs.Is(err, errs.NotFound) {
		s.finish(ctx, j, meta.ScanStopped, time.Time{}, "superseded by a newer scan\n")
		return
	}

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sctx, cancelT := context.WithTimeout(sctx, s.timeout)
	defer cancelT()
	var progress atomic.Int64
	renewDone := make(chan struct{})
	go func() { // keep the lease and watch for stops
		defer close(renewDone)
		t := time.NewTicker(s.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			stop, err := s.db.Q().RenewScanJob(ctx, j.ID, s.node, s.lease, int(progress.Load()))
			switch {
			case errs.Is(err, errs.Conflict):
				cancel(errors.New("lost the job's lease"))
				return
			case err != nil:
				log.Warn("renew scan lease", "err", err)
			case stop:
				cancel(errStopped)
				return
			}
		}
	}()
	res, err := b.scan(sctx, j, rep.MimeType, func(p int) { progress.Store(int64(p)) })
	cancel(nil)
	<-renewDone
	cause := context.Cause(sctx)

	switch {
	case err == nil:
		if err := s.storeResult(ctx, j, rep, res); err != nil {
			log.Warn("store scan report", "err", err)
			s.retryOrFail(ctx, j, rep, fmt.Errorf("store report: %w", err))
			return
		}
		s.finish(ctx, j, meta.ScanSuccess, time.Time{}, res.log)
		log.Info("scan finished", "report", rep.UUID)
	case errors.Is(cause, errStopped):
		s.endReport(ctx, rep, meta.ReportStopped, "stopped on request\n")
		s.finish(ctx, j, meta.ScanStopped, time.Time{}, "stopped on request\n")
	case ctx.Err() != nil:
		// This node is shutting down: leave the lease to run out, so
		// that another node (or this one, restarted) takes the job.
	case cause != nil && !errors.Is(cause, context.Canceled):
		log.Warn("scan abandoned", "cause", cause)
	default:
		log.Warn("scan failed", "attempt", j.Attempts, "err", err)
		s.retryOrFail(ctx, j, rep, err)
	}
}

// retryOrFail re-queues a failed job with exponential backoff, or ends it
// and its report with Error after the last attempt.
func (s *Service) retryOrFail(ctx context.Context, j meta.ScanJob, rep meta.ScanReport, err error) {
	msg := fmt.Sprintf("attempt %d failed: %v\n", j.Attempts, err)
	if j.Attempts < j.MaxAttempts {
		wait := s.backoff << (j.Attempts - 1)
		rep.Log += msg + fmt.Sprintf("retrying in %s\n", wait)
		rep.Status = meta.ReportPending
		_ = s.db.Q().UpdateScanReport(ctx, rep)
		s.finish(ctx, j, "", time.Now().Add(wait), msg)
		return
	}
	s.endReport(ctx, rep, meta.ReportError, msg)
	s.finish(ctx, j, meta.ScanError, time.Time{}, msg)
}

func (s *Service) finish(ctx context.Context, j meta.ScanJob, status string, retryAt time.Time, text string) {
	if err := s.db.Q().FinishScanJob(ctx, j.ID, s.node, status, retryAt, text); err != nil && ctx.Err() == nil {
		s.log.Warn("finish scan job", "job", j.ID, "err", err)
	}
}

// endReport ends a report without a result.
func (s *Service) endReport(ctx context.Context, rep meta.ScanReport, status, text string) {
	rep.Status, rep.EndTime = status, time.Now()
	rep.Log += text
	rep.Report, rep.Summary = nil, nil
	if err := s.db.Q().UpdateScanReport(ctx, rep); err != nil && !errs.Is(err, errs.NotFound) && ctx.Err() == nil {
		s.log.Warn("end scan report", "report", rep.UUID, "err", err)
	}
}

// storeResult stores a finished scan's report with its severity and
// summary; an SBOM is also pushed as an accessory of the artifact.
func (s *Service) storeResult(ctx context.Context, j meta.ScanJob, rep meta.ScanReport, res result) error {
	rep.Status, rep.Progress, rep.EndTime, rep.Report = meta.ReportSuccess, 100, time.Now(), res.report
	rep.Log += res.log
	if j.Kind == KindSBOM {
		d, err := s.storeSBOM(ctx, j, res.report)
		if err != nil {
			return err
		}
		rep.Summary, _ = json.Marshal(map[string]string{"sbom_digest": string(d)})
		rep.Severity = ""
	} else {
		var r scan.Report
		if err := json.Unmarshal(res.report, &r); err != nil {
			return errs.New(errs.Invalid, "", "the report is not a vulnerability report: %v", err)
		}
		sum := r.Summarize()
		sev := scan.SeverityNone
		for _, v := range r.Vulnerabilities {
			sev = scan.MaxSeverity(sev, v.Severity)
		}
		rep.Severity = string(sev)
		rep.Summary, _ = json.Marshal(sum)
		rep.Scanner, _ = json.Marshal(r.Scanner)
	}
	err := s.db.Q().UpdateScanReport(ctx, rep)
	if errs.Is(err, errs.NotFound) {
		return nil // a newer scan replaced this one; its result wins
	}
	return err
}

// RunScheduler starts scheduled scan-all runs, checking every interval,
// until ctx ends.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.tickSchedule(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("scan all schedule", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
