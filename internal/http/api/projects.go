package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
)

// Harbor's /projects API. The rules (names, metadata, visibility, who may
// do what) are access's; these handlers only translate JSON.

// projectJSON is Harbor's Project.
type projectJSON struct {
	ProjectID          int64             `json:"project_id"`
	Name               string            `json:"name"`
	OwnerID            int64             `json:"owner_id"`
	OwnerName          string            `json:"owner_name"`
	CreationTime       time.Time         `json:"creation_time"`
	UpdateTime         time.Time         `json:"update_time"`
	Deleted            bool              `json:"deleted"`
	RepoCount          int               `json:"repo_count"`
	CurrentUserRoleID  int               `json:"current_user_role_id"`
	CurrentUserRoleIDs []int             `json:"current_user_role_ids"`
	Togglable          bool              `json:"togglable"`
	RegistryID         int64             `json:"registry_id"`
	Metadata           map[string]string `json:"metadata"`
	CVEAllowlist       cveAllowlistJSON  `json:"cve_allowlist"`
}

func toProjectJSON(v access.ProjectView) projectJSON {
	roles := []int{}
	if v.Role != 0 {
		roles = append(roles, v.Role)
	}
	return projectJSON{
		ProjectID: v.ID, Name: v.Name, OwnerID: v.OwnerID, OwnerName: v.OwnerName,
		CreationTime: v.CreatedAt.UTC(), UpdateTime: v.UpdatedAt.UTC(),
		RepoCount: v.RepoCount, CurrentUserRoleID: v.Role, CurrentUserRoleIDs: roles,
		Togglable: v.Togglable, Metadata: v.PublicMetadata(),
		CVEAllowlist: cveAllowlistJSON{ID: v.ID, ProjectID: v.ID, Items: []cveItemJSON{},
			CreationTime: v.CreatedAt.UTC(), UpdateTime: v.UpdatedAt.UTC()},
	}
}

// projectReqJSON is Harbor's ProjectReq. Metadata values must be strings;
// they are read raw so that a wrong type gets a message naming the key.
type projectReqJSON struct {
	ProjectName  string                     `json:"project_name"`
	Public       *bool                      `json:"public"`
	Metadata     map[string]json.RawMessage `json:"metadata"`
	StorageLimit *int64                     `json:"storage_limit"`
	RegistryID   *int64                     `json:"registry_id"`
	CVEAllowlist json.RawMessage            `json:"cve_allowlist"` // kept by the scan service (scans.go)
}

func (b projectReqJSON) spec() (access.ProjectSpec, error) {
	md, err := stringMap(b.Metadata, "metadata.")
	if err != nil {
		return access.ProjectSpec{}, err
	}
	return access.ProjectSpec{Name: b.ProjectName, Public: b.Public, Metadata: md,
		StorageLimit: b.StorageLimit, RegistryID: b.RegistryID}, nil
}

// stringMap turns a JSON object whose values must be strings (null means
// absent) into a map, naming the first key whose value is not a string.
func stringMap(raw map[string]json.RawMessage, prefix string) (map[string]string, error) {
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, errs.New(errs.Invalid, "", "%s%s must be a string, such as \"true\"", prefix, truncate(k))
		}
		out[k] = s
	}
	return out, nil
}

// projectSummaryJSON is Harbor's ProjectSummary. Member counts are left out
// when the caller may not list members, the quota when it may not read it.
type projectSummaryJSON struct {
	RepoCount         int        `json:"repo_count"`
	ProjectAdminCount *int       `json:"project_admin_count,omitempty"`
	MaintainerCount   *int       `json:"maintainer_count,omitempty"`
	DeveloperCount    *int       `json:"developer_count,omitempty"`
	GuestCount        *int       `json:"guest_count,omitempty"`
	LimitedGuestCount *int       `json:"limited_guest_count,omitempty"`
	Quota             *quotaJSON `json:"quota,omitempty"`
}

// quotaJSON is Harbor's ProjectSummaryQuota.
type quotaJSON struct {
	Hard map[string]int64 `json:"hard"`
	Used map[string]int64 `json:"used"`
}

// projectDeletableJSON is Harbor's ProjectDeletable.
type projectDeletableJSON struct {
	Deletable bool   `json:"deletable"`
	Message   string `json:"message"`
}

func (h *Handler) routesProjects() {
	h.handle("GET /projects", h.listProjects)
	h.handle("HEAD /projects", h.headProject)
	h.handle("POST /projects", h.createProject)
	h.handleProject("GET /projects/{project}", h.getProject)
	h.handleProject("PUT /projects/{project}", h.updateProject)
	h.handleProject("DELETE /projects/{project}", h.deleteProject)
	h.handleProject("GET /projects/{project}/summary", h.projectSummary)
	h.handleProject("GET /projects/{project}/_deletable", h.projectDeletable)
	// Harbor's swagger spells the collection with a trailing slash.
	for _, path := range []string{"/projects/{project}/metadatas", "/projects/{project}/metadatas/{$}"} {
		h.handleProject("GET "+path, h.getProjectMetadata)
		h.handleProject("POST "+path, h.addProjectMetadata)
	}
	h.handleProject("GET /projects/{project}/metadatas/{meta_name}", h.getProjectMetadata)
	h.handleProject("PUT /projects/{project}/metadatas/{meta_name}", h.updateProjectMetadata)
	h.handleProject("DELETE /projects/{project}/metadatas/{meta_name}", h.deleteProjectMetadata)
}

// projectRef reads {project}: an ID when it is an integer, unless the
// X-Is-Resource-Name header says it is a name.
func projectRef(r *http.Request) (access.ProjectRef, error) {
	s := r.PathValue("project")
	isName := false
	if v := r.Header.Get("X-Is-Resource-Name"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return access.ProjectRef{}, errs.New(errs.Invalid, "", "X-Is-Resource-Name must be true or false, got %q", truncate(v))
		}
		isName = b
	}
	if !isName {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			return access.ProjectRef{ID: id}, nil
		}
	}
	return access.ProjectRef{Name: s}, nil
}

func (h *Handler) listProjects(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	public, err := queryBool(r, "public")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := queryBool(r, "with_detail"); err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	views, total, err := h.acc.ListProjects(r.Context(), p, o, access.ProjectQuery{
		Name: q.Get("name"), Public: public, Owner: q.Get("owner"),
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]projectJSON, len(views))
	for i, v := range views {
		out[i] = toProjectJSON(v)
		if err := h.fillAllowlist(r, &out[i]); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) headProject(w http.ResponseWriter, r *http.Request, p access.Principal) {
	exists, err := h.acc.ProjectExists(r.Context(), p, r.URL.Query().Get("project_name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !exists {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ok(w)
}

func (h *Handler) createProject(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var body projectReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	spec, err := body.spec()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	allow, err := parseAllowlist(body.CVEAllowlist)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pr, err := h.acc.CreateProject(r.Context(), p, auth.Source(r), spec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.setProjectAllowlist(r, pr.ID, allow); err != nil {
		h.fail(w, r, err)
		return
	}
	loc := Prefix + "/projects/" + strconv.FormatInt(pr.ID, 10)
	if b, _ := strconv.ParseBool(r.Header.Get("X-Resource-Name-In-Location")); b {
		loc = Prefix + "/projects/" + pr.Name
	}
	created(w, loc, nil)
}

// handleProject registers a route under /projects/{project}; f gets the
// project reference, and a malformed one is answered with 400.
func (h *Handler) handleProject(pattern string, f func(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef)) {
	h.handle(pattern, func(w http.ResponseWriter, r *http.Request, p access.Principal) {
		ref, err := projectRef(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f(w, r, p, ref)
	})
}

func (h *Handler) getProject(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	v, err := h.acc.GetProject(r.Context(), p, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := toProjectJSON(v)
	if err := h.fillAllowlist(r, &out); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) updateProject(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	var body projectReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	spec, err := body.spec()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	allow, err := parseAllowlist(body.CVEAllowlist)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.UpdateProject(r.Context(), p, auth.Source(r), ref, spec); err != nil {
		h.fail(w, r, err)
		return
	}
	if allow != nil {
		v, err := h.acc.GetProject(r.Context(), p, ref)
		if err == nil {
			err = h.setProjectAllowlist(r, v.ID, allow)
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	ok(w)
}

func (h *Handler) deleteProject(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	if err := h.acc.DeleteProject(r.Context(), p, auth.Source(r), ref); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) projectSummary(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	sum, err := h.acc.GetProjectSummary(r.Context(), p, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := projectSummaryJSON{RepoCount: sum.RepoCount}
	if sum.Members != nil {
		count := func(role int) *int { n := sum.Members[role]; return &n }
		out.ProjectAdminCount = count(access.RoleProjectAdmin)
		out.MaintainerCount = count(access.RoleMaintainer)
		out.DeveloperCount = count(access.RoleDeveloper)
		out.GuestCount = count(access.RoleGuest)
		out.LimitedGuestCount = count(access.RoleLimitedGuest)
	}
	if sum.Quota != nil {
		out.Quota = &quotaJSON{
			Hard: map[string]int64{"storage": sum.Quota.Hard},
			Used: map[string]int64{"storage": sum.Quota.Used},
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) projectDeletable(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	yes, why, err := h.acc.ProjectDeletable(r.Context(), p, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, projectDeletableJSON{Deletable: yes, Message: why})
}

func (h *Handler) getProjectMetadata(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	md, err := h.acc.GetProjectMetadata(r.Context(), p, ref, r.PathValue("meta_name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, md)
}

// decodeMetadata reads a metadata body: a JSON object of strings.
func decodeMetadata(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := decode(w, r, &raw); err != nil {
		return nil, err
	}
	return stringMap(raw, "")
}

func (h *Handler) addProjectMetadata(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	md, err := decodeMetadata(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.AddProjectMetadata(r.Context(), p, auth.Source(r), ref, md); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) updateProjectMetadata(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	md, err := decodeMetadata(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.UpdateProjectMetadata(r.Context(), p, auth.Source(r), ref, r.PathValue("meta_name"), md); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) deleteProjectMetadata(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	if err := h.acc.DeleteProjectMetadata(r.Context(), p, auth.Source(r), ref, r.PathValue("meta_name")); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
