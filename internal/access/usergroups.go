package access

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// User groups (Harbor's /usergroups): groups of users from an identity
// provider that can be project members. Providers create them as users
// log in (LoginExternal); system administrators may also create them in
// advance, to give a group a role before any of its members logged in.

// GroupQuery filters ListUserGroups.
type GroupQuery struct {
	Name   string // substring of the name
	LDAPDN string // exact DN (any letter case)
}

func groupNotFound(id int64) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "user group %d not found", id)
}

// checkGroupSpec validates a group to create in the current auth mode:
// OIDC groups in oidc_auth, LDAP groups in ldap_auth.
func (s *Service) checkGroupSpec(ctx context.Context, g meta.UserGroup) error {
	mode := s.AuthMode(ctx)
	switch {
	case g.Type == meta.GroupOIDC && mode == AuthOIDC:
	case g.Type == meta.GroupLDAP && mode == AuthLDAP:
	case g.Type == meta.GroupOIDC || g.Type == meta.GroupLDAP || g.Type == meta.GroupHTTP:
		return errs.New(errs.Invalid, "", "group_type %d does not match the auth mode %s (1 LDAP groups need ldap_auth, 3 OIDC groups oidc_auth)", g.Type, mode)
	default:
		return errs.New(errs.Invalid, "", "group_type must be 1 (LDAP), 2 (HTTP) or 3 (OIDC), got %d", g.Type)
	}
	if err := checkGroupName(g.Name); err != nil {
		return err
	}
	if g.Type == meta.GroupLDAP {
		if g.LDAPDN == "" {
			return errs.New(errs.Invalid, "", "an LDAP group needs its ldap_group_dn")
		}
		if err := checkText("ldap_group_dn", g.LDAPDN); err != nil || len(g.LDAPDN) > 1024 {
			return errs.New(errs.Invalid, "", "ldap_group_dn must be UTF-8 text of at most 1024 bytes")
		}
		if err := checkLDAPDN(g.LDAPDN); err != nil {
			return err
		}
	} else if g.LDAPDN != "" {
		return errs.New(errs.Invalid, "", "only LDAP groups (group_type 1) have an ldap_group_dn")
	}
	return nil
}

func checkGroupName(name string) error {
	switch {
	case name == "":
		return errs.New(errs.Invalid, "", "group_name is required")
	case len(name) > 255:
		return errs.New(errs.Invalid, "", "group_name is longer than 255 bytes")
	case !plainText(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errs.New(errs.Invalid, "", "group_name must be UTF-8 text without control characters")
	}
	return nil
}

// ListUserGroups lists user groups to those who may list them (system
// administrators).
func (s *Service) ListUserGroups(ctx context.Context, p Principal, gq GroupQuery, o meta.ListOptions) ([]meta.UserGroup, int, error) {
	if !s.CanSystem(p, "user-group", ActList) {
		return nil, 0, forbidden(p, "list user groups")
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	if err := checkText("group_name", gq.Name); err != nil {
		return nil, 0, err
	}
	if err := checkText("ldap_group_dn", gq.LDAPDN); err != nil {
		return nil, 0, err
	}
	if gq.Name != "" {
		o.Query = append(o.Query, meta.Cond{Key: "group_name", Op: "~", Values: []string{gq.Name}})
	}
	if gq.LDAPDN != "" {
		o.Query = append(o.Query, meta.Cond{Key: "ldap_group_dn", Op: "=", Values: []string{gq.LDAPDN}})
	}
	return s.db.Q().ListUserGroups(ctx, o)
}

// SearchUserGroups finds groups whose name contains name, for any
// authenticated user (to pick members).
func (s *Service) SearchUserGroups(ctx context.Context, p Principal, name string, o meta.ListOptions) ([]meta.UserGroup, int, error) {
	if p.IsAnonymous() {
		return nil, 0, forbidden(p, "search user groups")
	}
	if name == "" {
		return nil, 0, errs.New(errs.Invalid, "", "the groupname parameter is required")
	}
	if err := checkText("groupname", name); err != nil {
		return nil, 0, err
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	o.Query = []meta.Cond{{Key: "group_name", Op: "~", Values: []string{name}}}
	return s.db.Q().ListUserGroups(ctx, o)
}

// GetUserGroup returns group id to those who may read groups.
func (s *Service) GetUserGroup(ctx context.Context, p Principal, id int64) (meta.UserGroup, error) {
	if !s.CanSystem(p, "user-group", ActRead) {
		return meta.UserGroup{}, forbidden(p, "read user groups")
	}
	g, err := s.db.Q().GetUserGroup(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return meta.UserGroup{}, groupNotFound(id)
	}
	return g, err
}

// CreateUserGroup creates a group of the auth mode's type.
func (s *Service) CreateUserGroup(ctx context.Context, p Principal, source string, g meta.UserGroup) (meta.UserGroup, error) {
	if !s.CanSystem(p, "user-group", ActCreate) {
		return meta.UserGroup{}, forbidden(p, "create user groups")
	}
	named := g.Name != ""
	if g.Type == meta.GroupLDAP && !named {
		g.Name = g.LDAPDN
	}
	if err := s.checkGroupSpec(ctx, g); err != nil {
		return meta.UserGroup{}, err
	}
	if g.Type == meta.GroupLDAP {
		// Harbor answers 400 when the DN is not in the directory.
		var err error
		if g, err = s.resolveLDAPGroup(ctx, g, named); errs.Is(err, errs.NotFound) {
			return meta.UserGroup{}, errs.New(errs.Invalid, "", "%s", errMessage(err))
		} else if err != nil {
			return meta.UserGroup{}, err
		}
	}
	g, err := s.db.Q().CreateUserGroup(ctx, g)
	if errs.Is(err, errs.Conflict) {
		return meta.UserGroup{}, errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
	}
	if err != nil {
		return meta.UserGroup{}, fmt.Errorf("create user group: %w", err)
	}
	s.auditGroup(ctx, p, source, g, "create")
	return g, nil
}

// RenameUserGroup changes group id's name, the only thing that changes.
func (s *Service) RenameUserGroup(ctx context.Context, p Principal, source string, id int64, name string) error {
	if !s.CanSystem(p, "user-group", ActUpdate) {
		return forbidden(p, "update user groups")
	}
	if err := checkGroupName(name); err != nil {
		return err
	}
	g, err := s.db.Q().GetUserGroup(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return groupNotFound(id)
	}
	if err != nil {
		return err
	}
	err = s.db.Q().RenameUserGroup(ctx, id, name)
	if errs.Is(err, errs.Conflict) {
		return errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
	}
	if errs.Is(err, errs.NotFound) {
		return groupNotFound(id)
	}
	if err != nil {
		return err
	}
	g.Name = name
	s.auditGroup(ctx, p, source, g, "update")
	return nil
}

// DeleteUserGroup deletes group id and its project memberships.
func (s *Service) DeleteUserGroup(ctx context.Context, p Principal, source string, id int64) error {
	if !s.CanSystem(p, "user-group", ActDelete) {
		return forbidden(p, "delete user groups")
	}
	g, err := s.db.Q().GetUserGroup(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return groupNotFound(id)
	}
	if err != nil {
		return err
	}
	if err := s.db.Q().DeleteUserGroup(ctx, id); err != nil {
		if errs.Is(err, errs.NotFound) {
			return groupNotFound(id)
		}
		return err
	}
	s.auditGroup(ctx, p, source, g, "delete")
	return nil
}

func (s *Service) auditGroup(ctx context.Context, p Principal, source string, g meta.UserGroup, op string) {
	s.Audit(ctx, meta.AuditLog{Username: p.Name(), Resource: g.Name, ResourceType: "user-group",
		Operation: op, SourceIP: source, Detail: "group_type=" + strconv.Itoa(g.Type)})
}
