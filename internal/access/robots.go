package access

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Robot accounts: who may create, see, change and delete them, and what
// they may be granted. The rules follow Harbor's robot API; handlers only
// translate JSON.

// robotNameRE is Harbor's grammar for robot (and project) names, which
// is why "+" can separate the two in a project robot's stored name.
var robotNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

const (
	maxRobotName = 255
	// maxRobotDays keeps expires_at far from overflow; a century is
	// longer than any real rotation policy, and -1 means never anyway.
	maxRobotDays = 36500
	// Creator types, as Harbor reports them.
	creatorUser  = "local"
	creatorRobot = "robot"
	kindSystem   = "system"
	kindProject  = "project"
	nsSystem     = "/"
	nsAny        = "*"
)

// RobotAccount is a robot as callers may see it. It has no field for the
// secret or its hash, so neither can leak through a listing.
type RobotAccount struct {
	ID          int64
	Name        string // full name, with the prefix
	Description string
	Level       string
	ProjectID   int64
	Disabled    bool
	Duration    int64
	ExpiresAt   int64
	Permissions []RobotPermission
	CreatorType string
	CreatorRef  int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RobotSpec is a request to create a robot or to change one. On update,
// Name and Level must be empty or unchanged, a nil Duration keeps the
// current one, and Secret is ignored (use RefreshRobotSecret).
type RobotSpec struct {
	Name        string
	Description string
	Level       string
	Duration    *int64
	Disable     bool
	Permissions []RobotPermission
	Secret      string // optional on create; generated when empty
}

// checkRobotName enforces Harbor's robot name grammar on the short name
// (without prefix or project).
func checkRobotName(name string) error {
	if name == "" {
		return errs.New(errs.Invalid, "", "the robot name is empty")
	}
	if len(name) > maxRobotName || !robotNameRE.MatchString(name) {
		return errs.New(errs.Invalid, "", "invalid robot name %q: use lower-case letters and digits, separated by single '.', '_' or '-'", truncName(name))
	}
	return nil
}

// checkDuration accepts -1 (never expires) or 1 to maxRobotDays days.
func checkDuration(days int64) error {
	if days == -1 || (days > 0 && days <= maxRobotDays) {
		return nil
	}
	return errs.New(errs.Invalid, "", "duration must be -1 (never expires) or between 1 and %d days, got %d", maxRobotDays, days)
}

// robotExpiry is when a robot of days created at from expires: unix
// seconds, or -1 for never.
func robotExpiry(from time.Time, days int64) int64 {
	if days < 0 {
		return -1
	}
	return from.Unix() + days*24*60*60
}

// checkRobotPermissions validates a robot's permissions for its level and
// returns them normalised (a system namespace written as "" becomes "/").
// Project robots hold exactly one project permission naming one project;
// system robots hold system permissions (namespace "/") and project
// permissions (a project name, or "*" for every project). Each access
// entry must be a permission Harbor knows for its kind.
func checkRobotPermissions(level string, ps []RobotPermission) ([]RobotPermission, error) {
	switch level {
	case meta.RobotSystem, meta.RobotProject:
	default:
		return nil, errs.New(errs.Invalid, "", "level must be %q or %q, got %q", meta.RobotSystem, meta.RobotProject, truncName(level))
	}
	if len(ps) == 0 {
		return nil, errs.New(errs.Invalid, "", "a robot needs at least one permission")
	}
	if level == meta.RobotProject && len(ps) != 1 {
		return nil, errs.New(errs.Invalid, "", "a project robot has exactly one permission, for its project; got %d", len(ps))
	}
	out := make([]RobotPermission, len(ps))
	for i, p := range ps {
		switch p.Kind {
		case kindSystem:
			if level == meta.RobotProject {
				return nil, errs.New(errs.Invalid, "", "a project robot cannot hold system permissions")
			}
			if p.Namespace == "" {
				p.Namespace = nsSystem
			}
			if p.Namespace != nsSystem {
				return nil, errs.New(errs.Invalid, "", "a system permission has namespace %q, got %q", nsSystem, truncName(p.Namespace))
			}
		case kindProject:
			switch {
			case p.Namespace == nsAny && level == meta.RobotProject:
				return nil, errs.New(errs.Invalid, "", "a project robot's permission must name its project, not %q", nsAny)
			case p.Namespace != nsAny && !robotNameRE.MatchString(p.Namespace):
				return nil, errs.New(errs.Invalid, "", "invalid project name %q in the permissions", truncName(p.Namespace))
			}
		default:
			return nil, errs.New(errs.Invalid, "", "permission kind must be %q or %q, got %q", kindSystem, kindProject, truncName(p.Kind))
		}
		acc := make([]RobotAccess, len(p.Access))
		for j, a := range p.Access {
			perm := Perm{a.Resource, a.Action}
			valid := ValidProjectPerm(perm)
			if p.Kind == kindSystem {
				valid = ValidSystemPerm(perm)
			}
			if !valid {
				return nil, errs.New(errs.Invalid, "", "bad request permission: %s:%s is not a %s permission",
					truncName(a.Resource), truncName(a.Action), p.Kind)
			}
			if a.Effect != "" && a.Effect != "allow" && a.Effect != "deny" {
				return nil, errs.New(errs.Invalid, "", "effect must be \"allow\" or \"deny\", got %q", truncName(a.Effect))
			}
			acc[j] = a
		}
		p.Access = acc
		out[i] = p
	}
	return out, nil
}

// covers reports which requested grant, if any, r does not hold itself: a
// robot may only hand on a subset of its own permissions. Denials are
// never an escalation and are always allowed.
func (r *RobotInfo) covers(ps []RobotPermission) (missing string, ok bool) {
	for _, p := range ps {
		project := ""
		if p.Kind == kindProject {
			project = p.Namespace
		}
		for _, a := range p.Access {
			if a.Effect == "deny" {
				continue
			}
			if !r.grants(project, a.Resource, a.Action) {
				return p.Kind + " " + p.Namespace + " " + a.Resource + ":" + a.Action, false
			}
		}
	}
	return "", true
}

// robotFullName is what callers see: the prefix and the stored name.
func (s *Service) robotFullName(stored string) string { return s.robotPrefix + stored }

// robotAccount turns a row into what callers may see.
func (s *Service) robotAccount(r meta.Robot) (RobotAccount, error) {
	ps, err := ParseRobotPermissions(r.Permissions)
	if err != nil {
		return RobotAccount{}, fmt.Errorf("robot %d: %w", r.ID, err)
	}
	if ps == nil {
		ps = []RobotPermission{}
	}
	return RobotAccount{
		ID: r.ID, Name: s.robotFullName(r.Name), Description: r.Description, Level: r.Level,
		ProjectID: r.ProjectID, Disabled: r.Disabled, Duration: r.Duration, ExpiresAt: r.ExpiresAt,
		Permissions: ps, CreatorType: r.CreatorType, CreatorRef: r.CreatorRef,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}, nil
}

// mayManageRobots reports whether p may do action on the robots of
// project, or on system robots when project is nil.
func (s *Service) mayManageRobots(ctx context.Context, p Principal, project *meta.Project, action string) (bool, error) {
	if project == nil {
		return s.CanSystem(p, ResRobot, action), nil
	}
	return s.Can(ctx, p, *project, ResRobot, action)
}

// robotDenied is the refusal of action on robots: 401 for anonymous
// callers, 403 otherwise.
func robotDenied(p Principal, action string) error {
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to %s robot accounts", action)
	}
	return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s these robot accounts", p.Name(), action)
}

// requireAuthenticated refuses anonymous callers before anything is
// looked up.
func requireAuthenticated(p Principal) error {
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to manage robot accounts")
	}
	return nil
}

// robotProject loads the project named in a robot request. A caller who
// could not act in the project even if it existed is denied rather than
// told it is missing, so project names do not leak.
func (s *Service) robotProject(ctx context.Context, p Principal, name, action string) (meta.Project, error) {
	project, err := s.db.Q().GetProjectByName(ctx, name)
	if errs.Is(err, errs.NotFound) {
		if p.SysAdmin || (p.Robot != nil && p.Robot.grants(name, ResRobot, action)) {
			return meta.Project{}, errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", name)
		}
		return meta.Project{}, robotDenied(p, action)
	}
	if err != nil {
		return meta.Project{}, fmt.Errorf("robot project %s: %w", name, err)
	}
	return project, nil
}

// checkGrantor enforces that a robot hands on no more than it holds.
func checkGrantor(p Principal, ps []RobotPermission) error {
	if p.Kind != RobotKind || p.SysAdmin {
		return nil
	}
	if missing, ok := p.Robot.covers(ps); !ok {
		return errs.New(errs.Denied, "FORBIDDEN", "%s cannot grant %s, which it does not hold itself", p.Name(), missing)
	}
	return nil
}

// checkSystemNamespaces makes sure every project a system robot's
// permissions name exists.
func (s *Service) checkSystemNamespaces(ctx context.Context, ps []RobotPermission) error {
	for _, perm := range ps {
		if perm.Kind != kindProject || perm.Namespace == nsAny {
			continue
		}
		if _, err := s.db.Q().GetProjectByName(ctx, perm.Namespace); err != nil {
			if errs.Is(err, errs.NotFound) {
				return errs.New(errs.NotFound, "NOT_FOUND", "project %s not found", perm.Namespace)
			}
			return fmt.Errorf("robot permission project %s: %w", perm.Namespace, err)
		}
	}
	return nil
}

// authorizeRobotSpec checks spec's permissions for its level and that p
// may create or update robots there with them, and returns the normalised
// permissions and the robot's project (nil for system robots).
func (s *Service) authorizeRobotSpec(ctx context.Context, p Principal, level string, ps []RobotPermission, action string) ([]RobotPermission, *meta.Project, error) {
	ps, err := checkRobotPermissions(level, ps)
	if err != nil {
		return nil, nil, err
	}
	var project *meta.Project
	if level == meta.RobotProject {
		pr, err := s.robotProject(ctx, p, ps[0].Namespace, action)
		if err != nil {
			return nil, nil, err
		}
		project = &pr
	}
	allowed, err := s.mayManageRobots(ctx, p, project, action)
	if err != nil {
		return nil, nil, err
	}
	if !allowed {
		return nil, nil, robotDenied(p, action)
	}
	if project == nil {
		if err := s.checkSystemNamespaces(ctx, ps); err != nil {
			return nil, nil, err
		}
	}
	if err := checkGrantor(p, ps); err != nil {
		return nil, nil, err
	}
	return ps, project, nil
}

// CreateRobot creates a robot for p and returns it with its secret, which
// is never shown again: the caller's own when given (it must meet the
// password policy), else a random one. Only the secret's hash is stored.
func (s *Service) CreateRobot(ctx context.Context, p Principal, source string, spec RobotSpec) (RobotAccount, string, error) {
	if err := requireAuthenticated(p); err != nil {
		return RobotAccount{}, "", err
	}
	if err := checkRobotName(spec.Name); err != nil {
		return RobotAccount{}, "", err
	}
	if spec.Duration == nil {
		return RobotAccount{}, "", errs.New(errs.Invalid, "", "duration is required: -1 (never expires) or a number of days")
	}
	if err := checkDuration(*spec.Duration); err != nil {
		return RobotAccount{}, "", err
	}
	secret := spec.Secret
	if secret != "" {
		if err := CheckPasswordPolicy(secret); err != nil {
			return RobotAccount{}, "", errs.New(errs.Invalid, "", "the robot secret does not meet the policy: %s", errMsg(err))
		}
	}
	ps, project, err := s.authorizeRobotSpec(ctx, p, spec.Level, spec.Permissions, ActCreate)
	if err != nil {
		return RobotAccount{}, "", err
	}
	if secret == "" {
		if secret, err = NewSecret(); err != nil {
			return RobotAccount{}, "", err
		}
	}
	hash, err := HashSecret(secret)
	if err != nil {
		return RobotAccount{}, "", err
	}
	permJSON, err := json.Marshal(ps)
	if err != nil {
		return RobotAccount{}, "", fmt.Errorf("encode robot permissions: %w", err)
	}
	row := meta.Robot{
		Name: spec.Name, Description: spec.Description, Level: spec.Level, SecretHash: hash,
		Disabled: spec.Disable, Duration: *spec.Duration, ExpiresAt: robotExpiry(s.now(), *spec.Duration),
		Permissions: permJSON, CreatorType: creatorUser, CreatorRef: p.UserID,
	}
	if project != nil {
		row.Name, row.ProjectID = project.Name+"+"+spec.Name, project.ID
	}
	if p.Kind == RobotKind {
		row.CreatorType, row.CreatorRef = creatorRobot, p.Robot.ID
	}
	name := s.robotFullName(row.Name)
	if len(name) > maxRobotName {
		return RobotAccount{}, "", errs.New(errs.Invalid, "", "the robot name is longer than %d characters", maxRobotName)
	}
	row, err = s.db.Q().CreateRobot(ctx, row)
	if errs.Is(err, errs.Conflict) {
		return RobotAccount{}, "", errs.New(errs.Conflict, "CONFLICT", "a robot account named %s already exists", name)
	}
	if err != nil {
		return RobotAccount{}, "", fmt.Errorf("create robot %s: %w", name, err)
	}
	ra, err := s.robotAccount(row)
	if err != nil {
		return RobotAccount{}, "", err
	}
	s.auditRobot(ctx, p, source, ra, "create", "")
	return ra, secret, nil
}

// getRobotFor loads robot id and checks that p may do action on it.
// Anonymous callers are refused before the lookup; others learn whether
// the robot exists, as in Harbor, since the check depends on its level.
func (s *Service) getRobotFor(ctx context.Context, p Principal, id int64, action string) (meta.Robot, *meta.Project, error) {
	if err := requireAuthenticated(p); err != nil {
		return meta.Robot{}, nil, err
	}
	r, err := s.db.Q().GetRobot(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return meta.Robot{}, nil, errs.New(errs.NotFound, "NOT_FOUND", "robot %d not found", id)
	}
	if err != nil {
		return meta.Robot{}, nil, err
	}
	var project *meta.Project
	if r.Level == meta.RobotProject {
		pr, err := s.db.Q().GetProject(ctx, r.ProjectID)
		if err != nil {
			return meta.Robot{}, nil, fmt.Errorf("project of robot %d: %w", id, err)
		}
		project = &pr
	}
	allowed, err := s.mayManageRobots(ctx, p, project, action)
	if err != nil {
		return meta.Robot{}, nil, err
	}
	if !allowed {
		return meta.Robot{}, nil, robotDenied(p, action)
	}
	return r, project, nil
}

// GetRobot returns robot id if p may read it.
func (s *Service) GetRobot(ctx context.Context, p Principal, id int64) (RobotAccount, error) {
	r, _, err := s.getRobotFor(ctx, p, id, ActRead)
	if err != nil {
		return RobotAccount{}, err
	}
	return s.robotAccount(r)
}

// ListRobots lists system robots, or with q Level=project,ProjectID=N
// (or just ProjectID=N) the robots of project N, if p may list them.
// Other q keys (name) and sort fields pass through to the store.
func (s *Service) ListRobots(ctx context.Context, p Principal, o meta.ListOptions) ([]RobotAccount, int, error) {
	if err := requireAuthenticated(p); err != nil {
		return nil, 0, err
	}
	level, projectID := "", int64(0)
	var rest []meta.Cond
	for _, c := range o.Query {
		switch c.Key {
		case "Level", "level":
			if c.Op != "=" || (c.Values[0] != meta.RobotSystem && c.Values[0] != meta.RobotProject) {
				return nil, 0, errs.New(errs.Invalid, "", "Level must be %q or %q", meta.RobotSystem, meta.RobotProject)
			}
			level = c.Values[0]
		case "ProjectID", "project_id":
			n, err := strconv.ParseInt(c.Values[0], 10, 64)
			if c.Op != "=" || err != nil || n <= 0 {
				return nil, 0, errs.New(errs.Invalid, "", "ProjectID must be one project id")
			}
			projectID = n
		default:
			rest = append(rest, c)
		}
	}
	if level == "" && projectID != 0 {
		level = meta.RobotProject
	}
	if level == "" {
		level = meta.RobotSystem
	}
	var project *meta.Project
	if level == meta.RobotProject {
		if projectID == 0 {
			return nil, 0, errs.New(errs.Invalid, "", "listing project robots needs ProjectID: q=Level=project,ProjectID=<id>")
		}
		pr, err := s.db.Q().GetProject(ctx, projectID)
		if errs.Is(err, errs.NotFound) {
			if p.SysAdmin {
				return nil, 0, errs.New(errs.NotFound, "NOT_FOUND", "project %d not found", projectID)
			}
			return nil, 0, robotDenied(p, ActList)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("project %d: %w", projectID, err)
		}
		project = &pr
	} else {
		projectID = 0
	}
	allowed, err := s.mayManageRobots(ctx, p, project, ActList)
	if err != nil {
		return nil, 0, err
	}
	if !allowed {
		return nil, 0, robotDenied(p, ActList)
	}
	o.Query = append(rest,
		meta.Cond{Key: "level", Op: "=", Values: []string{level}},
		meta.Cond{Key: "project_id", Op: "=", Values: []string{strconv.FormatInt(projectID, 10)}})
	rows, total, err := s.db.Q().ListRobots(ctx, o)
	if err != nil {
		return nil, 0, err
	}
	out := make([]RobotAccount, 0, len(rows))
	for _, r := range rows {
		ra, err := s.robotAccount(r)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, ra)
	}
	return out, total, nil
}

// UpdateRobot changes robot id's description, duration (expiry counted
// again from its creation), disabled flag and permissions, under the same
// rules as creation. Its name, level and project never change.
func (s *Service) UpdateRobot(ctx context.Context, p Principal, source string, id int64, spec RobotSpec) (RobotAccount, error) {
	r, _, err := s.getRobotFor(ctx, p, id, ActUpdate)
	if err != nil {
		return RobotAccount{}, err
	}
	if spec.Name != "" && spec.Name != r.Name && spec.Name != s.robotFullName(r.Name) {
		return RobotAccount{}, errs.New(errs.Invalid, "", "the name of a robot cannot be changed")
	}
	if spec.Level != "" && spec.Level != r.Level {
		return RobotAccount{}, errs.New(errs.Invalid, "", "the level of a robot cannot be changed")
	}
	if spec.Duration != nil {
		if err := checkDuration(*spec.Duration); err != nil {
			return RobotAccount{}, err
		}
	}
	ps, project, err := s.authorizeRobotSpec(ctx, p, r.Level, spec.Permissions, ActUpdate)
	if err != nil {
		return RobotAccount{}, err
	}
	if project != nil && project.ID != r.ProjectID {
		return RobotAccount{}, errs.New(errs.Invalid, "", "a project robot cannot be moved to another project")
	}
	permJSON, err := json.Marshal(ps)
	if err != nil {
		return RobotAccount{}, fmt.Errorf("encode robot permissions: %w", err)
	}
	r.Description, r.Disabled, r.Permissions = spec.Description, spec.Disable, permJSON
	if spec.Duration != nil && *spec.Duration != r.Duration {
		r.Duration, r.ExpiresAt = *spec.Duration, robotExpiry(r.CreatedAt, *spec.Duration)
	}
	if err := s.db.Q().UpdateRobot(ctx, r); err != nil {
		return RobotAccount{}, fmt.Errorf("update robot %d: %w", id, err)
	}
	updated, err := s.db.Q().GetRobot(ctx, id)
	if err != nil {
		return RobotAccount{}, fmt.Errorf("reload robot %d: %w", id, err)
	}
	ra, err := s.robotAccount(updated)
	if err != nil {
		return RobotAccount{}, err
	}
	s.auditRobot(ctx, p, source, ra, "update", "")
	return ra, nil
}

// RefreshRobotSecret replaces robot id's secret; the old one stops working
// at once. With secret empty a random one is generated and returned;
// otherwise secret must meet the password policy and "" is returned, as
// Harbor does, since the caller knows it.
func (s *Service) RefreshRobotSecret(ctx context.Context, p Principal, source string, id int64, secret string) (string, error) {
	r, _, err := s.getRobotFor(ctx, p, id, ActUpdate)
	if err != nil {
		return "", err
	}
	shown := ""
	if secret == "" {
		if secret, err = NewSecret(); err != nil {
			return "", err
		}
		shown = secret
	} else if err := CheckPasswordPolicy(secret); err != nil {
		return "", errs.New(errs.Invalid, "", "the robot secret does not meet the policy: %s", errMsg(err))
	}
	if r.SecretHash, err = HashSecret(secret); err != nil {
		return "", err
	}
	if err := s.db.Q().UpdateRobot(ctx, r); err != nil {
		return "", fmt.Errorf("refresh secret of robot %d: %w", id, err)
	}
	ra, err := s.robotAccount(r)
	if err != nil {
		return "", err
	}
	s.auditRobot(ctx, p, source, ra, "update", "secret refreshed")
	return shown, nil
}

// DeleteRobot deletes robot id if p may.
func (s *Service) DeleteRobot(ctx context.Context, p Principal, source string, id int64) error {
	r, _, err := s.getRobotFor(ctx, p, id, ActDelete)
	if err != nil {
		return err
	}
	if err := s.db.Q().DeleteRobot(ctx, id); err != nil {
		return fmt.Errorf("delete robot %d: %w", id, err)
	}
	ra, err := s.robotAccount(r)
	if err != nil {
		return err
	}
	s.auditRobot(ctx, p, source, ra, "delete", "")
	return nil
}

func (s *Service) auditRobot(ctx context.Context, p Principal, source string, r RobotAccount, op, detail string) {
	s.Audit(ctx, meta.AuditLog{
		ProjectID: r.ProjectID, Username: p.Name(), Resource: r.Name, ResourceType: "robot",
		Operation: op, SourceIP: source, Detail: detail,
	})
}

// errMsg is the client-safe message of err.
func errMsg(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Msg
	}
	return err.Error()
}

func truncName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
