package access

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Labels: global labels, which system administrators (and system robots
// granted label permissions) manage and anyone signed in may read, and
// project labels, governed by the project's label permissions; and their
// attachment to artifacts (artifact-label create/delete in the artifact's
// project). Names are unique within a scope.

const (
	maxLabelName  = 128
	maxLabelColor = 32
	maxLabelDesc  = 1024
)

// LabelSpec is a label to create or the new values of one.
type LabelSpec struct {
	Name        string
	Description string
	Color       string
	Scope       string // meta.LabelGlobal or meta.LabelProject; "" picks by ProjectID
	ProjectID   int64
}

func checkLabel(spec LabelSpec) error {
	switch {
	case strings.TrimSpace(spec.Name) == "":
		return errs.New(errs.Invalid, "", "the label name is required")
	case len(spec.Name) > maxLabelName:
		return errs.New(errs.Invalid, "", "the label name is longer than %d characters", maxLabelName)
	case len(spec.Color) > maxLabelColor:
		return errs.New(errs.Invalid, "", "the label color is longer than %d characters", maxLabelColor)
	case len(spec.Description) > maxLabelDesc:
		return errs.New(errs.Invalid, "", "the label description is longer than %d characters", maxLabelDesc)
	}
	for name, v := range map[string]string{"name": spec.Name, "description": spec.Description, "color": spec.Color} {
		if err := checkText("the label "+name, v); err != nil {
			return err
		}
	}
	return nil
}

func labelNotFound(id int64) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "label %d not found", id)
}

// authorizeLabel checks that p may do action on label l: a system label
// permission for global labels, the project's for project labels. Reading
// a global label needs only to be signed in.
func (s *Service) authorizeLabel(ctx context.Context, p Principal, l meta.Label, action string) error {
	what := fmt.Sprintf("%s label %d", action, l.ID)
	if l.Scope == meta.LabelGlobal {
		if action == ActRead || action == ActList {
			if p.IsAnonymous() {
				return forbidden(p, "%s", what)
			}
			return nil
		}
		if !s.CanSystem(p, "label", action) {
			return forbidden(p, "%s", what)
		}
		return nil
	}
	_, err := s.authorizeProject(ctx, p, ProjectRef{ID: l.ProjectID}, ResLabel, action)
	return err
}

// CreateLabel creates a label if p may.
func (s *Service) CreateLabel(ctx context.Context, p Principal, source string, spec LabelSpec) (meta.Label, error) {
	if spec.Scope == "" {
		spec.Scope = meta.LabelGlobal
		if spec.ProjectID > 0 {
			spec.Scope = meta.LabelProject
		}
	}
	switch spec.Scope {
	case meta.LabelGlobal:
		if !s.CanSystem(p, "label", ActCreate) {
			return meta.Label{}, forbidden(p, "create global labels")
		}
		spec.ProjectID = 0
	case meta.LabelProject:
		if spec.ProjectID <= 0 {
			return meta.Label{}, errs.New(errs.Invalid, "", "project_id is required for a project label (scope p)")
		}
		if _, err := s.authorizeProject(ctx, p, ProjectRef{ID: spec.ProjectID}, ResLabel, ActCreate); err != nil {
			return meta.Label{}, err
		}
	default:
		return meta.Label{}, errs.New(errs.Invalid, "", "scope must be g (global) or p (project), got %q", clip(spec.Scope))
	}
	if err := checkLabel(spec); err != nil {
		return meta.Label{}, err
	}
	l, err := s.db.Q().CreateLabel(ctx, meta.Label{Name: spec.Name, Description: spec.Description, Color: spec.Color,
		Scope: spec.Scope, ProjectID: spec.ProjectID})
	switch {
	case errs.Is(err, errs.Conflict):
		return meta.Label{}, errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
	case errs.Is(err, errs.NotFound):
		return meta.Label{}, errs.New(errs.NotFound, "NOT_FOUND", "project %d not found", spec.ProjectID)
	case err != nil:
		return meta.Label{}, err
	}
	s.auditLabel(ctx, p, source, l, "create")
	return l, nil
}

func (s *Service) auditLabel(ctx context.Context, p Principal, source string, l meta.Label, op string) {
	s.Audit(ctx, meta.AuditLog{ProjectID: l.ProjectID, Username: p.Name(), Resource: l.Name, ResourceType: "label",
		Operation: op, SourceIP: source})
}

// loadLabel returns label id if p may do action on it. A label p may not
// see is refused like a missing one would be to anyone but a system
// administrator (no existence leak).
func (s *Service) loadLabel(ctx context.Context, p Principal, id int64, action string) (meta.Label, error) {
	l, err := s.db.Q().GetLabel(ctx, id)
	if errs.Is(err, errs.NotFound) {
		if p.SysAdmin {
			return meta.Label{}, labelNotFound(id)
		}
		return meta.Label{}, forbidden(p, "%s label %d", action, id)
	}
	if err != nil {
		return meta.Label{}, err
	}
	if err := s.authorizeLabel(ctx, p, l, action); err != nil {
		if errs.Is(err, errs.NotFound) {
			return meta.Label{}, labelNotFound(id)
		}
		return meta.Label{}, err
	}
	return l, nil
}

// GetLabel returns label id if p may read it.
func (s *Service) GetLabel(ctx context.Context, p Principal, id int64) (meta.Label, error) {
	return s.loadLabel(ctx, p, id, ActRead)
}

// UpdateLabel changes a label's name, description and color if p may;
// its scope and project never change. Empty strings keep the current
// name; description and color are replaced as given.
func (s *Service) UpdateLabel(ctx context.Context, p Principal, source string, id int64, spec LabelSpec) error {
	l, err := s.loadLabel(ctx, p, id, ActUpdate)
	if err != nil {
		return err
	}
	if spec.Scope != "" && spec.Scope != l.Scope {
		return errs.New(errs.Invalid, "", "a label's scope cannot be changed")
	}
	if spec.ProjectID != 0 && spec.ProjectID != l.ProjectID {
		return errs.New(errs.Invalid, "", "a label's project cannot be changed")
	}
	if spec.Name == "" {
		spec.Name = l.Name
	}
	if err := checkLabel(spec); err != nil {
		return err
	}
	l.Name, l.Description, l.Color = spec.Name, spec.Description, spec.Color
	err = s.db.Q().UpdateLabel(ctx, l)
	switch {
	case errs.Is(err, errs.Conflict):
		return errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
	case errs.Is(err, errs.NotFound):
		return labelNotFound(id)
	case err != nil:
		return err
	}
	s.auditLabel(ctx, p, source, l, "update")
	return nil
}

// DeleteLabel deletes a label, and its attachments to artifacts, if p may.
func (s *Service) DeleteLabel(ctx context.Context, p Principal, source string, id int64) error {
	l, err := s.loadLabel(ctx, p, id, ActDelete)
	if err != nil {
		return err
	}
	if err := s.db.Q().DeleteLabel(ctx, id); err != nil {
		if errs.Is(err, errs.NotFound) {
			return labelNotFound(id)
		}
		return err
	}
	s.auditLabel(ctx, p, source, l, "delete")
	return nil
}

// LabelQuery is GET /labels's own filters besides q.
type LabelQuery struct {
	Scope     string // g (the default) or p
	ProjectID int64  // required with scope p
	Name      string // fuzzy
}

// ListLabels lists the global labels, or one project's, if p may.
func (s *Service) ListLabels(ctx context.Context, p Principal, o meta.ListOptions, lq LabelQuery) ([]meta.Label, int, error) {
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	if err := checkText("name", lq.Name); err != nil {
		return nil, 0, err
	}
	if lq.Scope == "" {
		lq.Scope = meta.LabelGlobal
	}
	switch lq.Scope {
	case meta.LabelGlobal:
		if p.IsAnonymous() {
			return nil, 0, forbidden(p, "list labels")
		}
		lq.ProjectID = 0
	case meta.LabelProject:
		if lq.ProjectID <= 0 {
			return nil, 0, errs.New(errs.Invalid, "", "project_id is required to list project labels (scope p)")
		}
		if _, err := s.authorizeProject(ctx, p, ProjectRef{ID: lq.ProjectID}, ResLabel, ActList); err != nil {
			return nil, 0, err
		}
	default:
		return nil, 0, errs.New(errs.Invalid, "", "scope must be g (global) or p (project), got %q", clip(lq.Scope))
	}
	if lq.Name != "" {
		o.Query = append(o.Query, meta.Cond{Key: "name", Op: "~", Values: []string{lq.Name}})
	}
	return s.db.Q().ListLabels(ctx, o, lq.Scope, lq.ProjectID)
}

// ArtifactRef names an artifact as Harbor's paths do: a project name, a
// repository name without the project, and a tag or digest.
type ArtifactRef struct {
	Project    string
	Repository string
	Reference  string
}

func (a ArtifactRef) String() string {
	sep := ":"
	if strings.Contains(a.Reference, ":") {
		sep = "@"
	}
	return clip(a.Project + "/" + a.Repository + sep + a.Reference)
}

// resolveArtifact checks that p may do action on resource in the
// artifact's project (before anything is looked up, as Harbor does), then
// finds the artifact: its project, repository and manifest digest.
func (s *Service) resolveArtifact(ctx context.Context, p Principal, a ArtifactRef, resource, action string) (meta.Project, meta.Repo, oci.Digest, error) {
	pr, err := s.authorizeProject(ctx, p, ProjectRef{Name: a.Project}, resource, action)
	if err != nil {
		return meta.Project{}, meta.Repo{}, "", err
	}
	notFound := errs.New(errs.NotFound, "NOT_FOUND", "artifact %s not found", a)
	q := s.db.Q()
	repo, err := q.GetRepo(ctx, pr.Name+"/"+a.Repository)
	if errs.Is(err, errs.NotFound) {
		return meta.Project{}, meta.Repo{}, "", notFound
	}
	if err != nil {
		return meta.Project{}, meta.Repo{}, "", err
	}
	ref, err := oci.ParseReference(a.Reference)
	if err != nil {
		return meta.Project{}, meta.Repo{}, "", errs.New(errs.Invalid, "", "invalid reference %q: %v", clip(a.Reference), err)
	}
	d := ref.Digest
	if !ref.IsDigest() {
		t, err := q.GetTag(ctx, repo.ID, ref.Tag)
		if errs.Is(err, errs.NotFound) {
			return meta.Project{}, meta.Repo{}, "", notFound
		}
		if err != nil {
			return meta.Project{}, meta.Repo{}, "", err
		}
		d = t.Digest
	}
	have, err := q.ManifestExists(ctx, repo.ID, []oci.Digest{d})
	if err != nil {
		return meta.Project{}, meta.Repo{}, "", err
	}
	if !have[d] {
		return meta.Project{}, meta.Repo{}, "", notFound
	}
	return pr, repo, d, nil
}

// AddArtifactLabel attaches label labelID to an artifact if p may
// (artifact-label create). A project label only goes on artifacts of its
// project; a label attached already is a conflict.
func (s *Service) AddArtifactLabel(ctx context.Context, p Principal, source string, a ArtifactRef, labelID int64) error {
	pr, repo, d, err := s.resolveArtifact(ctx, p, a, ResArtifactLabel, ActCreate)
	if err != nil {
		return err
	}
	if labelID <= 0 {
		return errs.New(errs.Invalid, "", "the label id is required")
	}
	l, err := s.db.Q().GetLabel(ctx, labelID)
	if errs.Is(err, errs.NotFound) {
		return labelNotFound(labelID)
	}
	if err != nil {
		return err
	}
	if l.Scope == meta.LabelProject && l.ProjectID != pr.ID {
		return errs.New(errs.Invalid, "", "label %d belongs to another project: a project label can only be added to artifacts of its own project", labelID)
	}
	err = s.db.Q().AddArtifactLabel(ctx, repo.ID, d, labelID)
	switch {
	case errs.Is(err, errs.Conflict):
		return errs.New(errs.Conflict, "CONFLICT", "label %s is already added to artifact %s", clip(l.Name), a)
	case errs.Is(err, errs.NotFound):
		return errs.New(errs.NotFound, "NOT_FOUND", "artifact %s or label %d not found", a, labelID)
	case err != nil:
		return err
	}
	s.Audit(ctx, meta.AuditLog{ProjectID: pr.ID, Username: p.Name(), Resource: repo.Name + "@" + string(d),
		ResourceType: "artifact", Operation: "create", SourceIP: source, Detail: "label " + strconv.Quote(l.Name)})
	return nil
}

// RemoveArtifactLabel detaches label labelID from an artifact if p may
// (artifact-label delete).
func (s *Service) RemoveArtifactLabel(ctx context.Context, p Principal, source string, a ArtifactRef, labelID int64) error {
	pr, repo, d, err := s.resolveArtifact(ctx, p, a, ResArtifactLabel, ActDelete)
	if err != nil {
		return err
	}
	if err := s.db.Q().RemoveArtifactLabel(ctx, repo.ID, d, labelID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.New(errs.NotFound, "NOT_FOUND", "label %d is not added to artifact %s", labelID, a)
		}
		return err
	}
	s.Audit(ctx, meta.AuditLog{ProjectID: pr.ID, Username: p.Name(), Resource: repo.Name + "@" + string(d),
		ResourceType: "artifact", Operation: "delete", SourceIP: source, Detail: "label " + strconv.FormatInt(labelID, 10)})
	return nil
}
