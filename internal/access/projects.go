package access

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Projects: who may create, see, change and delete them, and the rules for
// their names and metadata, following Harbor's project API. Handlers only
// translate JSON.

// projectNameRE is Harbor's project name grammar; a project name is the
// first component of every repository name inside it.
var projectNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

const maxProjectName = 255

// ProjectRef names a project by ID or, when ID is 0, by name.
type ProjectRef struct {
	ID   int64
	Name string
}

func (r ProjectRef) String() string {
	if r.ID != 0 || r.Name == "" {
		return strconv.FormatInt(r.ID, 10)
	}
	return clip(r.Name)
}

// ProjectSpec is a request to create or change a project. On update an
// empty Name keeps the name (which never changes), nil pointers keep the
// current values and Metadata keys not mentioned stay as they are.
type ProjectSpec struct {
	Name   string
	Public *bool // Harbor's legacy flag; metadata "public" wins when both are given
	// Metadata holds Harbor's string-valued project metadata.
	Metadata     map[string]string
	StorageLimit *int64 // bytes, -1 for unlimited; only system administrators may set it
	RegistryID   *int64 // proxy cache projects: not supported, must be nil or 0
}

// ProjectView is a project as the caller sees it.
type ProjectView struct {
	meta.Project
	OwnerName string
	RepoCount int
	Role      int  // the caller's role as a member, 0 if none
	Togglable bool // whether the caller may change the project's settings
}

// PublicMetadata is the project metadata as Harbor shows it: the stored
// keys plus "public".
func (v ProjectView) PublicMetadata() map[string]string {
	md := make(map[string]string, len(v.Metadata)+1)
	maps.Copy(md, v.Metadata)
	md[MetaPublic] = strconv.FormatBool(v.Public)
	return md
}

// CheckProjectName enforces Harbor's project name grammar.
func CheckProjectName(name string) error {
	switch {
	case name == "":
		return errs.New(errs.Invalid, "", "the project name is empty")
	case len(name) > maxProjectName:
		return errs.New(errs.Invalid, "", "the project name is longer than %d characters", maxProjectName)
	case strings.IndexFunc(name, unicode.IsUpper) >= 0 && projectNameRE.MatchString(strings.ToLower(name)):
		return errs.New(errs.Invalid, "", "invalid project name %q: project names must be lower case", clip(name))
	case !projectNameRE.MatchString(name):
		return errs.New(errs.Invalid, "", "invalid project name %q: use lower-case letters and digits, separated by single '.', '_' or '-'", clip(name))
	}
	return nil
}

// forbidden is the refusal of a permission check: 401 for anonymous
// callers, 403 for everyone else.
func forbidden(p Principal, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to %s", what)
	}
	return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s", p.Name(), what)
}

// plainText reports whether s can be stored and compared as text: valid
// UTF-8 without NUL, which PostgreSQL refuses.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// checkText refuses a parameter that is not plain text.
func checkText(name, s string) error {
	if !plainText(s) {
		return errs.New(errs.Invalid, "", "%s must be UTF-8 text without NUL characters", name)
	}
	return nil
}

// checkListOptions refuses q values that are not plain text before they
// reach the store.
func checkListOptions(o meta.ListOptions) error {
	for _, c := range o.Query {
		for _, v := range c.Values {
			if err := checkText("the query value of "+clip(c.Key), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// clip shortens client input quoted in messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// findProject loads the project ref names.
func (s *Service) findProject(ctx context.Context, ref ProjectRef) (meta.Project, error) {
	q := s.db.Q()
	var (
		pr  meta.Project
		err error
	)
	switch {
	case ref.ID > 0:
		pr, err = q.GetProject(ctx, ref.ID)
	case ref.ID == 0 && len(ref.Name) <= maxProjectName && projectNameRE.MatchString(ref.Name):
		pr, err = q.GetProjectByName(ctx, ref.Name)
	default:
		err = errs.New(errs.NotFound, "", "project %s not found", ref)
	}
	if errs.Is(err, errs.NotFound) {
		return meta.Project{}, errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", ref)
	}
	if err != nil {
		return meta.Project{}, fmt.Errorf("project %s: %w", ref, err)
	}
	return pr, nil
}

// authorizeProject loads the project ref names and checks that p may do
// action on resource in it. As in Harbor the permission is checked before
// the caller learns whether the project exists: a missing project is
// refused like a private one to everyone but system administrators, so
// names of private projects do not leak.
func (s *Service) authorizeProject(ctx context.Context, p Principal, ref ProjectRef, resource, action string) (meta.Project, error) {
	what := fmt.Sprintf("%s project %s", action, ref)
	if resource != ResProject {
		what = fmt.Sprintf("%s %s in project %s", action, resource, ref)
	}
	pr, err := s.findProject(ctx, ref)
	if errs.Is(err, errs.NotFound) {
		if p.SysAdmin {
			return meta.Project{}, err
		}
		return meta.Project{}, forbidden(p, "%s", what)
	}
	if err != nil {
		return meta.Project{}, err
	}
	allowed, err := s.Can(ctx, p, pr, resource, action)
	if err != nil {
		return meta.Project{}, err
	}
	if !allowed {
		return meta.Project{}, forbidden(p, "%s", what)
	}
	return pr, nil
}

// evaluator answers Can for one project with a single role lookup, for
// callers that ask about many permissions. It must agree with Can.
func (s *Service) evaluator(ctx context.Context, p Principal, pr meta.Project) (func(resource, action string) bool, error) {
	role, err := s.Role(ctx, p, pr)
	if err != nil {
		return nil, err
	}
	return func(resource, action string) bool {
		switch {
		case p.SysAdmin:
			return true
		case pr.Public && PublicAllows(resource, action):
			return true
		case p.Kind == RobotKind:
			return p.Robot.grants(pr.Name, resource, action)
		case p.Kind == UserKind:
			return role != 0 && RoleAllows(role, resource, action)
		}
		return false
	}, nil
}

// applySpec validates spec and applies it to pr: on creation (create is
// true) every rule of a new project, on update only the fields given.
func applySpec(p Principal, pr *meta.Project, spec ProjectSpec, create bool) error {
	if spec.RegistryID != nil && *spec.RegistryID != 0 {
		return errs.New(errs.Invalid, "", "proxy cache projects (registry_id) are not supported")
	}
	md := map[string]string{}
	if !create {
		maps.Copy(md, pr.Metadata)
	}
	public := pr.Public
	if spec.Public != nil {
		public = *spec.Public
	}
	for k, v := range spec.Metadata {
		if proxyMetadata[k] || v == "" { // unset, as Harbor reads an empty value
			continue
		}
		v, err := checkMetadata(k, v)
		if err != nil {
			return err
		}
		if k == MetaPublic {
			public = v == "true"
		}
		md[k] = v
	}
	pr.Public = public
	md[MetaPublic] = strconv.FormatBool(public) // kept in step with the column for readers of either
	pr.Metadata = md
	if spec.StorageLimit != nil && p.SysAdmin {
		if *spec.StorageLimit < -1 {
			return errs.New(errs.Invalid, "", "storage_limit must be -1 (unlimited) or a number of bytes, got %d", *spec.StorageLimit)
		}
		pr.StorageLimit = *spec.StorageLimit
	}
	return nil
}

// CreateProject creates a project owned by p, who becomes its Project
// Admin in the same transaction. Who may create projects is a setting
// (everyone or adminonly); project robots never may. Storage limits set
// by anyone but a system administrator are ignored, as in Harbor.
func (s *Service) CreateProject(ctx context.Context, p Principal, source string, spec ProjectSpec) (meta.Project, error) {
	if p.IsAnonymous() {
		return meta.Project{}, forbidden(p, "create projects")
	}
	if !s.CanSystem(p, "project", ActCreate) || (p.Kind == RobotKind && p.Robot.Level == meta.RobotProject) {
		if p.Kind == UserKind && s.ProjectCreation() == CreationAdminOnly {
			return meta.Project{}, errs.New(errs.Denied, "FORBIDDEN", "only system administrators may create projects")
		}
		return meta.Project{}, forbidden(p, "create projects")
	}
	if err := CheckProjectName(spec.Name); err != nil {
		return meta.Project{}, err
	}
	pr := meta.Project{Name: spec.Name, StorageLimit: s.currentConfiguration().StoragePerProject}
	if err := applySpec(p, &pr, spec, true); err != nil {
		return meta.Project{}, err
	}
	pr.OwnerID = p.UserID
	if p.Kind == RobotKind {
		// A robot owns nothing: its projects belong to the administrator.
		admin, err := s.db.Q().GetUserByName(ctx, AdminName)
		if err != nil {
			return meta.Project{}, fmt.Errorf("owner of project %s: %w", pr.Name, err)
		}
		pr.OwnerID = admin.ID
	}
	created, err := s.db.Q().CreateProject(ctx, pr, RoleProjectAdmin)
	if errs.Is(err, errs.Conflict) {
		return meta.Project{}, errs.New(errs.Conflict, "CONFLICT", "the project named %s already exists", pr.Name)
	}
	if err != nil {
		return meta.Project{}, fmt.Errorf("create project %s: %w", pr.Name, err)
	}
	s.auditProject(ctx, p, source, created, "create", "")
	return created, nil
}

func (s *Service) auditProject(ctx context.Context, p Principal, source string, pr meta.Project, op, detail string) {
	s.Audit(ctx, meta.AuditLog{ProjectID: pr.ID, Username: p.Name(), Resource: pr.Name, ResourceType: "project",
		Operation: op, SourceIP: source, Detail: detail})
}

// ProjectExists answers Harbor's HEAD /projects: whether a project of that
// name exists, to any authenticated caller (the UI checks names with it
// before creating).
func (s *Service) ProjectExists(ctx context.Context, p Principal, name string) (bool, error) {
	if p.IsAnonymous() {
		return false, forbidden(p, "check project names")
	}
	if name == "" {
		return false, errs.New(errs.Invalid, "", "project_name is required")
	}
	_, err := s.findProject(ctx, ProjectRef{Name: name})
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	return err == nil, err
}

// ProjectQuery holds GET /projects's own filters besides q.
type ProjectQuery struct {
	Name   string // fuzzy
	Public *bool
	Owner  string // owner's username
}

// visibility is which projects p may list.
func (s *Service) visibility(ctx context.Context, p Principal) (meta.ProjectFilter, error) {
	switch {
	case p.SysAdmin:
		return meta.ProjectFilter{All: true}, nil
	case p.Kind == UserKind:
		return meta.ProjectFilter{UserID: p.UserID, GroupIDs: p.GroupIDs}, nil
	case p.Kind == RobotKind:
		f := meta.ProjectFilter{}
		if p.Robot.ProjectID != 0 {
			f.ExtraIDs = append(f.ExtraIDs, p.Robot.ProjectID)
		}
		for _, perm := range p.Robot.Permissions {
			if perm.Kind != kindProject {
				continue
			}
			if perm.Namespace == nsAny {
				return meta.ProjectFilter{All: true}, nil
			}
			pr, err := s.db.Q().GetProjectByName(ctx, perm.Namespace)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return meta.ProjectFilter{}, fmt.Errorf("robot namespace %s: %w", perm.Namespace, err)
			}
			f.ExtraIDs = append(f.ExtraIDs, pr.ID)
		}
		return f, nil
	}
	return meta.ProjectFilter{PublicOnly: true}, nil
}

// ListProjects lists the projects p may see that match o and pq:
// anonymous callers see public projects, users public ones and those they
// are members of, robots public ones and their namespaces, system
// administrators all.
func (s *Service) ListProjects(ctx context.Context, p Principal, o meta.ListOptions, pq ProjectQuery) ([]ProjectView, int, error) {
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	if err := checkText("name", pq.Name); err != nil {
		return nil, 0, err
	}
	if !plainText(pq.Owner) {
		return []ProjectView{}, 0, nil // no user has such a name
	}
	f, err := s.visibility(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	if pq.Name != "" {
		o.Query = append(o.Query, meta.Cond{Key: "name", Op: "~", Values: []string{pq.Name}})
	}
	if pq.Public != nil {
		o.Query = append(o.Query, meta.Cond{Key: "public", Op: "=", Values: []string{strconv.FormatBool(*pq.Public)}})
	}
	if pq.Owner != "" {
		u, err := s.db.Q().GetUserByName(ctx, pq.Owner)
		if errs.Is(err, errs.NotFound) {
			return []ProjectView{}, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("project owner %s: %w", clip(pq.Owner), err)
		}
		o.Query = append(o.Query, meta.Cond{Key: "owner_id", Op: "=", Values: []string{strconv.FormatInt(u.ID, 10)}})
	}
	rows, total, err := s.db.Q().ListProjects(ctx, o, f)
	if err != nil {
		return nil, 0, err
	}
	var roles map[int64]int
	if p.Kind == UserKind {
		if roles, err = s.principalRoles(ctx, p); err != nil {
			return nil, 0, err
		}
	}
	owners := map[int64]string{}
	out := make([]ProjectView, 0, len(rows))
	for _, pr := range rows {
		v, err := s.view(ctx, p, pr, roles[pr.ID], owners)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, v)
	}
	return out, total, nil
}

// view adds what the caller sees besides the row. owners caches owner
// names across a listing.
func (s *Service) view(ctx context.Context, p Principal, pr meta.Project, role int, owners map[int64]string) (ProjectView, error) {
	q := s.db.Q()
	name, ok := owners[pr.OwnerID]
	if !ok {
		u, err := q.GetUser(ctx, pr.OwnerID)
		switch {
		case err == nil:
			name = u.Username
		case !errs.Is(err, errs.NotFound): // a deleted owner has no name
			return ProjectView{}, fmt.Errorf("owner of project %s: %w", pr.Name, err)
		}
		owners[pr.OwnerID] = name
	}
	n, err := q.CountReposInProject(ctx, pr.Name)
	if err != nil {
		return ProjectView{}, err
	}
	togglable := p.SysAdmin || role == RoleProjectAdmin ||
		(p.Kind == RobotKind && p.Robot.grants(pr.Name, ResProject, ActUpdate))
	return ProjectView{Project: pr, OwnerName: name, RepoCount: n, Role: role, Togglable: togglable}, nil
}

// GetProject returns the project if p may read it.
func (s *Service) GetProject(ctx context.Context, p Principal, ref ProjectRef) (ProjectView, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResProject, ActRead)
	if err != nil {
		return ProjectView{}, err
	}
	role, err := s.memberRole(ctx, p, pr)
	if err != nil {
		return ProjectView{}, err
	}
	return s.view(ctx, p, pr, role, map[int64]string{})
}

// UpdateProject changes a project's public flag, metadata and (system
// administrators only) storage limit. The name never changes.
func (s *Service) UpdateProject(ctx context.Context, p Principal, source string, ref ProjectRef, spec ProjectSpec) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResProject, ActUpdate)
	if err != nil {
		return err
	}
	if spec.Name != "" && spec.Name != pr.Name {
		return errs.New(errs.Invalid, "", "a project cannot be renamed")
	}
	if err := applySpec(p, &pr, spec, false); err != nil {
		return err
	}
	if err := s.db.Q().UpdateProject(ctx, pr); err != nil {
		return fmt.Errorf("update project %s: %w", pr.Name, err)
	}
	s.auditProject(ctx, p, source, pr, "update", "")
	return nil
}

// deletable says why pr cannot be deleted, or "" when it can.
func (s *Service) deletable(ctx context.Context, pr meta.Project) (string, error) {
	n, err := s.db.Q().CountReposInProject(ctx, pr.Name)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return fmt.Sprintf("the project %s contains %d repositories; delete them first", pr.Name, n), nil
	}
	return "", nil
}

// ProjectDeletable answers whether p's deletion of the project would
// succeed now, and if not why.
func (s *Service) ProjectDeletable(ctx context.Context, p Principal, ref ProjectRef) (bool, string, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResProject, ActDelete)
	if err != nil {
		return false, "", err
	}
	why, err := s.deletable(ctx, pr)
	return why == "", why, err
}

// DeleteProject deletes a project, with its members and project robots,
// if p may and it holds no repositories (412 otherwise).
func (s *Service) DeleteProject(ctx context.Context, p Principal, source string, ref ProjectRef) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResProject, ActDelete)
	if err != nil {
		return err
	}
	why, err := s.deletable(ctx, pr)
	if err != nil {
		return err
	}
	if why != "" {
		return errs.New(errs.Conflict, "PRECONDITION", "%s", why)
	}
	if err := s.db.Q().DeleteProject(ctx, pr.ID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", ref)
		}
		return fmt.Errorf("delete project %s: %w", pr.Name, err)
	}
	s.auditProject(ctx, p, source, pr, "delete", "")
	return nil
}

// ProjectSummary is Harbor's project summary. Members is nil when the
// caller may not list members, Quota nil when it may not read the quota.
type ProjectSummary struct {
	RepoCount int
	Members   map[int]int // role -> count
	Quota     *Quota
}

// Quota is a project's storage quota in bytes; Hard is -1 when unlimited.
type Quota struct{ Hard, Used int64 }

// GetProjectSummary returns the project's summary if p may read the
// project; the member counts and quota need their own permissions.
func (s *Service) GetProjectSummary(ctx context.Context, p Principal, ref ProjectRef) (ProjectSummary, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResProject, ActRead)
	if err != nil {
		return ProjectSummary{}, err
	}
	can, err := s.evaluator(ctx, p, pr)
	if err != nil {
		return ProjectSummary{}, err
	}
	q := s.db.Q()
	var sum ProjectSummary
	if sum.RepoCount, err = q.CountReposInProject(ctx, pr.Name); err != nil {
		return ProjectSummary{}, err
	}
	if can(ResMember, ActList) {
		if sum.Members, err = q.CountMembersByRole(ctx, pr.ID); err != nil {
			return ProjectSummary{}, err
		}
	}
	if can(ResQuota, ActRead) {
		used, err := q.ProjectUsage(ctx, pr.ID)
		if err != nil {
			return ProjectSummary{}, err
		}
		sum.Quota = &Quota{Hard: pr.StorageLimit, Used: used}
	}
	return sum, nil
}
