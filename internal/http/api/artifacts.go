package api

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scanjob"
)

// Harbor's artifact API under /projects/{project_name}/repositories/
// {repository_name}/artifacts: list, get, delete, copy, additions and
// accessories (tags are in tags.go). What an artifact is made of is
// registry's business; these handlers translate it to Harbor's JSON.

const artifactsPath = "/projects/{project}/repositories/{repository}/artifacts"

func (h *Handler) routesArtifacts() {
	h.handle("GET "+artifactsPath, h.listArtifacts)
	h.handle("POST "+artifactsPath, h.copyArtifact)
	h.handle("GET "+artifactsPath+"/{reference}", h.getArtifact)
	h.handle("DELETE "+artifactsPath+"/{reference}", h.deleteArtifact)
	h.handle("GET "+artifactsPath+"/{reference}/additions/{addition}", h.getAddition)
	h.handle("GET "+artifactsPath+"/{reference}/accessories", h.listAccessories)
	h.routesTags()
}

// artifactJSON is Harbor's Artifact. Tags, labels and accessories are
// present when asked for (with_tag, on by default; with_label;
// with_accessory), as empty lists when there are none.
type artifactJSON struct {
	ID                int64                       `json:"id"`
	Type              string                      `json:"type"`
	MediaType         string                      `json:"media_type"`
	ManifestMediaType string                      `json:"manifest_media_type"`
	ArtifactType      string                      `json:"artifact_type"`
	ProjectID         int64                       `json:"project_id"`
	RepositoryID      int64                       `json:"repository_id"`
	RepositoryName    string                      `json:"repository_name"`
	Digest            string                      `json:"digest"`
	Size              int64                       `json:"size"`
	PushTime          time.Time                   `json:"push_time"`
	PullTime          time.Time                   `json:"pull_time"`
	ExtraAttrs        map[string]any              `json:"extra_attrs"`
	Annotations       map[string]string           `json:"annotations,omitempty"`
	References        []referenceJSON             `json:"references,omitempty"`
	Tags              *[]tagJSON                  `json:"tags,omitempty"`
	AdditionLinks     map[string]additionLinkJSON `json:"addition_links,omitempty"`
	Labels            *[]artifactLabelJSON        `json:"labels,omitempty"`
	Accessories       *[]accessoryJSON            `json:"accessories,omitempty"`
	Inherited         *[]accessoryJSON            `json:"inherited_accessories,omitempty"`
	// Harbor's scan_overview (by report MIME type) and sbom_overview,
	// when asked for (scan_artifacts.go).
	ScanOverview map[string]scanjob.NativeReportSummary `json:"scan_overview,omitempty"`
	SBOMOverview *scanjob.SBOMOverview                  `json:"sbom_overview,omitempty"`
}

// referenceJSON is Harbor's Reference: one child of an index.
type referenceJSON struct {
	ParentID    int64             `json:"parent_id"`
	ChildID     int64             `json:"child_id"`
	ChildDigest string            `json:"child_digest"`
	Platform    *platformJSON     `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	URLs        []string          `json:"urls,omitempty"`
}

// platformJSON is Harbor's Platform. Its swagger spells two keys with
// quotes inside them, and Harbor sends them so; berth does the same.
type platformJSON struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"'os.version',omitempty"`
	OSFeatures   []string `json:"'os.features',omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// additionLinkJSON is Harbor's AdditionLink.
type additionLinkJSON struct {
	Href     string `json:"href"`
	Absolute bool   `json:"absolute"`
}

// accessoryJSON is Harbor's Accessory. Its id is the accessory's own
// artifact id (berth keeps no separate accessory rows).
type accessoryJSON struct {
	ID                    int64     `json:"id"`
	ArtifactID            int64     `json:"artifact_id"`
	SubjectArtifactID     int64     `json:"subject_artifact_id"`
	SubjectArtifactDigest string    `json:"subject_artifact_digest"`
	SubjectArtifactRepo   string    `json:"subject_artifact_repo"`
	Size                  int64     `json:"size"`
	Digest                string    `json:"digest"`
	Type                  string    `json:"type"`
	Icon                  string    `json:"icon"`
	CreationTime          time.Time `json:"creation_time"`
}

// artifactLabelJSON is Harbor's Label as an artifact carries it.
type artifactLabelJSON struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Color        string    `json:"color"`
	Scope        string    `json:"scope"`
	ProjectID    int64     `json:"project_id"`
	CreationTime time.Time `json:"creation_time"`
	UpdateTime   time.Time `json:"update_time"`
}

// escapeRepo escapes a repository name (without its project) as Harbor's
// paths take it: a '/' becomes "%252F".
func escapeRepo(repo string) string { return url.PathEscape(url.PathEscape(repo)) }

func toAccessoryJSON(a registry.Accessory) accessoryJSON {
	return accessoryJSON{ID: a.ID, ArtifactID: a.ID, SubjectArtifactID: a.SubjectID,
		SubjectArtifactDigest: string(a.SubjectDigest), SubjectArtifactRepo: a.Repo, Size: a.Size,
		Digest: string(a.Digest), Type: a.Type, CreationTime: a.CreatedAt.UTC()}
}

func toArtifactJSON(a registry.Artifact, project meta.Project) artifactJSON {
	out := artifactJSON{
		ID: a.ID, Type: a.Kind, MediaType: a.ConfigMediaType, ManifestMediaType: a.MediaType,
		ArtifactType: a.ArtifactType, ProjectID: project.ID, RepositoryID: a.RepoID, RepositoryName: a.Repo,
		Digest: string(a.Digest), Size: a.TotalSize, PushTime: a.CreatedAt.UTC(), PullTime: a.PulledAt.UTC(),
		ExtraAttrs: a.Extra, Annotations: a.Annotations,
	}
	if out.ArtifactType == "" {
		out.ArtifactType = out.MediaType
	}
	if out.ExtraAttrs == nil {
		out.ExtraAttrs = map[string]any{}
	}
	for _, r := range a.References {
		ref := referenceJSON{ParentID: r.ParentID, ChildID: r.ChildID, ChildDigest: string(r.ChildDigest),
			Annotations: r.Annotations, URLs: r.URLs}
		if p := r.Platform; p != nil {
			ref.Platform = &platformJSON{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion,
				OSFeatures: p.OSFeatures, Variant: p.Variant}
		}
		out.References = append(out.References, ref)
	}
	if a.Tags != nil {
		tags := make([]tagJSON, 0, len(a.Tags))
		for _, t := range a.Tags {
			tags = append(tags, toTagJSON(t))
		}
		out.Tags = &tags
	}
	if a.Labels != nil {
		labels := make([]artifactLabelJSON, 0, len(a.Labels))
		for _, l := range a.Labels {
			labels = append(labels, artifactLabelJSON{ID: l.ID, Name: l.Name, Description: l.Description,
				Color: l.Color, Scope: l.Scope, ProjectID: l.ProjectID,
				CreationTime: l.CreatedAt.UTC(), UpdateTime: l.UpdatedAt.UTC()})
		}
		out.Labels = &labels
	}
	if a.Accessories != nil {
		accs := make([]accessoryJSON, 0, len(a.Accessories))
		for _, acc := range a.Accessories {
			accs = append(accs, toAccessoryJSON(acc))
		}
		out.Accessories = &accs
	}
	if a.Inherited != nil {
		accs := make([]accessoryJSON, 0, len(a.Inherited))
		for _, acc := range a.Inherited {
			accs = append(accs, toAccessoryJSON(acc))
		}
		out.Inherited = &accs
	}
	if len(a.Additions) > 0 {
		repo := strings.TrimPrefix(a.Repo, project.Name+"/")
		out.AdditionLinks = map[string]additionLinkJSON{}
		for _, name := range a.Additions {
			out.AdditionLinks[name] = additionLinkJSON{
				Href: Prefix + "/projects/" + project.Name + "/repositories/" + escapeRepo(repo) +
					"/artifacts/" + string(a.Digest) + "/additions/" + name,
			}
		}
	}
	return out
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errs.New(errs.Invalid, "", "%s must be true or false, got %q", name, truncate(s))
	}
	return b, nil
}

// artifactOptions reads with_tag (default true), with_label,
// with_accessory and with_inherited_accessory. Harbor's other flags (with_scan_overview,
// with_signature, with_immutable_status, …) are checked and accepted;
// the scan overviews are added by addOverviews.
func artifactOptions(r *http.Request) (registry.ArtifactOptions, error) {
	var o registry.ArtifactOptions
	var err error
	if o.WithTags, err = boolParam(r, "with_tag", true); err != nil {
		return o, err
	}
	if o.WithLabels, err = boolParam(r, "with_label", false); err != nil {
		return o, err
	}
	if o.WithAccessories, err = boolParam(r, "with_accessory", false); err != nil {
		return o, err
	}
	if o.WithInherited, err = boolParam(r, "with_inherited_accessory", false); err != nil {
		return o, err
	}
	for _, f := range []string{"with_scan_overview", "with_sbom_overview", "with_signature",
		"with_immutable_status"} {
		if _, err := boolParam(r, f, false); err != nil {
			return o, err
		}
	}
	return o, nil
}

// listArtifacts is GET …/artifacts.
func (h *Handler) listArtifacts(w http.ResponseWriter, r *http.Request, p access.Principal) {
	project, name, err := h.repositoryScope(r, p, access.ResArtifact, access.ActList)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := artifactOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	arts, total, err := h.reg.ListArtifacts(r.Context(), name, o, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]artifactJSON, 0, len(arts))
	for _, a := range arts {
		out = append(out, toArtifactJSON(a, project))
	}
	if err := h.addOverviews(r, name, arts, out); err != nil {
		h.fail(w, r, err)
		return
	}
	writePage(w, r, o, total, out)
}

// getArtifact is GET …/artifacts/{reference}, a tag or a digest.
func (h *Handler) getArtifact(w http.ResponseWriter, r *http.Request, p access.Principal) {
	project, name, err := h.repositoryScope(r, p, access.ResArtifact, access.ActRead)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := artifactOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a, err := h.reg.GetArtifact(r.Context(), name, r.PathValue("reference"), opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := []artifactJSON{toArtifactJSON(a, project)}
	if err := h.addOverviews(r, name, []registry.Artifact{a}, out); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}

// deleteArtifact is DELETE …/artifacts/{reference}: the artifact, every
// tag on it, its accessories and the index children nothing else holds.
// A child of an index is refused with 412, as Harbor does. The bytes stay
// for garbage collection.
func (h *Handler) deleteArtifact(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	project, name, err := h.repositoryScope(r, p, access.ResArtifact, access.ActDelete)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.reg.DeleteArtifact(ctx, name, r.PathValue("reference"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	detail := ""
	if len(res.Tags) > 0 {
		detail = "tags " + strings.Join(res.Tags, ",")
	}
	h.acc.Audit(ctx, meta.AuditLog{
		ProjectID: project.ID, Username: p.Name(), Resource: name + "@" + string(res.Digest),
		ResourceType: "artifact", Operation: "delete", SourceIP: auth.Source(r), Detail: detail,
	})
	ok(w)
}

// copyArtifact is POST …/artifacts?from=project/repo:tag (or @digest):
// artifact:create here, artifact:read where it comes from, as in Harbor.
func (h *Handler) copyArtifact(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	project, name, err := h.repositoryScope(r, p, access.ResArtifact, access.ActCreate)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	from := r.URL.Query().Get("from")
	if from == "" {
		h.fail(w, r, errs.New(errs.Invalid, "", `the "from" parameter is required: "project/repository:tag" or "project/repository@digest"`))
		return
	}
	srcRepo, ref, err := registry.ParseArtifactRef(from)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.authorizeProjectName(r, p, access.ProjectOf(srcRepo), access.ResArtifact, access.ActRead); err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.reg.CopyArtifact(ctx, srcRepo, ref, name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.acc.Audit(ctx, meta.AuditLog{
		ProjectID: project.ID, Username: p.Name(), Resource: name + "@" + string(d),
		ResourceType: "artifact", Operation: "create", SourceIP: auth.Source(r), Detail: "copied from " + from,
	})
	created(w, strings.TrimSuffix(r.URL.EscapedPath(), "/")+"/"+ref, nil)
}

// getAddition is GET …/artifacts/{reference}/additions/{addition}: the
// raw content with its own Content-Type.
func (h *Handler) getAddition(w http.ResponseWriter, r *http.Request, p access.Principal) {
	_, name, err := h.repositoryScope(r, p, access.ResArtifactAddition, access.ActRead)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if r.PathValue("addition") == "vulnerabilities" {
		h.vulnerabilities(w, r, p, name)
		return
	}
	add, err := h.reg.Addition(r.Context(), name, r.PathValue("reference"), r.PathValue("addition"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", add.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(add.Content)))
	if add.Filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": add.Filename}))
		w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(add.Content)
}

// listAccessories is GET …/artifacts/{reference}/accessories.
func (h *Handler) listAccessories(w http.ResponseWriter, r *http.Request, p access.Principal) {
	_, name, err := h.repositoryScope(r, p, access.ResAccessory, access.ActList)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(o.Query) > 0 || len(o.Sort) > 0 {
		h.fail(w, r, errs.New(errs.Invalid, "", "accessories take no q or sort; they come in digest order"))
		return
	}
	accs, total, err := h.reg.ListAccessories(r.Context(), name, r.PathValue("reference"), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]accessoryJSON, 0, len(accs))
	for _, a := range accs {
		out = append(out, toAccessoryJSON(a))
	}
	writePage(w, r, o, total, out)
}
