package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's tag API on one artifact: …/artifacts/{reference}/tags.

func (h *Handler) routesTags() {
	h.handle("GET "+artifactsPath+"/{reference}/tags", h.listTags)
	h.handle("POST "+artifactsPath+"/{reference}/tags", h.createTag)
	h.handle("DELETE "+artifactsPath+"/{reference}/tags/{tag}", h.deleteTag)
}

// tagJSON is Harbor's Tag. berth has no immutable tag rules yet, so
// immutable is always false.
type tagJSON struct {
	ID           int64     `json:"id"`
	RepositoryID int64     `json:"repository_id"`
	ArtifactID   int64     `json:"artifact_id"`
	Name         string    `json:"name"`
	PushTime     time.Time `json:"push_time"`
	PullTime     time.Time `json:"pull_time"`
	Immutable    bool      `json:"immutable"`
}

func toTagJSON(t meta.TagInfo) tagJSON {
	out := tagJSON{ID: t.ID, RepositoryID: t.RepoID, ArtifactID: t.ArtifactID, Name: t.Name,
		PushTime: t.PushedAt.UTC(), PullTime: t.PulledAt.UTC()}
	return out
}

// newTagJSON is Harbor's NewTag. Older clients send a whole Tag; its
// other fields are accepted and ignored.
type newTagJSON struct {
	Name         string          `json:"name"`
	ID           json.RawMessage `json:"id"`
	RepositoryID json.RawMessage `json:"repository_id"`
	ArtifactID   json.RawMessage `json:"artifact_id"`
	PushTime     json.RawMessage `json:"push_time"`
	PullTime     json.RawMessage `json:"pull_time"`
	Immutable    json.RawMessage `json:"immutable"`
}

// listTags is GET …/artifacts/{reference}/tags.
func (h *Handler) listTags(w http.ResponseWriter, r *http.Request, p access.Principal) {
	_, name, err := h.repositoryScope(r, p, access.ResTag, access.ActList)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := boolParam(r, "with_immutable_status", false); err != nil {
		h.fail(w, r, err)
		return
	}
	tags, total, err := h.reg.ListArtifactTags(r.Context(), name, r.PathValue("reference"), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]tagJSON, 0, len(tags))
	for _, t := range tags {
		out = append(out, toTagJSON(t))
	}
	writePage(w, r, o, total, out)
}

// createTag is POST …/artifacts/{reference}/tags: 201 without a Location,
// as in Harbor; 409 when the repository already has a tag of that name.
func (h *Handler) createTag(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	project, name, err := h.repositoryScope(r, p, access.ResTag, access.ActCreate)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body newTagJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	t, err := h.reg.CreateArtifactTag(ctx, name, r.PathValue("reference"), body.Name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.acc.Audit(ctx, meta.AuditLog{
		ProjectID: project.ID, Username: p.Name(), Resource: name + ":" + t.Name, ResourceType: "tag",
		Operation: "create", SourceIP: auth.Source(r), Detail: "on " + string(t.Digest),
	})
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// deleteTag is DELETE …/artifacts/{reference}/tags/{tag_name}: only the
// tag goes; the artifact stays, untagged if it was its last tag.
func (h *Handler) deleteTag(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	project, name, err := h.repositoryScope(r, p, access.ResTag, access.ActDelete)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tag := r.PathValue("tag")
	if err := h.reg.DeleteArtifactTag(ctx, name, r.PathValue("reference"), tag); err != nil {
		h.fail(w, r, err)
		return
	}
	h.acc.Audit(ctx, meta.AuditLog{
		ProjectID: project.ID, Username: p.Name(), Resource: name + ":" + tag, ResourceType: "tag",
		Operation: "delete", SourceIP: auth.Source(r),
	})
	ok(w)
}
