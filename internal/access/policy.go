package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// ProjectOf returns the project part of a repository name ("" when the
// name has a single component, which berth does not allow to be pushed).
func ProjectOf(repo string) string {
	p, _, ok := strings.Cut(repo, "/")
	if !ok {
		return ""
	}
	return p
}

// Role returns p's role in project, or 0 when it has none. System
// administrators are reported as Project Admin. A user holds the union of
// its own role and its groups' roles; Harbor's roles are nested, so the
// union is the strongest of them (bestRole).
func (s *Service) Role(ctx context.Context, p Principal, project meta.Project) (int, error) {
	switch {
	case p.SysAdmin:
		return RoleProjectAdmin, nil
	case p.Kind != UserKind:
		return 0, nil
	}
	return s.memberRole(ctx, p, project)
}

// memberRole is p's role as a member of pr, directly or through its
// groups (0 for none, and for anyone but users).
func (s *Service) memberRole(ctx context.Context, p Principal, pr meta.Project) (int, error) {
	if p.Kind != UserKind {
		return 0, nil
	}
	roles, err := s.db.Q().MemberRoles(ctx, pr.ID, p.UserID, p.GroupIDs)
	if err != nil {
		return 0, fmt.Errorf("role of %s in %s: %w", p.Username, pr.Name, err)
	}
	return bestRole(roles...), nil
}

// principalRoles is p's role in every project it is a member of,
// directly or through its groups.
func (s *Service) principalRoles(ctx context.Context, p Principal) (map[int64]int, error) {
	all, err := s.db.Q().PrincipalRoles(ctx, p.UserID, p.GroupIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]int, len(all))
	for id, roles := range all {
		out[id] = bestRole(roles...)
	}
	return out, nil
}

// roleRank orders Harbor's roles by what they grant; each grants all
// that the ones below it grant (TestRolesNested).
var roleRank = map[int]int{
	RoleLimitedGuest: 1, RoleGuest: 2, RoleDeveloper: 3, RoleMaintainer: 4, RoleProjectAdmin: 5,
}

// bestRole returns the strongest of roles, 0 for none.
func bestRole(roles ...int) int {
	best := 0
	for _, r := range roles {
		if roleRank[r] > roleRank[best] {
			best = r
		}
	}
	return best
}

// Can reports whether p may do action on resource in project.
func (s *Service) Can(ctx context.Context, p Principal, project meta.Project, resource, action string) (bool, error) {
	if p.SysAdmin {
		return true, nil
	}
	if project.Public && PublicAllows(resource, action) {
		return true, nil
	}
	switch p.Kind {
	case RobotKind:
		return p.Robot.grants(project.Name, resource, action), nil
	case UserKind:
		role, err := s.Role(ctx, p, project)
		if err != nil || role == 0 {
			return false, err
		}
		return RoleAllows(role, resource, action), nil
	}
	return false, nil
}

// CanSystem reports whether p may do action on a system-level resource.
func (s *Service) CanSystem(p Principal, resource, action string) bool {
	switch {
	case p.SysAdmin:
		return true
	case p.Kind == RobotKind:
		return p.Robot.grants("", resource, action)
	case p.Kind == UserKind && resource == "project" && action == ActCreate:
		return s.ProjectCreation() == CreationEveryone
	}
	return false
}

// registryPerm maps a Docker token action to the project permission
// behind it, as Harbor does.
func registryPerm(action string) (Perm, bool) {
	switch action {
	case ActPull:
		return Perm{ResRepository, ActPull}, true
	case ActPush:
		return Perm{ResRepository, ActPush}, true
	case ActDelete:
		// Harbor's token service checks repository:delete for the
		// registry's DELETE; both roles that hold it hold artifact:delete.
		return Perm{ResRepository, ActDelete}, true
	}
	return Perm{}, false
}

// RepositoryActions returns which of the requested registry actions
// (pull, push, delete, *) p may perform on repository repo. It never
// fails for lack of rights: what is not allowed is left out, as the Docker
// token protocol expects. missingProject is true when the repository's
// project does not exist, so callers can say so clearly.
func (s *Service) RepositoryActions(ctx context.Context, p Principal, repo string, requested []string) (granted []string, missingProject bool, err error) {
	name := ProjectOf(repo)
	if name == "" {
		return nil, true, nil
	}
	project, err := s.db.Q().GetProjectByName(ctx, name)
	if errs.Is(err, errs.NotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("project %s: %w", name, err)
	}
	want := requested
	if containsStr(requested, ActAll) {
		want = []string{ActPull, ActPush, ActDelete}
	}
	for _, a := range want {
		perm, ok := registryPerm(a)
		if !ok {
			continue
		}
		allowed, err := s.Can(ctx, p, project, perm.Resource, perm.Action)
		if err != nil {
			return nil, false, err
		}
		if allowed && !containsStr(granted, a) {
			granted = append(granted, a)
		}
	}
	if containsStr(requested, ActAll) && len(granted) == 3 {
		granted = []string{ActAll}
	}
	return granted, false, nil
}

// CanSeeRepository reports whether p may list or pull repository repo
// (used to filter the catalog).
func (s *Service) CanSeeRepository(ctx context.Context, p Principal, repo string, projects map[string]*meta.Project) (bool, error) {
	if p.SysAdmin {
		return true, nil
	}
	name := ProjectOf(repo)
	if name == "" {
		return false, nil
	}
	project, ok := projects[name]
	if !ok {
		pr, err := s.db.Q().GetProjectByName(ctx, name)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return false, err
		}
		if err == nil {
			project = &pr
		}
		projects[name] = project
	}
	if project == nil {
		return false, nil
	}
	return s.Can(ctx, p, *project, ResRepository, ActPull)
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
