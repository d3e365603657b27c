package api

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/scanjob"
)

// Harbor's scanner registrations (/scanners) and a project's scanner
// (/projects/{p}/scanner).

func (h *Handler) routesScanners() {
	h.handle("GET /scanners", h.listScanners)
	h.handle("POST /scanners", h.createScanner)
	h.handle("POST /scanners/ping", h.pingScanner)
	h.handle("GET /scanners/{registration_id}", h.getScanner)
	h.handle("PUT /scanners/{registration_id}", h.updateScanner)
	h.handle("DELETE /scanners/{registration_id}", h.deleteScanner)
	h.handle("PATCH /scanners/{registration_id}", h.setDefaultScanner)
	h.handle("GET /scanners/{registration_id}/metadata", h.scannerMetadata)
	h.handleProject("GET /projects/{project}/scanner", h.getProjectScanner)
	h.handleProject("PUT /projects/{project}/scanner", h.setProjectScanner)
	h.handleProject("GET /projects/{project}/scanner/candidates", h.projectScannerCandidates)
}

// scannerJSON is Harbor's ScannerRegistration. The credential is never
// shown.
type scannerJSON struct {
	UUID             string          `json:"uuid"`
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	URL              string          `json:"url"`
	Disabled         bool            `json:"disabled"`
	IsDefault        bool            `json:"is_default"`
	Auth             string          `json:"auth"`
	AccessCredential string          `json:"access_credential"`
	SkipCertVerify   bool            `json:"skip_certVerify"`
	UseInternalAddr  bool            `json:"use_internal_addr"`
	CreateTime       time.Time       `json:"create_time"`
	UpdateTime       time.Time       `json:"update_time"`
	Adapter          string          `json:"adapter,omitempty"`
	Vendor           string          `json:"vendor,omitempty"`
	Version          string          `json:"version,omitempty"`
	Health           string          `json:"health"`
	Capabilities     map[string]bool `json:"capabilities,omitempty"`
}

func toScannerJSON(r scanjob.Registration) scannerJSON {
	return scannerJSON{UUID: r.UUID, Name: r.Name, Description: r.Description, URL: r.URL, Disabled: r.Disabled,
		IsDefault: r.IsDefault, Auth: r.Auth, SkipCertVerify: r.SkipCertVerify, UseInternalAddr: r.UseInternalAddr,
		CreateTime: r.CreatedAt.UTC(), UpdateTime: r.UpdatedAt.UTC(), Adapter: r.Adapter, Vendor: r.Vendor,
		Version: r.Version, Health: r.Health, Capabilities: r.Capabilities}
}

// scannerReqJSON is Harbor's ScannerRegistrationReq (and, for ping, its
// ScannerRegistrationSettings).
type scannerReqJSON struct {
	Name             string `json:"name"`
	Description      string `json:"description"`
	URL              string `json:"url"`
	Auth             string `json:"auth"`
	AccessCredential string `json:"access_credential"`
	SkipCertVerify   bool   `json:"skip_certVerify"`
	UseInternalAddr  bool   `json:"use_internal_addr"`
	Disabled         bool   `json:"disabled"`
}

func (b scannerReqJSON) spec() scanjob.RegistrationSpec {
	return scanjob.RegistrationSpec{Name: b.Name, Description: b.Description, URL: b.URL, Auth: b.Auth,
		AccessCredential: b.AccessCredential, SkipCertVerify: b.SkipCertVerify, UseInternalAddr: b.UseInternalAddr,
		Disabled: b.Disabled}
}

func (h *Handler) listScanners(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	regs, err := s.ListScanners(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []scannerJSON{}
	for i, reg := range regs {
		if i >= (o.Page-1)*o.PageSize && i < o.Page*o.PageSize {
			out = append(out, toScannerJSON(reg))
		}
	}
	writePage(w, r, o, len(regs), out)
}

func (h *Handler) createScanner(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body scannerReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := s.CreateScanner(r.Context(), p, body.spec())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, Prefix+"/scanners/"+sc.UUID, nil)
}

func (h *Handler) pingScanner(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body scannerReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := s.Ping(r.Context(), p, body.spec()); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) getScanner(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	reg, err := s.GetScanner(r.Context(), p, r.PathValue("registration_id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toScannerJSON(reg))
}

func (h *Handler) updateScanner(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body scannerReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := s.UpdateScanner(r.Context(), p, r.PathValue("registration_id"), body.spec()); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

// deleteScanner answers 200 with the deleted registration, as Harbor.
func (h *Handler) deleteScanner(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sc, err := s.DeleteScanner(r.Context(), p, r.PathValue("registration_id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toScannerJSON(scanjob.Registration{Scanner: sc}))
}

func (h *Handler) setDefaultScanner(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body struct {
		IsDefault bool `json:"is_default"`
	}
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := s.SetDefaultScanner(r.Context(), p, r.PathValue("registration_id"), body.IsDefault); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) scannerMetadata(w http.ResponseWriter, r *http.Request, p access.Principal) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	md, err := s.ScannerMetadata(r.Context(), p, r.PathValue("registration_id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, md)
}

// projectForScanner loads the project and checks scanner:action on it.
func (h *Handler) projectForScanner(r *http.Request, p access.Principal, ref access.ProjectRef, action string) (access.ProjectView, error) {
	v, err := h.acc.GetProject(r.Context(), p, ref)
	if err != nil {
		return v, err
	}
	allowed, err := h.acc.Can(r.Context(), p, v.Project, access.ResScanner, action)
	if err != nil {
		return v, err
	}
	if !allowed {
		return v, denied(p, action+" the scanner of project "+v.Name)
	}
	return v, nil
}

func (h *Handler) getProjectScanner(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.projectForScanner(r, p, ref, access.ActRead)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	reg, err := s.ProjectScanner(r.Context(), v.Project)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toScannerJSON(reg))
}

func (h *Handler) setProjectScanner(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body struct {
		UUID string `json:"uuid"`
	}
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.projectForScanner(r, p, ref, access.ActCreate)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := s.SetProjectScanner(r.Context(), v.Project, body.UUID); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) projectScannerCandidates(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	s, err := h.scanService()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.projectForScanner(r, p, ref, access.ActCreate); err != nil {
		h.fail(w, r, err)
		return
	}
	regs, err := s.Candidates(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []scannerJSON{}
	for i, reg := range regs {
		if i >= (o.Page-1)*o.PageSize && i < o.Page*o.PageSize {
			out = append(out, toScannerJSON(reg))
		}
	}
	writePage(w, r, o, len(regs), out)
}
