package scanjob

import (
	"context"
	"encoding/json"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/scan"
)

// NativeReportSummary is one entry of Harbor's scan_overview.
type NativeReportSummary struct {
	ReportID        string        `json:"report_id"`
	ScanStatus      string        `json:"scan_status"`
	Severity        string        `json:"severity"`
	Duration        int64         `json:"duration"`
	Summary         *scan.Summary `json:"summary,omitempty"`
	StartTime       time.Time     `json:"start_time"`
	EndTime         time.Time     `json:"end_time"`
	CompletePercent int           `json:"complete_percent"`
	Scanner         *scan.Scanner `json:"scanner,omitempty"`
}

// SBOMOverview is Harbor's sbom_overview.
type SBOMOverview struct {
	StartTime  time.Time     `json:"start_time"`
	EndTime    time.Time     `json:"end_time"`
	ScanStatus string        `json:"scan_status"`
	SBOMDigest string        `json:"sbom_digest,omitempty"`
	ReportID   string        `json:"report_id"`
	Duration   int64         `json:"duration"`
	Scanner    *scan.Scanner `json:"scanner,omitempty"`
}

// Subject is an artifact whose overview is wanted: its digest, and its
// children's for an index.
type Subject struct {
	Digest   oci.Digest
	Children []oci.Digest
}

// Overviews are the scan and SBOM overviews of artifacts, by digest.
type Overviews struct {
	Scan map[oci.Digest]map[string]NativeReportSummary
	SBOM map[oci.Digest]*SBOMOverview
}

// Overview returns the overviews of artifacts of repo as the project's
// scanner reported them. An index gets its children's merged: earliest
// start, latest end, the worst status and severity, summed counts.
func (s *Service) Overview(ctx context.Context, repo string, subjects []Subject) (Overviews, error) {
	out := Overviews{Scan: map[oci.Digest]map[string]NativeReportSummary{}, SBOM: map[oci.Digest]*SBOMOverview{}}
	if len(subjects) == 0 {
		return out, nil
	}
	pr, err := s.project(ctx, repo)
	if err != nil {
		return out, err
	}
	sc, err := s.scannerOf(ctx, pr)
	if errs.Is(err, errs.Invalid) {
		return out, nil // no scanner: nothing to show
	}
	if err != nil {
		return out, err
	}
	var all []oci.Digest
	for _, sub := range subjects {
		all = append(all, sub.Digest)
		all = append(all, sub.Children...)
	}
	reps, err := s.db.Q().ListScanReports(ctx, sc.UUID, false, all...)
	if err != nil {
		return out, err
	}
	by := map[oci.Digest][]meta.ScanReport{}
	for _, r := range reps {
		by[r.Digest] = append(by[r.Digest], r)
	}
	for _, sub := range subjects {
		ds := []oci.Digest{sub.Digest}
		if len(sub.Children) > 0 {
			ds = sub.Children
		}
		vuln := map[string]NativeReportSummary{}
		parts := map[string][]meta.ScanReport{}
		for _, d := range ds {
			for _, r := range by[d] {
				if r.MimeType == scan.MediaTypeSBOMReport {
					if len(sub.Children) == 0 {
						out.SBOM[sub.Digest] = sbomOverview(r)
					}
					continue
				}
				sum := nativeSummary(r)
				if prev, ok := vuln[r.MimeType]; ok {
					sum = merge(prev, sum)
				}
				vuln[r.MimeType] = sum
				parts[r.MimeType] = append(parts[r.MimeType], r)
			}
		}
		// An index counts the union of its images' findings: the same
		// CVE in the same package in two images is one finding.
		for mt, rs := range parts {
			if len(rs) < 2 {
				continue
			}
			u, err := s.unionSummary(ctx, rs)
			if err != nil {
				return out, err
			}
			if u != nil {
				v := vuln[mt]
				v.Summary = u
				vuln[mt] = v
			}
		}
		if len(vuln) > 0 {
			out.Scan[sub.Digest] = vuln
		}
	}
	return out, nil
}

// unionSummary counts the distinct findings (id, package, version) of
// several reports; nil when one of them has no result.
func (s *Service) unionSummary(ctx context.Context, rs []meta.ScanReport) (*scan.Summary, error) {
	seen := map[[3]string]bool{}
	var all scan.Report
	for _, r := range rs {
		if len(r.Summary) == 0 {
			return nil, nil
		}
		full, err := s.db.Q().GetScanReport(ctx, r.UUID)
		if errs.Is(err, errs.NotFound) {
			return nil, nil // rescanned meanwhile
		}
		if err != nil {
			return nil, err
		}
		var rep scan.Report
		if err := json.Unmarshal(full.Report, &rep); err != nil {
			return nil, nil
		}
		for _, v := range rep.Vulnerabilities {
			k := [3]string{v.ID, v.Package, v.Version}
			if !seen[k] {
				seen[k] = true
				all.Vulnerabilities = append(all.Vulnerabilities, v)
			}
		}
	}
	sum := all.Summarize()
	return &sum, nil
}

func duration(start, end time.Time) int64 {
	if start.IsZero() || end.IsZero() {
		return 0
	}
	return int64(end.Sub(start).Seconds())
}

func nativeSummary(r meta.ScanReport) NativeReportSummary {
	n := NativeReportSummary{ReportID: r.UUID, ScanStatus: r.Status, Severity: r.Severity,
		StartTime: r.StartTime.UTC(), EndTime: r.EndTime.UTC(), CompletePercent: r.Progress,
		Duration: duration(r.StartTime, r.EndTime)}
	if len(r.Summary) > 0 {
		var sum scan.Summary
		if json.Unmarshal(r.Summary, &sum) == nil {
			n.Summary = &sum
		}
	}
	if len(r.Scanner) > 0 {
		var sc scan.Scanner
		if json.Unmarshal(r.Scanner, &sc) == nil && sc.Name != "" {
			n.Scanner = &sc
		}
	}
	if r.Status == meta.ReportSuccess {
		n.CompletePercent = 100
	}
	return n
}

// statusRank orders statuses for merging: the least finished wins.
var statusRank = map[string]int{meta.ReportError: 5, meta.ReportRunning: 4, meta.ReportPending: 3,
	meta.ReportStopped: 2, meta.ReportSuccess: 1}

func merge(a, b NativeReportSummary) NativeReportSummary {
	if statusRank[b.ScanStatus] > statusRank[a.ScanStatus] {
		a.ScanStatus = b.ScanStatus
	}
	a.Severity = string(scan.MaxSeverity(scan.Severity(a.Severity), scan.Severity(b.Severity)))
	if !b.StartTime.IsZero() && (a.StartTime.IsZero() || b.StartTime.Before(a.StartTime)) {
		a.StartTime = b.StartTime
	}
	if b.EndTime.After(a.EndTime) {
		a.EndTime = b.EndTime
	}
	a.CompletePercent = min(a.CompletePercent, b.CompletePercent)
	a.Duration = duration(a.StartTime, a.EndTime)
	if b.Summary != nil {
		if a.Summary == nil {
			a.Summary = &scan.Summary{Summary: map[scan.Severity]int{}}
		} else {
			c := *a.Summary
			c.Summary = map[scan.Severity]int{}
			for k, v := range a.Summary.Summary {
				c.Summary[k] = v
			}
			a.Summary = &c
		}
		a.Summary.Total += b.Summary.Total
		a.Summary.Fixable += b.Summary.Fixable
		for k, v := range b.Summary.Summary {
			a.Summary.Summary[k] += v
		}
	}
	a.ReportID = "" // a merged overview is not one report
	return a
}

func sbomOverview(r meta.ScanReport) *SBOMOverview {
	o := &SBOMOverview{StartTime: r.StartTime.UTC(), EndTime: r.EndTime.UTC(), ScanStatus: r.Status,
		ReportID: r.UUID, Duration: duration(r.StartTime, r.EndTime)}
	var sum struct {
		SBOMDigest string `json:"sbom_digest"`
	}
	if json.Unmarshal(r.Summary, &sum) == nil {
		o.SBOMDigest = sum.SBOMDigest
	}
	if len(r.Scanner) > 0 {
		var sc scan.Scanner
		if json.Unmarshal(r.Scanner, &sc) == nil && sc.Name != "" {
			o.Scanner = &sc
		}
	}
	return o
}

// Vulnerabilities returns Harbor's additions/vulnerabilities for artifact
// ref of repo: the full reports by MIME type, an empty object when it
// was never scanned.
func (s *Service) Vulnerabilities(ctx context.Context, p access.Principal, repo, ref string) (map[string]json.RawMessage, error) {
	pr, err := s.authorize(ctx, p, repo, access.ResArtifactAddition, access.ActRead)
	if err != nil {
		return nil, err
	}
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	sc, err := s.scannerOf(ctx, pr)
	if errs.Is(err, errs.Invalid) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	reps, err := s.db.Q().ListScanReports(ctx, sc.UUID, true, m.Digest)
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		if r.MimeType != scan.MediaTypeSBOMReport && len(r.Report) > 0 {
			out[r.MimeType] = r.Report
		}
	}
	return out, nil
}

// Log returns the log of scan report reportID of artifact ref of repo.
func (s *Service) Log(ctx context.Context, p access.Principal, repo, ref, reportID string) (string, error) {
	if _, err := s.authorize(ctx, p, repo, access.ResScan, access.ActRead); err != nil {
		return "", err
	}
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return "", err
	}
	r, err := s.db.Q().GetScanReport(ctx, reportID)
	if err != nil {
		return "", err
	}
	if r.Digest != m.Digest {
		return "", errs.New(errs.NotFound, "NOT_FOUND", "artifact %s has no scan report %s", m.Digest, clip(reportID))
	}
	text := r.Log
	if j, err := s.db.Q().ScanJobOfReport(ctx, reportID); err == nil && j.Log != "" {
		text += "--- job ---\n" + j.Log
	}
	return text, nil
}

// Stop stops the scans of kind of artifact ref of repo: queued ones at
// once, running ones within a lease renewal. NotFound when none runs.
func (s *Service) Stop(ctx context.Context, p access.Principal, repo, ref, kind string) error {
	res := access.ResScan
	switch kind {
	case "", KindVulnerability:
		kind = KindVulnerability
	case KindSBOM:
		res = access.ResSBOM
	default:
		return errs.New(errs.Invalid, "UNPROCESSABLE_ENTITY", "scan_type must be %q or %q, got %q", KindVulnerability, KindSBOM, clip(kind))
	}
	if _, err := s.authorize(ctx, p, repo, res, access.ActStop); err != nil {
		return err
	}
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return err
	}
	digests := []oci.Digest{m.Digest}
	if oci.IsIndexType(m.MediaType) {
		if pm, err := oci.ParseManifest(m.MediaType, m.Content); err == nil {
			for _, c := range pm.Manifests {
				digests = append(digests, c.Digest)
			}
		}
	}
	var n int64
	for _, d := range digests {
		jobs, err := s.db.Q().ActiveScanJobs(ctx, d, "")
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if j.Kind != kind {
				continue
			}
			k, err := s.db.Q().StopScanJobs(ctx, j.ReportUUID)
			if err != nil {
				return err
			}
			if k > 0 && j.Status == meta.ScanQueued {
				if r, err := s.db.Q().GetScanReport(ctx, j.ReportUUID); err == nil {
					s.endReport(ctx, r, meta.ReportStopped, "stopped before it ran\n")
				}
			}
			n += k
		}
	}
	if n == 0 {
		return errs.New(errs.NotFound, "NOT_FOUND", "no %s scan of %s is queued or running", kind, m.Digest)
	}
	return nil
}
