package access

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Project members: who may list, add, change and remove them, following
// Harbor's member API. Members are users or user groups (usergroups.go);
// a user holds its own role and those of its groups.

// MemberSpec is a request to add a member: a user by ID or, when UserID
// is 0, by name; or, when Group is set, a user group by GroupID or, when
// that is 0, by type and name (LDAP: DN), created when new as Harbor does.
type MemberSpec struct {
	RoleID   int
	UserID   int64
	Username string

	Group     bool
	GroupID   int64
	GroupName string
	GroupType int
	GroupDN   string
}

func checkRole(role int) error {
	if !ValidRole(role) {
		return errs.New(errs.Invalid, "", "role_id must be 1 (projectAdmin), 2 (developer), 3 (guest), 4 (maintainer) or 5 (limitedGuest), got %d", role)
	}
	return nil
}

func memberNotFound(pr meta.Project, id int64) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "member %d not found in project %s", id, pr.Name)
}

func (s *Service) auditMember(ctx context.Context, p Principal, source string, pr meta.Project, m meta.Member, op, detail string) {
	s.Audit(ctx, meta.AuditLog{ProjectID: pr.ID, Username: p.Name(), Resource: m.EntityName, ResourceType: "member",
		Operation: op, SourceIP: source, Detail: detail})
}

// ListMembers lists the project's members whose name contains entityName
// ("" for all), if p may list them.
func (s *Service) ListMembers(ctx context.Context, p Principal, ref ProjectRef, entityName string, o meta.ListOptions) ([]meta.Member, int, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResMember, ActList)
	if err != nil {
		return nil, 0, err
	}
	if err := checkText("entityname", entityName); err != nil {
		return nil, 0, err
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	return s.db.Q().ListMembers(ctx, pr.ID, entityName, o)
}

// GetMember returns member id of the project, if p may read members.
func (s *Service) GetMember(ctx context.Context, p Principal, ref ProjectRef, id int64) (meta.Member, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResMember, ActRead)
	if err != nil {
		return meta.Member{}, err
	}
	m, err := s.db.Q().GetMember(ctx, pr.ID, id)
	if errs.Is(err, errs.NotFound) {
		return meta.Member{}, memberNotFound(pr, id)
	}
	return m, err
}

// AddMember gives a user a role in the project, if p may add members.
// The project and the added member are returned so that callers can
// build the member's location.
func (s *Service) AddMember(ctx context.Context, p Principal, source string, ref ProjectRef, spec MemberSpec) (meta.Member, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResMember, ActCreate)
	if err != nil {
		return meta.Member{}, err
	}
	if err := checkRole(spec.RoleID); err != nil {
		return meta.Member{}, err
	}
	if spec.Group {
		return s.addGroupMember(ctx, p, source, pr, spec)
	}
	q := s.db.Q()
	var u meta.User
	switch {
	case spec.UserID > 0:
		u, err = q.GetUser(ctx, spec.UserID)
		if errs.Is(err, errs.NotFound) {
			return meta.Member{}, errs.New(errs.Invalid, "", "user %d does not exist", spec.UserID)
		}
	case spec.UserID == 0 && spec.Username != "":
		u, err = meta.User{}, errs.New(errs.NotFound, "", "no such user")
		if plainText(spec.Username) && len(spec.Username) <= 255 {
			u, err = q.GetUserByName(ctx, spec.Username)
		}
		if errs.Is(err, errs.NotFound) {
			return meta.Member{}, errs.New(errs.Invalid, "", "user %q does not exist", clip(spec.Username))
		}
	default:
		return meta.Member{}, errs.New(errs.Invalid, "", "member_user needs a user_id or a username")
	}
	if err != nil {
		return meta.Member{}, fmt.Errorf("member user: %w", err)
	}
	m, err := q.AddMember(ctx, meta.Member{ProjectID: pr.ID, EntityType: meta.MemberUser, EntityID: u.ID, RoleID: spec.RoleID})
	if errs.Is(err, errs.Conflict) {
		return meta.Member{}, errs.New(errs.Conflict, "CONFLICT", "%s is already a member of project %s", u.Username, pr.Name)
	}
	if errs.Is(err, errs.NotFound) {
		return meta.Member{}, errs.New(errs.NotFound, "NOT_FOUND", "%s", errMessage(err))
	}
	if err != nil {
		return meta.Member{}, fmt.Errorf("add member %s to project %s: %w", u.Username, pr.Name, err)
	}
	m.EntityName = u.Username
	s.auditMember(ctx, p, source, pr, m, "create", RoleName(m.RoleID))
	return m, nil
}

// addGroupMember gives a user group a role in pr.
func (s *Service) addGroupMember(ctx context.Context, p Principal, source string, pr meta.Project, spec MemberSpec) (meta.Member, error) {
	q := s.db.Q()
	var g meta.UserGroup
	var err error
	if spec.GroupID > 0 {
		g, err = q.GetUserGroup(ctx, spec.GroupID)
		if errs.Is(err, errs.NotFound) {
			return meta.Member{}, errs.New(errs.Invalid, "", "user group %d does not exist", spec.GroupID)
		}
	} else {
		want := meta.UserGroup{Name: spec.GroupName, Type: spec.GroupType, LDAPDN: spec.GroupDN}
		named := want.Name != ""
		if want.Type == meta.GroupLDAP && !named {
			want.Name = want.LDAPDN
		}
		if err := s.checkGroupSpec(ctx, want); err != nil {
			return meta.Member{}, err
		}
		if want.Type == meta.GroupLDAP {
			if want, err = s.resolveLDAPGroup(ctx, want, named); err != nil {
				return meta.Member{}, err
			}
		}
		g, err = q.EnsureUserGroup(ctx, want)
	}
	if err != nil {
		return meta.Member{}, fmt.Errorf("member group: %w", err)
	}
	m, err := q.AddMember(ctx, meta.Member{ProjectID: pr.ID, EntityType: meta.MemberGroup, EntityID: g.ID, RoleID: spec.RoleID})
	if errs.Is(err, errs.Conflict) {
		return meta.Member{}, errs.New(errs.Conflict, "CONFLICT", "group %s is already a member of project %s", g.Name, pr.Name)
	}
	if errs.Is(err, errs.NotFound) {
		return meta.Member{}, errs.New(errs.NotFound, "NOT_FOUND", "%s", errMessage(err))
	}
	if err != nil {
		return meta.Member{}, fmt.Errorf("add group %s to project %s: %w", g.Name, pr.Name, err)
	}
	s.auditMember(ctx, p, source, pr, m, "create", RoleName(m.RoleID))
	return m, nil
}

// lastAdminGuard refuses to let the caller drop its own Project Admin
// role (by removal or demotion) when it is the project's last one, which
// would leave the project without an administrator among its members.
func lastAdminGuard(ctx context.Context, q *meta.Q, p Principal, pr meta.Project, m meta.Member) error {
	if m.RoleID != RoleProjectAdmin || m.EntityType != meta.MemberUser || !isSelf(p, m.EntityID) {
		return nil
	}
	counts, err := q.CountMembersByRole(ctx, pr.ID)
	if err != nil {
		return err
	}
	if counts[RoleProjectAdmin] <= 1 {
		return errs.New(errs.Conflict, "PRECONDITION", "you are the last Project Admin of %s; make another member Project Admin first", pr.Name)
	}
	return nil
}

// UpdateMember changes member id's role, if p may update members.
func (s *Service) UpdateMember(ctx context.Context, p Principal, source string, ref ProjectRef, id int64, role int) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResMember, ActUpdate)
	if err != nil {
		return err
	}
	if err := checkRole(role); err != nil {
		return err
	}
	var m meta.Member
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		var err error
		if m, err = q.GetMember(ctx, pr.ID, id); err != nil {
			return err
		}
		if role != RoleProjectAdmin {
			if err := lastAdminGuard(ctx, q, p, pr, m); err != nil {
				return err
			}
		}
		return q.UpdateMemberRole(ctx, pr.ID, id, role)
	})
	if errs.Is(err, errs.NotFound) {
		return memberNotFound(pr, id)
	}
	if err != nil {
		return err
	}
	s.auditMember(ctx, p, source, pr, m, "update", fmt.Sprintf("%s -> %s", RoleName(m.RoleID), RoleName(role)))
	return nil
}

// RemoveMember removes member id from the project, if p may delete
// members.
func (s *Service) RemoveMember(ctx context.Context, p Principal, source string, ref ProjectRef, id int64) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResMember, ActDelete)
	if err != nil {
		return err
	}
	var m meta.Member
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		var err error
		if m, err = q.GetMember(ctx, pr.ID, id); err != nil {
			return err
		}
		if err := lastAdminGuard(ctx, q, p, pr, m); err != nil {
			return err
		}
		return q.DeleteMember(ctx, pr.ID, id)
	})
	if errs.Is(err, errs.NotFound) {
		return memberNotFound(pr, id)
	}
	if err != nil {
		return err
	}
	s.auditMember(ctx, p, source, pr, m, "delete", RoleName(m.RoleID))
	return nil
}
