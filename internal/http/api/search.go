package api

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /search: projects and repositories whose names contain the
// query, among those the caller may see.

func (h *Handler) routesSearch() {
	h.handle("GET /search", h.search)
}

// searchLimit caps each half of a search answer: it is a quick lookup,
// not a listing (listings page).
const searchLimit = 100

// searchJSON is Harbor's Search.
type searchJSON struct {
	Project    []projectJSON          `json:"project"`
	Repository []searchRepositoryJSON `json:"repository"`
}

// searchRepositoryJSON is Harbor's SearchRepository.
type searchRepositoryJSON struct {
	ProjectID      int64  `json:"project_id"`
	ProjectName    string `json:"project_name"`
	ProjectPublic  bool   `json:"project_public"`
	RepositoryName string `json:"repository_name"`
	PullCount      int64  `json:"pull_count"`
	ArtifactCount  int64  `json:"artifact_count"`
}

// search is GET /search?q=…: a fuzzy match on project names and on full
// repository names, up to searchLimit of each, in name order.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	term := strings.TrimSpace(r.URL.Query().Get("q"))
	if term == "" {
		h.fail(w, r, errs.New(errs.Invalid, "", "q, the text to search for, is required"))
		return
	}
	projects, _, err := h.acc.ListProjects(ctx, p, meta.ListOptions{Page: 1, PageSize: searchLimit},
		access.ProjectQuery{Name: term})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, err := h.acc.VisibleProjects(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	repos, _, err := h.reg.ListVisibleRepositories(ctx, meta.ListOptions{Page: 1, PageSize: searchLimit,
		Query: []meta.Cond{{Key: "name", Op: "~", Values: []string{term}}}}, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := searchJSON{Project: make([]projectJSON, 0, len(projects)), Repository: make([]searchRepositoryJSON, 0, len(repos))}
	for _, v := range projects {
		out.Project = append(out.Project, toProjectJSON(v))
	}
	for _, repo := range repos {
		out.Repository = append(out.Repository, searchRepositoryJSON{
			ProjectID: repo.ProjectID, ProjectName: repo.ProjectName, ProjectPublic: repo.ProjectPublic,
			RepositoryName: repo.Name, PullCount: repo.PullCount, ArtifactCount: repo.ArtifactCount,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
