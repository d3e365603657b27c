package scanjob

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/scan"
)

// authorize checks p's permission on the project of repo.
func (s *Service) authorize(ctx context.Context, p access.Principal, repo, resource, action string) (meta.Project, error) {
	pr, err := s.db.Q().GetProjectByName(ctx, access.ProjectOf(repo))
	if errs.Is(err, errs.NotFound) {
		return meta.Project{}, errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", access.ProjectOf(repo))
	}
	if err != nil {
		return meta.Project{}, err
	}
	ok, err := s.acc.Can(ctx, p, pr, resource, action)
	if err != nil {
		return meta.Project{}, err
	}
	if ok {
		return pr, nil
	}
	if p.IsAnonymous() {
		return meta.Project{}, errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to %s %s in %s", action, resource, pr.Name)
	}
	if ok, _ := s.acc.Can(ctx, p, pr, access.ResProject, access.ActRead); !ok {
		return meta.Project{}, errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", pr.Name)
	}
	return meta.Project{}, errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s %s in project %s", p.Name(), action, resource, pr.Name)
}

// Scan queues a scan of kind (vulnerability or sbom) of the artifact ref
// (tag or digest) of repo, for p. An index is scanned through its
// children. Conflict when a scan of it is already queued or running.
func (s *Service) Scan(ctx context.Context, p access.Principal, repo, ref, kind string) error {
	res := access.ResScan
	switch kind {
	case "", KindVulnerability:
		kind = KindVulnerability
	case KindSBOM:
		res = access.ResSBOM
	default:
		return errs.New(errs.Invalid, "UNPROCESSABLE_ENTITY", "scan_type must be %q or %q, got %q", KindVulnerability, KindSBOM, clip(kind))
	}
	pr, err := s.authorize(ctx, p, repo, res, access.ActCreate)
	if err != nil {
		return err
	}
	m, err := s.reg.GetManifest(ctx, repo, ref)
	if err != nil {
		return err
	}
	n, err := s.enqueue(ctx, pr, repo, m, kind, TriggerManual, 0, true)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.New(errs.Invalid, "UNPROCESSABLE_ENTITY", "artifact %s@%s is not an image that can be scanned", repo, m.Digest)
	}
	return nil
}

// OnPush queues a vulnerability scan of a pushed manifest when its project
// has auto_scan on, and an SBOM when it has auto_sbom_generation on.
// Errors are logged, never returned: a push does not fail for a scan.
func (s *Service) OnPush(ctx context.Context, repo string, d oci.Digest) {
	pr, err := s.project(ctx, repo)
	if err != nil {
		s.log.Warn("scan on push: project", "repository", repo, "err", err)
		return
	}
	auto, sbom := pr.Metadata["auto_scan"] == "true", pr.Metadata["auto_sbom_generation"] == "true"
	if !auto && !sbom {
		return
	}
	m, err := s.reg.GetManifest(ctx, repo, string(d))
	if err != nil {
		s.log.Warn("scan on push: manifest", "repository", repo, "digest", d, "err", err)
		return
	}
	for kind, on := range map[string]bool{KindVulnerability: auto, KindSBOM: sbom} {
		if !on {
			continue
		}
		if _, err := s.enqueue(ctx, pr, repo, m, kind, TriggerPush, 0, false); err != nil {
			s.log.Warn("scan on push", "repository", repo, "digest", d, "kind", kind, "err", err)
		}
	}
}

// scannable reports whether a manifest is an image a scanner reads:
// signatures, SBOMs and other artifacts are not.
func scannable(m meta.Manifest) bool {
	if m.MediaType != oci.MediaTypeImageManifest && m.MediaType != oci.MediaTypeDockerManifest {
		return false
	}
	switch m.ArtifactType {
	case "", oci.MediaTypeImageConfig, oci.MediaTypeDockerConfig:
		return true
	}
	return false
}

// enqueue queues scans of m (or of its children, for an index) and
// returns how many it queued. With strict, a scan already in progress is
// a Conflict; otherwise it is left alone.
func (s *Service) enqueue(ctx context.Context, pr meta.Project, repo string, m meta.Manifest, kind, trigger string, scanAll int64, strict bool) (int, error) {
	if oci.IsIndexType(m.MediaType) {
		pm, err := oci.ParseManifest(m.MediaType, m.Content)
		if err != nil {
			return 0, errs.New(errs.Invalid, "", "index %s: %v", m.Digest, err)
		}
		total := 0
		for _, c := range pm.Manifests {
			cm, err := s.reg.GetManifest(ctx, repo, string(c.Digest))
			if err != nil {
				return total, err
			}
			n, err := s.enqueue(ctx, pr, repo, cm, kind, trigger, scanAll, strict)
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	if !scannable(m) {
		return 0, nil
	}
	sc, err := s.scannerOf(ctx, pr)
	if err != nil {
		return 0, err
	}
	if sc.Disabled {
		return 0, errs.New(errs.Invalid, "BAD_REQUEST", "scanner %s of project %s is disabled", sc.Name, pr.Name)
	}
	mt, err := s.mimeTypeFor(ctx, sc, kind)
	if err != nil {
		return 0, err
	}
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		active, err := q.ActiveScanJobs(ctx, m.Digest, sc.UUID)
		if err != nil {
			return err
		}
		for _, j := range active {
			if j.Kind == kind {
				if strict {
					return errs.New(errs.Conflict, "CONFLICT", "a %s scan of %s is already %s", kind, m.Digest, j.Status)
				}
				return errAlreadyQueued
			}
		}
		rep, err := q.StartScanReport(ctx, meta.ScanReport{UUID: uuid(), Digest: m.Digest, ScannerUUID: sc.UUID, MimeType: mt})
		if err != nil {
			return err
		}
		_, err = q.CreateScanJob(ctx, meta.ScanJob{Kind: kind, Trigger: trigger, Repository: repo, Digest: m.Digest,
			MediaType: m.MediaType, ScannerUUID: sc.UUID, ReportUUID: rep.UUID, ScanAllID: scanAll})
		return err
	})
	if err == errAlreadyQueued {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	s.Wake()
	return 1, nil
}

var errAlreadyQueued = fmt.Errorf("already queued")

// mimeTypeFor picks the report MIME type a registration produces for
// kind. An adapter that cannot be asked is assumed to speak Harbor's
// current report type.
func (s *Service) mimeTypeFor(ctx context.Context, sc meta.Scanner, kind string) (string, error) {
	def := scan.MediaTypeVulnReport
	if kind == KindSBOM {
		def = scan.MediaTypeSBOMReport
	}
	if sc.Builtin {
		return def, nil
	}
	b, err := s.backendOf(sc)
	if err != nil {
		return "", err
	}
	md, err := b.metadata(ctx)
	if err != nil {
		s.log.Warn("scanner metadata", "scanner", sc.Name, "err", err)
		return def, nil
	}
	mt, ok := md.reportMimeType(kind)
	if !ok {
		return "", errs.New(errs.Invalid, "UNPROCESSABLE_ENTITY", "scanner %s cannot produce a %s report", sc.Name, kind)
	}
	return mt, nil
}

// Wake tells this node's worker that a job may be waiting.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
