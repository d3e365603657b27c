package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scanjob"
)

// Harbor's scanning API: scan and stop an artifact, its scan log, the
// full report (additions/vulnerabilities, in artifacts.go), scan all and
// its schedule, and the system CVE allowlist. Scanner registrations are
// in scanners.go. The rules are scanjob's.

// SetScans gives the handler the scan service; without one the scanning
// endpoints answer 503.
func (h *Handler) SetScans(s *scanjob.Service) { h.scans = s }

func (h *Handler) routesScans() {
	h.handle("POST "+artifactsPath+"/{reference}/scan", h.scanArtifact)
	h.handle("POST "+artifactsPath+"/{reference}/scan/stop", h.stopScanArtifact)
	h.handle("GET "+artifactsPath+"/{reference}/scan/{report_id}/log", h.scanLog)
	h.handle("GET /system/CVEAllowlist", h.getSystemAllowlist)
	h.handle("PUT /system/CVEAllowlist", h.putSystemAllowlist)
	h.handle("GET /system/scanAll/schedule", h.getScanAllSchedule)
	h.handle("POST /system/scanAll/schedule", h.createScanAllSchedule)
	h.handle("PUT /system/scanAll/schedule", h.updateScanAllSchedule)
	h.handle("POST /system/scanAll/stop", h.stopScanAll)
	h.handle("GET /scans/all/metrics", h.scanAllMetrics)
	h.handle("GET /scans/schedule/metrics", h.scanScheduleMetrics)
	h.routesScanners()
}

func (h *Handler) scanService() (*scanjob.Service, error) {
	if h.scans == nil {
		return nil, errs.New(errs.Unavailable, "", "scanning is not available on this server")
	}
	return h.scans, nil
}

// scanTypeBody reads Harbor's ScanType body, which is optional.
func scanTypeBody(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return "", errs.New(errs.TooLarge, "", "the request body is larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return scanjob.KindVulnerability, nil
	}
	var body struct {
		ScanType string `json:"scan_type"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return "", errs.New(errs.Invalid, "", "invalid JSON body: %v", err)
	}
	return body.ScanType, nil
}

// scanArtifact is POST …/artifacts/{reference}/scan: 202 once queued.
func (h *Handler) scanArtifact(w http.ResponseWriter, r *http.Request, p access.Principal) {
	h.scanAction(w, r, p, access.ActCreate, (*scanjob.Service).Scan)
}

// stopScanArtifact is POST …/artifacts/{reference}/scan/stop.
func (h *Handler) stopScanArtifact(w http.ResponseWriter, r *http.Request, p access.Principal) {
	h.scanAction(w, r, p, access.ActStop, (*scanjob.Service).Stop)
}

// scanAction reads the optional scan type, checks act on the scan or SBOM
// resource of the repository, runs do on the artifact and answers 202.
func (h *Handler) scanAction(w http.ResponseWriter, r *http.Request, p access.Principal, act string,
	do func(s *scanjob.Service, ctx context.Context, p access.Principal, repo, ref, kind string) error) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	kind, err := scanTypeBody(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res := access.ResScan
	if kind == scanjob.KindSBOM {
		res = access.ResSBOM
	}
	_, name, err := h.repositoryScope(r, p, res, act)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := do(s, r.Context(), p, name, r.PathValue("reference"), kind); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// scanLog is GET …/scan/{report_id}/log: plain text.
func (h *Handler) scanLog(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, name, err := h.repositoryScope(r, p, access.ResScan, access.ActRead)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	text, err := s.Log(r.Context(), p, name, r.PathValue("reference"), r.PathValue("report_id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(text))
}

// vulnerabilities answers additions/vulnerabilities: the full reports by
// MIME type.
func (h *Handler) vulnerabilities(w http.ResponseWriter, r *http.Request, p access.Principal, name string) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := s.Vulnerabilities(r.Context(), p, name, r.PathValue("reference"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// CVE allowlists.

// cveAllowlistJSON is Harbor's CVEAllowlist. expires_at is unix seconds,
// null for never.
type cveAllowlistJSON struct {
	ID           int64         `json:"id"`
	ProjectID    int64         `json:"project_id"`
	ExpiresAt    *int64        `json:"expires_at"`
	Items        []cveItemJSON `json:"items"`
	CreationTime time.Time     `json:"creation_time"`
	UpdateTime   time.Time     `json:"update_time"`
}

type cveItemJSON struct {
	CVEID string `json:"cve_id"`
}

func toAllowlistJSON(l meta.CVEAllowlist) cveAllowlistJSON {
	out := cveAllowlistJSON{ID: l.ProjectID, ProjectID: l.ProjectID, Items: []cveItemJSON{},
		CreationTime: l.CreatedAt.UTC(), UpdateTime: l.UpdatedAt.UTC()}
	if l.ExpiresAt > 0 {
		exp := l.ExpiresAt
		out.ExpiresAt = &exp
	}
	for _, it := range l.Items {
		out.Items = append(out.Items, cveItemJSON{CVEID: it})
	}
	return out
}

// cveAllowlistReq is a CVEAllowlist as a request body; the read-only
// fields are accepted and ignored.
type cveAllowlistReq struct {
	ID           *int64        `json:"id"`
	ProjectID    *int64        `json:"project_id"`
	ExpiresAt    *int64        `json:"expires_at"`
	Items        []cveItemJSON `json:"items"`
	CreationTime *string       `json:"creation_time"`
	UpdateTime   *string       `json:"update_time"`
}

func (b cveAllowlistReq) allowlist() meta.CVEAllowlist {
	l := meta.CVEAllowlist{Items: []string{}}
	if b.ExpiresAt != nil {
		l.ExpiresAt = *b.ExpiresAt
	}
	for _, it := range b.Items {
		l.Items = append(l.Items, it.CVEID)
	}
	return l
}

// parseAllowlist reads a project body's cve_allowlist (absent or null:
// nil) and validates it.
func parseAllowlist(raw json.RawMessage) (*meta.CVEAllowlist, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var b cveAllowlistReq
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, errs.New(errs.Invalid, "", "cve_allowlist: %v", err)
	}
	l := b.allowlist()
	if err := scanjob.CheckAllowlist(l); err != nil {
		return nil, err
	}
	return &l, nil
}

func (h *Handler) getSystemAllowlist(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := s.SystemAllowlist(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAllowlistJSON(l))
}

func (h *Handler) putSystemAllowlist(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body cveAllowlistReq
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := s.SetSystemAllowlist(r.Context(), p, body.allowlist()); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

// Scan all.

// scanAllScheduleJSON is Harbor's Schedule for scan all.
type scanAllScheduleJSON struct {
	ID           int64          `json:"id"`
	Status       string         `json:"status"`
	CreationTime time.Time      `json:"creation_time"`
	UpdateTime   time.Time      `json:"update_time"`
	Schedule     *scheduleObjJS `json:"schedule"`
}

func (h *Handler) getScanAllSchedule(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := s.GetSchedule(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	obj := &scheduleObjJS{Type: sc.Type, Cron: sc.Cron}
	if next := scanjob.NextRun(sc, time.Now()); !next.IsZero() {
		obj.NextScheduledTime = &next
	}
	writeJSON(w, http.StatusOK, scanAllScheduleJSON{Status: "Scheduled", CreationTime: sc.CreatedAt.UTC(),
		UpdateTime: sc.UpdatedAt.UTC(), Schedule: obj})
}

func (h *Handler) readScanAllSchedule(w http.ResponseWriter, r *http.Request) (scanjob.Schedule, error) {
	var req scheduleReq
	if err := decode(w, r, &req); err != nil {
		return scanjob.Schedule{}, err
	}
	if req.Schedule == nil || req.Schedule.Type == "" {
		return scanjob.Schedule{}, errs.Invalidf("schedule.type is required (Manual, None, Hourly, Daily, Weekly or Custom)")
	}
	return scanjob.Schedule{Type: req.Schedule.Type, Cron: req.Schedule.Cron}, nil
}

// createScanAllSchedule runs a scan all now (type Manual) or sets the
// schedule; 201 either way.
func (h *Handler) createScanAllSchedule(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := h.readScanAllSchedule(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := s.SetSchedule(r.Context(), p, sc); err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, Prefix+"/system/scanAll/schedule", nil)
}

func (h *Handler) updateScanAllSchedule(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := h.readScanAllSchedule(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if sc.Type == gc.ScheduleManual {
		h.fail(w, r, errs.Invalidf("use POST for a manual scan all; PUT sets the schedule"))
		return
	}
	if err := s.SetSchedule(r.Context(), p, sc); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) stopScanAll(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := s.StopScanAll(r.Context(), p); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

func (h *Handler) scanAllMetrics(w http.ResponseWriter, r *http.Request, p access.Principal) {
	h.writeScanStats(w, r, p, "")
}

func (h *Handler) scanScheduleMetrics(w http.ResponseWriter, r *http.Request, p access.Principal) {
	h.writeScanStats(w, r, p, "Schedule")
}

func (h *Handler) writeScanStats(w http.ResponseWriter, r *http.Request, p access.Principal, trigger string) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	st, err := s.ScanAllStats(r.Context(), p, trigger)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// fillAllowlist puts the project's stored CVE allowlist into out.
func (h *Handler) fillAllowlist(r *http.Request, out *projectJSON) error {
	if h.scans == nil {
		return nil
	}
	l, err := h.scans.ProjectAllowlist(r.Context(), out.ProjectID)
	if err != nil {
		return err
	}
	j := toAllowlistJSON(l)
	if l.CreatedAt.IsZero() {
		j.CreationTime, j.UpdateTime = out.CVEAllowlist.CreationTime, out.CVEAllowlist.UpdateTime
	}
	out.CVEAllowlist = j
	return nil
}

// setProjectAllowlist stores a project body's cve_allowlist (nil: left
// as it is). A server without scanning accepts and ignores it, as
// Harbor's clients always send one.
func (h *Handler) setProjectAllowlist(r *http.Request, projectID int64, l *meta.CVEAllowlist) error {
	if l == nil || h.scans == nil {
		return nil
	}
	return h.scans.SetProjectAllowlist(r.Context(), projectID, *l)
}
