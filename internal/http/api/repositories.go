package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's repository API. Who may act is access's decision; what a
// delete removes is registry's.

func (h *Handler) routesRepositories() {
	h.handle("GET /repositories", h.listAllRepositories)
	h.handle("GET /projects/{project}/repositories", h.listRepositories)
	h.handle("GET /projects/{project}/repositories/{repository}", h.getRepository)
	h.handle("PUT /projects/{project}/repositories/{repository}", h.updateRepository)
	h.handle("DELETE /projects/{project}/repositories/{repository}", h.deleteRepository)
}

// repositoryJSON is Harbor's Repository. The description is shown as
// stored: HTML-escaped when it was set.
type repositoryJSON struct {
	ID            int64     `json:"id"`
	ProjectID     int64     `json:"project_id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	ArtifactCount int64     `json:"artifact_count"`
	PullCount     int64     `json:"pull_count"`
	CreationTime  time.Time `json:"creation_time"`
	UpdateTime    time.Time `json:"update_time"`
}

func toRepositoryJSON(r meta.RepoInfo, projectID int64) repositoryJSON {
	return repositoryJSON{ID: r.ID, ProjectID: projectID, Name: r.Name, Description: r.Description,
		ArtifactCount: r.ArtifactCount, PullCount: r.PullCount,
		CreationTime: r.CreatedAt.UTC(), UpdateTime: r.UpdatedAt.UTC()}
}

// repositoryReqJSON is Harbor's Repository as a request body: every field
// is accepted, only the description is used.
type repositoryReqJSON struct {
	Description   *string         `json:"description"`
	ID            json.RawMessage `json:"id"`
	ProjectID     json.RawMessage `json:"project_id"`
	Name          json.RawMessage `json:"name"`
	ArtifactCount json.RawMessage `json:"artifact_count"`
	PullCount     json.RawMessage `json:"pull_count"`
	CreationTime  json.RawMessage `json:"creation_time"`
	UpdateTime    json.RawMessage `json:"update_time"`
}

// listAllRepositories is GET /repositories: the repositories of every
// project the caller may see, in one query whatever their number.
func (h *Handler) listAllRepositories(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, err := h.acc.VisibleProjects(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	repos, total, err := h.reg.ListVisibleRepositories(ctx, o, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]repositoryJSON, 0, len(repos))
	for _, repo := range repos {
		out = append(out, toRepositoryJSON(repo, repo.ProjectID))
	}
	writePage(w, r, o, total, out)
}

// listRepositories is GET /projects/{project_name}/repositories.
func (h *Handler) listRepositories(w http.ResponseWriter, r *http.Request, p access.Principal) {
	project, err := h.authorizeRepository(r, p, access.ResRepository, access.ActList)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	repos, total, err := h.reg.ListRepositories(r.Context(), project.Name, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]repositoryJSON, 0, len(repos))
	for _, repo := range repos {
		out = append(out, toRepositoryJSON(repo, project.ID))
	}
	writePage(w, r, o, total, out)
}

// getRepository is GET /projects/{project_name}/repositories/{repository_name}.
// Harbor asks for repository:list here, which public projects grant.
func (h *Handler) getRepository(w http.ResponseWriter, r *http.Request, p access.Principal) {
	project, name, err := h.repositoryScope(r, p, access.ResRepository, access.ActList)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	repo, err := h.reg.Repository(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRepositoryJSON(repo, project.ID))
}

// updateRepository is PUT /projects/{project_name}/repositories/{repository_name}:
// only the description changes (a missing one clears it).
func (h *Handler) updateRepository(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	project, name, err := h.repositoryScope(r, p, access.ResRepository, access.ActUpdate)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body repositoryReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	desc := ""
	if body.Description != nil {
		desc = *body.Description
	}
	if err := h.reg.SetRepositoryDescription(ctx, name, desc); err != nil {
		h.fail(w, r, err)
		return
	}
	h.acc.Audit(ctx, meta.AuditLog{
		ProjectID: project.ID, Username: p.Name(), Resource: name, ResourceType: "repository",
		Operation: "update", SourceIP: auth.Source(r),
	})
	ok(w)
}

// repositoryScope reads {repository} and checks, as authorizeRepository
// does, that p may do action on resource in {project}. It returns the
// project and the repository's full name.
func (h *Handler) repositoryScope(r *http.Request, p access.Principal, resource, action string) (meta.Project, string, error) {
	repo, err := repositoryName(r)
	if err != nil {
		return meta.Project{}, "", err
	}
	project, err := h.authorizeRepository(r, p, resource, action)
	if err != nil {
		return meta.Project{}, "", err
	}
	return project, project.Name + "/" + repo, nil
}

// repositoryName reads {repository}, which excludes the project and
// arrives with a '/' inside it double-encoded ("a%252Fb"): the router has
// undone one encoding, this undoes the other. A name sent single-encoded
// ("a%2Fb") comes out the same.
func repositoryName(r *http.Request) (string, error) {
	s := r.PathValue("repository")
	name, err := url.PathUnescape(s)
	if err != nil || name == "" {
		return "", errs.New(errs.Invalid, "", "invalid repository name %q", truncate(s))
	}
	return name, nil
}

// authorizeRepository loads the project named by {project} (always a
// name in Harbor's repository paths, never an ID) and checks that p may do
// action on resource in it. The permission alone decides: a robot granted
// repository:delete needs no project:read. A missing project is refused
// like a private one to everyone but system administrators, so names do
// not leak.
//
// TODO: this restates access's own authorizeProject; call it once access
// exports it.
func (h *Handler) authorizeRepository(r *http.Request, p access.Principal, resource, action string) (meta.Project, error) {
	return h.authorizeProjectName(r, p, r.PathValue("project"), resource, action)
}

// authorizeProjectName is authorizeRepository for a project named
// elsewhere than in the path (the source of a copy).
func (h *Handler) authorizeProjectName(r *http.Request, p access.Principal, name, resource, action string) (meta.Project, error) {
	ctx := r.Context()
	what := action + " " + resource + " in project " + truncate(name)
	var pr meta.Project
	var err error
	if access.CheckProjectName(name) != nil {
		// Not a name any project can have (nor one the store can take).
		err = errs.New(errs.NotFound, "", "project %s not found", truncate(name))
	} else {
		pr, err = h.acc.DB().Q().GetProjectByName(ctx, name)
	}
	switch {
	case errs.Is(err, errs.NotFound) && p.SysAdmin:
		return meta.Project{}, errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", truncate(name))
	case errs.Is(err, errs.NotFound):
		return meta.Project{}, denied(p, what)
	case err != nil:
		return meta.Project{}, err
	}
	allowed, err := h.acc.Can(ctx, p, pr, resource, action)
	if err != nil {
		return meta.Project{}, err
	}
	if !allowed {
		return meta.Project{}, denied(p, what)
	}
	return pr, nil
}

// deleteRepository is DELETE /projects/{project_name}/repositories/{repository_name}:
// every artifact and tag of the repository goes, then the repository;
// the bytes stay for garbage collection. As in Harbor the permission is
// checked before the repository is looked up, so callers who may not
// delete learn nothing about what exists.
func (h *Handler) deleteRepository(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	repo, err := repositoryName(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	project, err := h.authorizeRepository(r, p, access.ResRepository, access.ActDelete)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := project.Name + "/" + repo
	if err := h.reg.DeleteRepository(ctx, name); err != nil {
		h.fail(w, r, err)
		return
	}
	h.acc.Audit(ctx, meta.AuditLog{
		ProjectID: project.ID, Username: p.Name(), Resource: name, ResourceType: "repository",
		Operation: "delete", SourceIP: auth.Source(r),
	})
	ok(w)
}
