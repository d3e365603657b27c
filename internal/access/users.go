package access

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Local users (database authentication): who may create, see, change and
// delete them, and the rules for names, profiles and passwords, following
// Harbor's user API. Robots are machines: they manage no users and have no
// profile.

// NewUser is a request to create a user.
type NewUser struct {
	Username, Email, Realname, Comment, Password string
}

// UserProfile holds what a user may change about itself; nil keeps a
// field as it is.
type UserProfile struct {
	Email, Realname, Comment *string
}

// adminUserID is the account created at first start, which can be
// neither deleted nor demoted.
const adminUserID = 1

// illegalNameChars are the characters Harbor refuses in user names and
// real names.
const illegalNameChars = ",~#$%"

const selfRegistrationSetting = "access.self_registration"

// SelfRegistration reports whether anonymous callers may create their own
// (non-administrator) account. It is off unless turned on.
func (s *Service) SelfRegistration(ctx context.Context) (bool, error) {
	v, err := s.db.Q().GetSetting(ctx, selfRegistrationSetting)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read self-registration setting: %w", err)
	}
	return string(v) == "true", nil
}

// SetSelfRegistration turns self-registration on or off for every node.
func (s *Service) SetSelfRegistration(ctx context.Context, on bool) error {
	if err := s.db.Q().PutSetting(ctx, selfRegistrationSetting, []byte(strconv.FormatBool(on))); err != nil {
		return fmt.Errorf("store self-registration setting: %w", err)
	}
	return nil
}

// CheckUsername enforces Harbor's rules for user names: 1 to 255
// characters, none of them a control character or one of ,~#$%, and not
// starting with the robot prefix, which would make the account a robot at
// login.
func (s *Service) CheckUsername(name string) error {
	switch {
	case name == "":
		return errs.New(errs.Invalid, "", "the username is empty")
	case len(name) > 255:
		return errs.New(errs.Invalid, "", "the username is longer than 255 characters")
	case s.robotPrefix != "" && strings.HasPrefix(strings.ToLower(name), strings.ToLower(s.robotPrefix)):
		return errs.New(errs.Invalid, "", "the username must not start with the robot prefix %q", s.robotPrefix)
	case strings.IndexFunc(name, unicode.IsControl) >= 0 || strings.ContainsAny(name, illegalNameChars):
		return errs.New(errs.Invalid, "", "the username contains illegal characters (control characters or any of %s)", illegalNameChars)
	case strings.TrimSpace(name) != name:
		return errs.New(errs.Invalid, "", "the username starts or ends with a space")
	}
	return nil
}

// checkProfile validates the profile fields.
func checkProfile(email, realname, comment string) error {
	for _, f := range []struct{ name, value string }{{"email", email}, {"realname", realname}, {"comment", comment}} {
		if err := checkText(f.name, f.value); err != nil {
			return err
		}
	}
	if email != "" {
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || a.Name != "" || len(email) > 255 ||
			!strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
			return errs.New(errs.Invalid, "", "email with illegal format: %q", clip(email))
		}
	}
	if len(realname) > 255 {
		return errs.New(errs.Invalid, "", "the real name is longer than 255 characters")
	}
	if strings.IndexFunc(realname, unicode.IsControl) >= 0 || strings.ContainsAny(realname, illegalNameChars) {
		return errs.New(errs.Invalid, "", "the real name contains illegal characters (control characters or any of %s)", illegalNameChars)
	}
	if len(comment) > 1024 {
		return errs.New(errs.Invalid, "", "the comment is longer than 1024 characters")
	}
	return nil
}

// mayManageUsers reports whether p may do action on other users' accounts:
// system administrators only. Robots never manage users.
func (s *Service) mayManageUsers(p Principal, action string) bool {
	return p.Kind == UserKind && s.CanSystem(p, "user", action)
}

func isSelf(p Principal, id int64) bool { return p.Kind == UserKind && p.UserID == id }

func userNotFound(id int64) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "user %d not found", id)
}

func (s *Service) auditUser(ctx context.Context, p Principal, source string, u meta.User, op, detail string) {
	s.Audit(ctx, meta.AuditLog{Username: p.Name(), Resource: u.Username, ResourceType: "user",
		Operation: op, SourceIP: source, Detail: detail})
}

// CreateUser creates a local user. System administrators may; anonymous
// callers may register themselves only when self-registration is on.
func (s *Service) CreateUser(ctx context.Context, p Principal, source string, nu NewUser) (meta.User, error) {
	switch {
	case p.IsAnonymous():
		on, err := s.SelfRegistration(ctx)
		if err != nil {
			return meta.User{}, err
		}
		if !on {
			return meta.User{}, forbidden(p, "create users (self-registration is off)")
		}
	case !s.mayManageUsers(p, ActCreate):
		return meta.User{}, forbidden(p, "create users")
	}
	if mode := s.AuthMode(ctx); mode != AuthDB {
		return meta.User{}, errs.New(errs.Denied, "FORBIDDEN",
			"local users can only be created in db_auth mode (the auth mode is %s); users come from the identity provider", mode)
	}
	if err := s.CheckUsername(nu.Username); err != nil {
		return meta.User{}, err
	}
	if err := checkProfile(nu.Email, nu.Realname, nu.Comment); err != nil {
		return meta.User{}, err
	}
	if nu.Password == "" {
		return meta.User{}, errs.New(errs.Invalid, "", "the password is required")
	}
	if err := CheckPasswordPolicy(nu.Password); err != nil {
		return meta.User{}, err
	}
	hash, err := HashSecret(nu.Password)
	if err != nil {
		return meta.User{}, err
	}
	u, err := s.db.Q().CreateUser(ctx, meta.User{
		Username: nu.Username, Email: nu.Email, Realname: nu.Realname, Comment: nu.Comment, PasswordHash: hash,
	})
	if errs.Is(err, errs.Conflict) {
		return meta.User{}, errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
	}
	if err != nil {
		return meta.User{}, fmt.Errorf("create user %s: %w", clip(nu.Username), err)
	}
	actor := p
	if p.IsAnonymous() {
		actor = UserPrincipal(u) // self-registration
	}
	s.auditUser(ctx, actor, source, u, "create", "")
	return u, nil
}

// errMessage is the client-safe message of err.
func errMessage(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Msg
	}
	return err.Error()
}

// ListUsers lists users for system administrators.
func (s *Service) ListUsers(ctx context.Context, p Principal, o meta.ListOptions) ([]meta.User, int, error) {
	if !s.mayManageUsers(p, ActList) {
		return nil, 0, forbidden(p, "list users")
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	return s.db.Q().ListUsers(ctx, o)
}

// SearchUsers finds users whose name contains username, for any
// authenticated caller (to pick members); it reveals only names and IDs.
func (s *Service) SearchUsers(ctx context.Context, p Principal, username string, o meta.ListOptions) ([]meta.User, int, error) {
	if p.IsAnonymous() {
		return nil, 0, forbidden(p, "search users")
	}
	if username == "" {
		return nil, 0, errs.New(errs.Invalid, "", "the username parameter is required")
	}
	if err := checkText("username", username); err != nil {
		return nil, 0, err
	}
	o.Query = []meta.Cond{{Key: "username", Op: "~", Values: []string{username}}}
	return s.db.Q().ListUsers(ctx, o)
}

// CurrentUser returns the caller's own account. Robots have none: 412, as
// in Harbor, which tells clients such as harbor-cli to fall back.
func (s *Service) CurrentUser(ctx context.Context, p Principal) (meta.User, error) {
	switch p.Kind {
	case Anonymous:
		return meta.User{}, forbidden(p, "read the current user")
	case RobotKind:
		return meta.User{}, errs.New(errs.Conflict, "PRECONDITION", "%s is a robot account, which has no user profile", p.Name())
	}
	u, err := s.db.Q().GetUser(ctx, p.UserID)
	if errs.Is(err, errs.NotFound) {
		return meta.User{}, userNotFound(p.UserID)
	}
	return u, err
}

// userFor loads user id for p: itself, or anyone for a system
// administrator. Others are refused before the lookup, so user IDs do
// not leak.
func (s *Service) userFor(ctx context.Context, p Principal, id int64, action string) (meta.User, error) {
	if !isSelf(p, id) && !s.mayManageUsers(p, action) {
		return meta.User{}, forbidden(p, "%s user %d", action, id)
	}
	u, err := s.db.Q().GetUser(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return meta.User{}, userNotFound(id)
	}
	if err != nil {
		return meta.User{}, fmt.Errorf("user %d: %w", id, err)
	}
	return u, nil
}

// GetUser returns user id to itself or to a system administrator.
func (s *Service) GetUser(ctx context.Context, p Principal, id int64) (meta.User, error) {
	return s.userFor(ctx, p, id, ActRead)
}

// UpdateUserProfile changes a user's email, real name and comment; users
// may change their own.
func (s *Service) UpdateUserProfile(ctx context.Context, p Principal, source string, id int64, prof UserProfile) (meta.User, error) {
	u, err := s.userFor(ctx, p, id, ActUpdate)
	if err != nil {
		return meta.User{}, err
	}
	if prof.Email != nil {
		u.Email = *prof.Email
	}
	if prof.Realname != nil {
		u.Realname = *prof.Realname
	}
	if prof.Comment != nil {
		u.Comment = *prof.Comment
	}
	if err := checkProfile(u.Email, u.Realname, u.Comment); err != nil {
		return meta.User{}, err
	}
	if err := s.db.Q().UpdateUser(ctx, u); err != nil {
		if errs.Is(err, errs.Conflict) {
			return meta.User{}, errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
		}
		return meta.User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	s.auditUser(ctx, p, source, u, "update", "profile")
	return u, nil
}

// DeleteUser deletes a user, with its memberships and sessions. Nobody
// deletes itself or the first administrator.
func (s *Service) DeleteUser(ctx context.Context, p Principal, source string, id int64) error {
	if !s.mayManageUsers(p, ActDelete) {
		return forbidden(p, "delete users")
	}
	if isSelf(p, id) {
		return errs.New(errs.Denied, "FORBIDDEN", "you cannot delete your own account")
	}
	if id == adminUserID {
		return errs.New(errs.Denied, "FORBIDDEN", "the first administrator account cannot be deleted")
	}
	u, err := s.userFor(ctx, p, id, ActDelete)
	if err != nil {
		return err
	}
	if err := s.db.Q().DeleteUser(ctx, id); err != nil {
		if errs.Is(err, errs.NotFound) {
			return userNotFound(id)
		}
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	s.auditUser(ctx, p, source, u, "delete", "")
	return nil
}

// SetSysAdmin grants or revokes system administration. Nobody revokes its
// own, nor the first administrator's, so the system keeps an
// administrator.
func (s *Service) SetSysAdmin(ctx context.Context, p Principal, source string, id int64, admin bool) error {
	if !s.mayManageUsers(p, ActUpdate) {
		return forbidden(p, "change administrator rights")
	}
	if !admin && isSelf(p, id) {
		return errs.New(errs.Denied, "FORBIDDEN", "you cannot revoke your own administrator rights")
	}
	if !admin && id == adminUserID {
		return errs.New(errs.Denied, "FORBIDDEN", "the first administrator's rights cannot be revoked")
	}
	u, err := s.userFor(ctx, p, id, ActUpdate)
	if err != nil {
		return err
	}
	if u.SysAdmin == admin {
		return nil
	}
	u.SysAdmin = admin
	if err := s.db.Q().UpdateUser(ctx, u); err != nil {
		return fmt.Errorf("update user %d: %w", id, err)
	}
	detail := "sysadmin revoked"
	if admin {
		detail = "sysadmin granted"
	}
	s.auditUser(ctx, p, source, u, "update", detail)
	return nil
}

// ChangePassword sets a user's password. Users changing their own must
// give the current one (403 otherwise); system administrators resetting
// someone else's need not. The new password must meet the policy and
// differ from the old one. Every session of the user ends.
func (s *Service) ChangePassword(ctx context.Context, p Principal, source string, id int64, oldPassword, newPassword string) error {
	u, err := s.userFor(ctx, p, id, ActUpdate)
	if err != nil {
		return err
	}
	if _, ext, err := s.externalSource(ctx, id); err != nil {
		return err
	} else if ext {
		return errs.New(errs.Invalid, "", "%s signs in through the identity provider and has no password in berth", u.Username)
	}
	if isSelf(p, id) && (u.PasswordHash == "" || !VerifySecret(u.PasswordHash, oldPassword)) {
		s.log.Warn("password change refused: wrong current password", "username", u.Username, "source", source)
		return errs.New(errs.Denied, "FORBIDDEN", "the current password is incorrect")
	}
	if newPassword == "" {
		return errs.New(errs.Invalid, "", "new_password is required")
	}
	if err := CheckPasswordPolicy(newPassword); err != nil {
		return err
	}
	if u.PasswordHash != "" && VerifySecret(u.PasswordHash, newPassword) {
		return errs.New(errs.Invalid, "", "the new password is the same as the old one")
	}
	hash, err := HashSecret(newPassword)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		if err := q.UpdateUser(ctx, u); err != nil {
			return err
		}
		return q.DeleteUserSessions(ctx, u.ID)
	})
	if errs.Is(err, errs.NotFound) {
		return userNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("change password of user %d: %w", id, err)
	}
	s.auditUser(ctx, p, source, u, "update", "password changed")
	return nil
}

// Permissions lists what p may do within scope: "/project/<id>" for a
// project's permissions, "/system" (or "") for system ones. Resources are
// absolute ("/project/1/repository") unless relative, when they are
// relative to the scope ("repository", and "." for the project itself),
// as Harbor's UI expects. A project that does not exist, or that p cannot
// see, yields no permissions.
func (s *Service) Permissions(ctx context.Context, p Principal, scope string, relative bool) ([]Perm, error) {
	if p.IsAnonymous() {
		return nil, forbidden(p, "read permissions")
	}
	out := []Perm{}
	scope = strings.TrimSuffix(scope, "/")
	if scope == "" || scope == "/system" {
		for _, perm := range SystemPerms() {
			if !s.CanSystem(p, perm.Resource, perm.Action) {
				continue
			}
			res := "/system/" + perm.Resource
			if relative && scope != "" {
				res = perm.Resource
			}
			out = append(out, Perm{res, perm.Action})
		}
		return out, nil
	}
	rest, ok := strings.CutPrefix(scope, "/project/")
	id, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || id <= 0 {
		return nil, errs.New(errs.Invalid, "", "scope must be /system or /project/<id>, got %q", clip(scope))
	}
	pr, err := s.db.Q().GetProject(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("project %d: %w", id, err)
	}
	can, err := s.evaluator(ctx, p, pr)
	if err != nil {
		return nil, err
	}
	for _, perm := range ProjectPerms() {
		if !can(perm.Resource, perm.Action) {
			continue
		}
		var res string
		switch {
		case relative && perm.Resource == ResProject:
			res = "."
		case relative:
			res = perm.Resource
		case perm.Resource == ResProject:
			res = scope
		default:
			res = scope + "/" + perm.Resource
		}
		out = append(out, Perm{res, perm.Action})
	}
	return out, nil
}
