package api

import (
	"net/http"
	"net/url"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's repository API. Who may act is access's decision; what a
// delete removes is registry's.

func (h *Handler) routesRepositories() {
	h.handle("DELETE /projects/{project}/repositories/{repository}", h.deleteRepository)
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
	ctx := r.Context()
	name := r.PathValue("project")
	what := action + " " + resource + " in project " + truncate(name)
	pr, err := h.acc.DB().Q().GetProjectByName(ctx, name)
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
