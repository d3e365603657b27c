package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /labels API and the labels of artifacts. Who may do what is
// access's decision.

// labelJSON is Harbor's Label.
type labelJSON struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Color        string    `json:"color"`
	Scope        string    `json:"scope"`
	ProjectID    int64     `json:"project_id"`
	CreationTime time.Time `json:"creation_time"`
	UpdateTime   time.Time `json:"update_time"`
}

// toLabelJSON converts a stored label; the artifact listing uses it too.
func toLabelJSON(l meta.Label) labelJSON {
	return labelJSON{ID: l.ID, Name: l.Name, Description: l.Description, Color: l.Color, Scope: l.Scope,
		ProjectID: l.ProjectID, CreationTime: l.CreatedAt.UTC(), UpdateTime: l.UpdatedAt.UTC()}
}

// labelReqJSON is the request form of Label: what is sent is read, the
// rest (ids and times of an object read back) is ignored.
type labelReqJSON struct {
	ID           int64      `json:"id"`
	Name         string     `json:"name"`
	Description  string     `json:"description"`
	Color        string     `json:"color"`
	Scope        string     `json:"scope"`
	ProjectID    int64      `json:"project_id"`
	CreationTime *time.Time `json:"creation_time"`
	UpdateTime   *time.Time `json:"update_time"`
	Deleted      bool       `json:"deleted"` // Harbor's legacy field, ignored
}

func (b labelReqJSON) spec() access.LabelSpec {
	return access.LabelSpec{Name: b.Name, Description: b.Description, Color: b.Color, Scope: b.Scope, ProjectID: b.ProjectID}
}

func (h *Handler) routesLabels() {
	h.handle("GET /labels", h.listLabels)
	h.handle("POST /labels", h.createLabel)
	h.handle("GET /labels/{label_id}", h.getLabel)
	h.handle("PUT /labels/{label_id}", h.updateLabel)
	h.handle("DELETE /labels/{label_id}", h.deleteLabel)
	const artifact = "/projects/{project}/repositories/{repository}/artifacts/{reference}"
	h.handle("POST "+artifact+"/labels", h.addArtifactLabel)
	h.handle("DELETE "+artifact+"/labels/{label_id}", h.removeArtifactLabel)
}

func (h *Handler) listLabels(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	lq := access.LabelQuery{Scope: q.Get("scope"), Name: q.Get("name")}
	if s := q.Get("project_id"); s != "" {
		if lq.ProjectID, err = strconv.ParseInt(s, 10, 64); err != nil {
			h.fail(w, r, errs.New(errs.Invalid, "", "project_id must be an integer, got %q", truncate(s)))
			return
		}
	}
	labels, total, err := h.acc.ListLabels(r.Context(), p, o, lq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]labelJSON, len(labels))
	for i, l := range labels {
		out[i] = toLabelJSON(l)
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) createLabel(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var body labelReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := h.acc.CreateLabel(r.Context(), p, auth.Source(r), body.spec())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, Prefix+"/labels/"+strconv.FormatInt(l.ID, 10), nil)
}

func (h *Handler) getLabel(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "label_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	l, err := h.acc.GetLabel(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toLabelJSON(l))
}

func (h *Handler) updateLabel(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "label_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body labelReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.UpdateLabel(r.Context(), p, auth.Source(r), id, body.spec()); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) deleteLabel(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "label_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.DeleteLabel(r.Context(), p, auth.Source(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

// artifactRef reads {project}, {repository} (double-encoded) and
// {reference} of an artifact path.
func artifactRef(r *http.Request) (access.ArtifactRef, error) {
	repo, err := repositoryName(r)
	if err != nil {
		return access.ArtifactRef{}, err
	}
	return access.ArtifactRef{Project: r.PathValue("project"), Repository: repo, Reference: r.PathValue("reference")}, nil
}

// addArtifactLabel is POST …/artifacts/{reference}/labels {"id": N}; it
// answers 200, as Harbor does.
func (h *Handler) addArtifactLabel(w http.ResponseWriter, r *http.Request, p access.Principal) {
	a, err := artifactRef(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body labelReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.AddArtifactLabel(r.Context(), p, auth.Source(r), a, body.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) removeArtifactLabel(w http.ResponseWriter, r *http.Request, p access.Principal) {
	a, err := artifactRef(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := pathInt(r, "label_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.RemoveArtifactLabel(r.Context(), p, auth.Source(r), a, id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
