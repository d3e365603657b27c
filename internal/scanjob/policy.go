package scanjob

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/scan"
)

// PolicyViolation is the error code of a refused pull (the oci handler
// answers it with 412).
const PolicyViolation = "PROJECTPOLICYVIOLATION"

// CheckPull decides Harbor's "prevent vulnerable images from running"
// for a pull of manifest m of repo. scannerPull is true when the caller
// holds a scanner's pull token (a scanner must fetch what it scans). The
// rules follow Harbor's vulnerable middleware: off, a signature or a
// scanner's pull passes; an index passes (its children are checked when
// pulled); an image that can be scanned but has no successful report is
// refused; otherwise the findings not on the effective CVE allowlist are
// refused when the worst is at or above the project's severity.
func (s *Service) CheckPull(ctx context.Context, repo string, m meta.Manifest, scannerPull bool) error {
	// Every manifest pull asks; the project's row may be a few seconds
	// old when it was changed on another node (meta.ProjectCacheTTL).
	pr, err := s.db.Q().CachedProjectByName(ctx, access.ProjectOf(repo))
	if err != nil {
		return fmt.Errorf("project of %s: %w", repo, err)
	}
	if pr.Metadata["prevent_vul"] != "true" || scannerPull || oci.IsIndexType(m.MediaType) || !scannable(m) {
		return nil
	}
	threshold := scan.ParseSeverity(pr.Metadata["severity"])
	if pr.Metadata["severity"] == "" {
		threshold = scan.SeverityLow // Harbor's default
	}
	policy := fmt.Sprintf("'Prevent images with vulnerability severity of %q or higher from running.'", string(threshold))
	sc, err := s.scannerOf(ctx, pr)
	if errs.Is(err, errs.Invalid) {
		return nil // nothing can scan it: Harbor lets it through
	}
	if err != nil {
		return err
	}
	// Summaries first: most pulls are of images whose worst finding is
	// below the threshold, and need not load the full report.
	reps, err := s.db.Q().ListScanReports(ctx, sc.UUID, false, m.Digest)
	if err != nil {
		return err
	}
	var rep *meta.ScanReport
	for i, r := range reps {
		if r.MimeType != scan.MediaTypeSBOMReport {
			rep = &reps[i]
			if r.MimeType == scan.MediaTypeVulnReport {
				break
			}
		}
	}
	how := fmt.Sprintf(" Scan it with POST /api/v2.0/projects/%s/repositories/%s/artifacts/%s/scan and pull again when the scan has succeeded.",
		pr.Name, escapeRepo(strings.TrimPrefix(repo, pr.Name+"/")), m.Digest)
	if rep == nil || (rep.Status != meta.ReportSuccess && rep.EndTime.IsZero() && len(rep.Summary) == 0) {
		return errs.New(errs.Denied, PolicyViolation, "current image without vulnerability scanning cannot be pulled due to configured policy in %s To continue with pull, please contact your project administrator for help.%s", policy, how)
	}
	if rep.Status != meta.ReportSuccess {
		return errs.New(errs.Denied, PolicyViolation, "current image with %q status of vulnerability scanning cannot be pulled due to configured policy in %s To continue with pull, please contact your project administrator for help.%s", rep.Status, policy, how)
	}
	if scan.Severity(rep.Severity).Code() < threshold.Code() {
		return nil
	}
	full, err := s.db.Q().GetScanReport(ctx, rep.UUID)
	if err != nil {
		return err
	}
	var r scan.Report
	if err := json.Unmarshal(full.Report, &r); err != nil {
		return fmt.Errorf("read scan report %s: %w", full.UUID, err)
	}
	allow, err := s.effectiveAllowlist(ctx, pr)
	if err != nil {
		return err
	}
	var remaining, blocking []scan.Vulnerability
	worst := scan.SeverityNone
	for _, v := range r.Vulnerabilities {
		if allow[v.ID] {
			continue
		}
		remaining = append(remaining, v)
		worst = scan.MaxSeverity(worst, v.Severity)
		if v.Severity.Code() >= threshold.Code() {
			blocking = append(blocking, v)
		}
	}
	if len(remaining) == 0 || worst.Code() < threshold.Code() {
		return nil
	}
	return errs.New(errs.Denied, PolicyViolation, "current image with %d vulnerabilities cannot be pulled due to configured policy in %s To continue with pull, please contact your project administrator to exempt matched vulnerabilities through configuring the CVE allowlist. Blocking: %s.",
		len(remaining), policy, describe(blocking))
}

// describe names the blocking findings, worst first, at most five.
func describe(vs []scan.Vulnerability) string {
	slices.SortStableFunc(vs, func(a, b scan.Vulnerability) int { return b.Severity.Code() - a.Severity.Code() })
	var parts []string
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.ID] {
			continue
		}
		seen[v.ID] = true
		if len(parts) == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-5))
			break
		}
		p := fmt.Sprintf("%s (%s, %s %s", v.ID, v.Severity, v.Package, v.Version)
		if v.FixVersion != "" {
			p += ", fixed in " + v.FixVersion
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, ", ")
}

// effectiveAllowlist is the set of CVE ids exempted in project: the
// system's list when the project reuses it (the default), else its own;
// an expired list exempts nothing.
func (s *Service) effectiveAllowlist(ctx context.Context, pr meta.Project) (map[string]bool, error) {
	id := int64(0)
	if pr.Metadata["reuse_sys_cve_allowlist"] == "false" {
		id = pr.ID
	}
	l, err := s.db.Q().GetCVEAllowlist(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if l.Expired(time.Now()) {
		return out, nil
	}
	for _, c := range l.Items {
		out[c] = true
	}
	return out, nil
}

func escapeRepo(r string) string { return strings.ReplaceAll(r, "/", "%252F") }
