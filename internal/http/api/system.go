package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oidcauth"
)

// What the server tells about itself: /systeminfo (misc.go),
// /systeminfo/volumes, /statistics and /health, and read-only mode for the
// API's content changes. Facts only the assembling code knows (the
// external URL, whether a CA is offered, how to measure the volume, how to
// reach storage) come in as Options.

// Option configures a Handler.
type Option func(*system)

type system struct {
	externalURL string
	hasCARoot   bool
	storageName string
	volumes     func() (total, free uint64, err error)
	checks      []healthCheck
	ldap        ldapDirectory // /ldap/* (ldap.go); nil: 404
	oidc        *oidcauth.RP  // /c/oidc/* and /system/oidc/ping (oidc.go); nil: 404
}

type healthCheck struct {
	name string
	fn   func(context.Context) error
}

// WithExternalURL sets the configured external URL (server.external_url);
// without one, systeminfo derives it from each request.
func WithExternalURL(u string) Option { return func(s *system) { s.externalURL = u } }

// WithCARoot says whether /api/v2.0/systeminfo/getcert offers a CA.
func WithCARoot(has bool) Option { return func(s *system) { s.hasCARoot = has } }

// WithStorageProvider names the blob store in systeminfo ("filesystem").
func WithStorageProvider(name string) Option { return func(s *system) { s.storageName = name } }

// WithVolumes measures the volume that holds the data for
// /systeminfo/volumes; without it the endpoint answers 404.
func WithVolumes(fn func() (total, free uint64, err error)) Option {
	return func(s *system) { s.volumes = fn }
}

// WithHealthCheck adds a component to /health; fn returns nil when the
// component is healthy. The database is always checked.
func WithHealthCheck(name string, fn func(context.Context) error) Option {
	return func(s *system) { s.checks = append(s.checks, healthCheck{name, fn}) }
}

// Configure applies opts; the assembling code calls it once, before
// serving, for facts it learns after the handler is built.
func (h *Handler) Configure(opts ...Option) {
	for _, o := range opts {
		o(&h.sys)
	}
	if h.sys.storageName == "" {
		h.sys.storageName = "filesystem"
	}
}

// writable refuses the API's content changes (repository, artifact and
// tag writes) while the registry is read-only, as Harbor's read-only mode
// does; labels, like every other setting, stay editable.
func (h *Handler) writable(r *http.Request, path string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !strings.HasPrefix(path, "/projects/{project}/repositories") || strings.Contains(path, "/labels") {
		return nil
	}
	if h.acc.ReadOnly(r.Context()) {
		return access.ErrReadOnly()
	}
	return nil
}

func (h *Handler) routesSystem() {
	h.handle("GET /systeminfo/volumes", h.systemVolumes)
	h.handle("GET /statistics", h.statistics)
	h.handle("GET /health", h.health)
}

// storageJSON is Harbor's Storage; systemVolumesJSON its SystemInfo.
type storageJSON struct {
	Total uint64 `json:"total"`
	Free  uint64 `json:"free"`
}

type systemVolumesJSON struct {
	Storage []storageJSON `json:"storage"`
}

// systemVolumes is GET /systeminfo/volumes: the size and free space of
// the volume holding the data, for system administrators (and robots
// granted system-volumes read).
func (h *Handler) systemVolumes(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if !h.acc.CanSystem(p, "system-volumes", access.ActRead) {
		h.fail(w, r, denied(p, "read system volumes"))
		return
	}
	if h.sys.volumes == nil {
		h.fail(w, r, errs.New(errs.NotFound, "NOT_FOUND", "volume information is not available for this storage"))
		return
	}
	total, free, err := h.sys.volumes()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, systemVolumesJSON{Storage: []storageJSON{{Total: total, Free: free}}})
}

// statisticJSON is Harbor's Statistic.
type statisticJSON struct {
	PrivateProjectCount     int64 `json:"private_project_count"`
	PrivateRepoCount        int64 `json:"private_repo_count"`
	PublicProjectCount      int64 `json:"public_project_count"`
	PublicRepoCount         int64 `json:"public_repo_count"`
	TotalProjectCount       int64 `json:"total_project_count"`
	TotalRepoCount          int64 `json:"total_repo_count"`
	TotalStorageConsumption int64 `json:"total_storage_consumption"`
}

func (h *Handler) statistics(w http.ResponseWriter, r *http.Request, p access.Principal) {
	st, err := h.acc.Statistics(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statisticJSON{
		PrivateProjectCount: st.PrivateProjects, PrivateRepoCount: st.PrivateRepos,
		PublicProjectCount: st.PublicProjects, PublicRepoCount: st.PublicRepos,
		TotalProjectCount: st.TotalProjects, TotalRepoCount: st.TotalRepos,
		TotalStorageConsumption: st.TotalStorage,
	})
}

// Health statuses, as Harbor spells them.
const (
	healthy   = "healthy"
	unhealthy = "unhealthy"
)

// componentJSON is Harbor's ComponentHealthStatus; healthJSON its
// OverallHealthStatus.
type componentJSON struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

type healthJSON struct {
	Status     string          `json:"status"`
	Components []componentJSON `json:"components"`
}

// health is GET /health, open to anyone: each component is checked with a
// short timeout; the whole is healthy only when every component is. It
// answers 200 either way, as Harbor does; /readyz is the probe that fails.
func (h *Handler) health(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	checks := append([]healthCheck{{"database", h.acc.DB().Ping}}, h.sys.checks...)
	out := healthJSON{Status: healthy, Components: make([]componentJSON, len(checks))}
	for i, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		err := c.fn(ctx)
		cancel()
		out.Components[i] = componentJSON{Name: c.name, Status: healthy}
		if err != nil {
			h.log.Warn("health check failed", "component", c.name, "err", err)
			out.Status = unhealthy
			out.Components[i].Status = unhealthy
			out.Components[i].Error = c.name + " is unreachable"
		}
	}
	writeJSON(w, http.StatusOK, out)
}
