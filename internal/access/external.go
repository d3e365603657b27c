package access

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Users who come from an identity provider (OIDC, LDAP). The provider
// packages (internal/oidc, internal/ldapauth) talk to the provider; this
// file owns what berth stores about the user afterwards: the account,
// the link to the provider's identity, the user's groups and the admin
// flag an admin group grants. Both providers call LoginExternal after the
// provider vouched for a user.

// ExternalLogin is what a provider says about a user who just proved who
// it is.
type ExternalLogin struct {
	Source  string // meta.SourceOIDC or meta.SourceLDAP
	Issuer  string // OIDC issuer; LDAP: "" (or the server URL)
	Subject string // OIDC "sub"; LDAP: the user's DN (normalised)

	// Username is the account name for a new user (the user claim, the
	// LDAP uid attribute). An existing user keeps its name.
	Username string
	Email    string
	Realname string

	// Groups the provider says the user belongs to, created when new:
	// OIDC groups by name (Type meta.GroupOIDC), LDAP groups by DN
	// (Type meta.GroupLDAP, Name its display name). They replace the
	// user's previous groups. nil leaves the stored groups as they are.
	Groups []meta.UserGroup

	// Admin, when not nil, sets the user's system administrator flag
	// (membership of the configured admin group).
	Admin *bool

	// RefreshToken (OIDC) is stored sealed, for re-checking the user
	// when its CLI secret is used. "" keeps the stored one.
	RefreshToken string
}

// ErrNotOnboarded is the kind LoginExternal answers (NotFound) when the
// identity has no account and onboard is false: the caller asks the user
// for a name and calls it again with onboard true.
const codeNotOnboarded = "NOT_ONBOARDED"

// IsNotOnboarded reports whether err says the identity has no account.
func IsNotOnboarded(err error) bool {
	e, ok := errs.As(err)
	return ok && e.Code == codeNotOnboarded
}

// LoginExternal finds the account linked to l's identity, or creates it
// when onboard is true (NotFound with IsNotOnboarded otherwise), brings
// its groups, admin flag and refresh token up to date, records that the
// provider vouched for it now, and returns the account and its
// principal. A disabled account is refused (Unauthorized). A new
// account's name must be free (Conflict otherwise).
func (s *Service) LoginExternal(ctx context.Context, l ExternalLogin, onboard bool) (meta.User, Principal, error) {
	if l.Source != meta.SourceOIDC && l.Source != meta.SourceLDAP || l.Subject == "" {
		return meta.User{}, Principal{}, fmt.Errorf("external login: bad identity %q/%q", l.Source, l.Subject)
	}
	q := s.db.Q()
	u, _, err := q.FindUserByIdentity(ctx, l.Source, l.Issuer, l.Subject)
	created := false
	switch {
	case errs.Is(err, errs.NotFound) && !onboard:
		return meta.User{}, Principal{}, errs.New(errs.NotFound, codeNotOnboarded,
			"%s has no account in berth yet", clip(l.Subject))
	case errs.Is(err, errs.NotFound):
		u, err = s.onboard(ctx, l)
		if errs.Is(err, errs.Conflict) {
			// A concurrent first sign-in of the same identity may have
			// won the race: then its account is this one.
			if won, _, ferr := q.FindUserByIdentity(ctx, l.Source, l.Issuer, l.Subject); ferr == nil {
				u, err = won, nil
				break
			}
		}
		if err != nil {
			return meta.User{}, Principal{}, err
		}
		created = true
	case err != nil:
		return meta.User{}, Principal{}, err
	}
	if u.Disabled {
		return meta.User{}, Principal{}, unauthorized("the account %s is disabled", u.Username)
	}
	if err := s.syncExternal(ctx, &u, l, created); err != nil {
		return meta.User{}, Principal{}, err
	}
	// No audit record here: sign-ins that open a session are recorded
	// there, and password checks on every registry request are not.
	p, err := s.PrincipalFor(ctx, u)
	if err != nil {
		return meta.User{}, Principal{}, err
	}
	return u, p, nil
}

// onboard creates the account of a new external identity. OIDC users
// get a CLI secret at once, as in Harbor.
func (s *Service) onboard(ctx context.Context, l ExternalLogin) (meta.User, error) {
	if err := s.CheckUsername(l.Username); err != nil {
		return meta.User{}, err
	}
	email := l.Email
	if checkProfile(email, "", "") != nil {
		email = "" // providers may send addresses Harbor's rules refuse
	}
	realname := l.Realname
	if checkProfile("", realname, "") != nil {
		realname = ""
	}
	id := meta.UserIdentity{Source: l.Source, Issuer: l.Issuer, Subject: l.Subject, VerifiedAt: s.now().UTC()}
	if l.Source == meta.SourceOIDC {
		secret, err := newCLISecret()
		if err != nil {
			return meta.User{}, err
		}
		if id.CLISecret, err = s.Seal(purposeCLISecret, []byte(secret)); err != nil {
			return meta.User{}, err
		}
		id.CLISecretHash = s.secretMAC(secret)
	}
	u, err := s.db.Q().CreateExternalUser(ctx, meta.User{Username: l.Username, Email: email, Realname: realname}, id)
	if errs.Is(err, errs.Conflict) {
		return meta.User{}, errs.New(errs.Conflict, "CONFLICT", "%s", errMessage(err))
	}
	if err != nil {
		return meta.User{}, fmt.Errorf("onboard %s: %w", clip(l.Username), err)
	}
	s.Audit(ctx, meta.AuditLog{Username: u.Username, Resource: u.Username, ResourceType: "user",
		Operation: "create", Detail: "onboarded from " + l.Source})
	return u, nil
}

// syncExternal stores what the provider said this time.
func (s *Service) syncExternal(ctx context.Context, u *meta.User, l ExternalLogin, created bool) error {
	return s.db.Tx(ctx, func(q *meta.Q) error {
		if l.Groups != nil {
			ids := make([]int64, 0, len(l.Groups))
			for _, g := range l.Groups {
				if g.Type == meta.GroupLDAP && g.Name == "" {
					g.Name = g.LDAPDN
				}
				got, err := q.EnsureUserGroup(ctx, g)
				if err != nil {
					return fmt.Errorf("group %s of %s: %w", clip(g.Name), u.Username, err)
				}
				ids = append(ids, got.ID)
			}
			if err := q.SetUserGroups(ctx, u.ID, ids); err != nil {
				return err
			}
		}
		if l.Admin != nil && *l.Admin != u.SysAdmin && u.ID != adminUserID {
			u.SysAdmin = *l.Admin
			if err := q.UpdateUser(ctx, *u); err != nil {
				return err
			}
		}
		var rt []byte
		if l.RefreshToken != "" {
			var err error
			if rt, err = s.Seal(purposeRefreshToken, []byte(l.RefreshToken)); err != nil {
				return err
			}
		}
		if created && rt == nil {
			return nil // verified at creation
		}
		return q.UpdateIdentityVerified(ctx, u.ID, rt, s.now().UTC())
	})
}

// PrincipalFor returns the principal of user u with its groups, as
// every authentication path builds it.
func (s *Service) PrincipalFor(ctx context.Context, u meta.User) (Principal, error) {
	p := UserPrincipal(u)
	ids, err := s.db.Q().UserGroupIDs(ctx, u.ID)
	if err != nil {
		return Principal{}, err
	}
	if len(ids) > 0 {
		p.GroupIDs = ids
	}
	return p, nil
}

// PasswordProvider checks a user name and password against a directory
// (LDAP) for users other than the first administrator, in the matching
// auth mode. On success it returns the account, having called
// LoginExternal; a wrong password or unknown user is an Unauthorized
// error whose message is logged, never shown.
type PasswordProvider interface {
	AuthenticatePassword(ctx context.Context, username, password string) (meta.User, error)
}

// IdentityChecker asks the provider whether an external user is still
// allowed in, when the user's CLI secret is used and the last check is
// older than recheckInterval. refreshToken is the stored one (unsealed,
// "" when none). An error refuses the user: Unauthorized when the provider
// refused (the user is disabled or gone), anything else when the provider
// could not be asked.
type IdentityChecker interface {
	Recheck(ctx context.Context, u meta.User, id meta.UserIdentity, refreshToken string) (Rechecked, error)
}

// Rechecked is what the provider said when asked again.
type Rechecked struct {
	RefreshToken string           // the new refresh token; "" keeps the stored one
	Groups       []meta.UserGroup // the user's groups now; nil when the provider did not say
	Admin        *bool            // admin-group membership now; nil when not known
}

// providers holds the provider hooks, set once at start.
type providers struct {
	mu       sync.RWMutex
	password map[string]PasswordProvider // by auth mode
	checkers map[string]IdentityChecker  // by identity source
	groups   GroupResolver               // LDAP group DNs, in ldap_auth
}

// SetPasswordProvider makes pp check passwords in auth mode mode.
func (s *Service) SetPasswordProvider(mode string, pp PasswordProvider) {
	s.providers.mu.Lock()
	defer s.providers.mu.Unlock()
	if s.providers.password == nil {
		s.providers.password = map[string]PasswordProvider{}
	}
	s.providers.password[mode] = pp
}

// SetIdentityChecker makes c re-check users of identity source source.
func (s *Service) SetIdentityChecker(source string, c IdentityChecker) {
	s.providers.mu.Lock()
	defer s.providers.mu.Unlock()
	if s.providers.checkers == nil {
		s.providers.checkers = map[string]IdentityChecker{}
	}
	s.providers.checkers[source] = c
}

func (s *Service) passwordProvider(mode string) PasswordProvider {
	s.providers.mu.RLock()
	defer s.providers.mu.RUnlock()
	return s.providers.password[mode]
}

func (s *Service) identityChecker(source string) IdentityChecker {
	s.providers.mu.RLock()
	defer s.providers.mu.RUnlock()
	return s.providers.checkers[source]
}

// recheckInterval is how long a provider's word about a user lasts when
// the user authenticates with its CLI secret: at most this long after the
// provider disables a user, its CLI secret stops working.
const recheckInterval = 5 * time.Minute

// recheck asks the provider about u when the last answer is stale. It
// returns a reason for refusal ("" when u may go on), or an error when
// the provider could not be asked: then access is refused too, since
// nobody vouches for the user.
func (s *Service) recheck(ctx context.Context, u *meta.User, id meta.UserIdentity) (string, error) {
	if s.now().Sub(id.VerifiedAt) < recheckInterval {
		return "", nil
	}
	c := s.identityChecker(id.Source)
	if c == nil {
		return "", nil // no provider configured to ask: the CLI secret stands alone
	}
	rt, err := s.Unseal(purposeRefreshToken, id.RefreshToken)
	if err != nil {
		return "the stored refresh token cannot be read", nil
	}
	got, err := c.Recheck(ctx, *u, id, string(rt))
	if errs.Is(err, errs.Unauthorized) {
		return "the identity provider refused the user: " + errMessage(err), nil
	}
	if err != nil {
		s.log.Warn("identity provider re-check failed", "username", u.Username, "err", err)
		return "the identity provider could not be reached to re-check the user", nil
	}
	// What the provider says now about groups and the admin group holds
	// from now on, as at a sign-in.
	l := ExternalLogin{Groups: got.Groups, Admin: got.Admin, RefreshToken: got.RefreshToken}
	if err := s.syncExternal(ctx, u, l, false); err != nil {
		return "", err
	}
	return "", nil
}

// externalSource returns u's identity source, "" for local users.
func (s *Service) externalSource(ctx context.Context, userID int64) (meta.UserIdentity, bool, error) {
	id, err := s.db.Q().GetUserIdentity(ctx, userID)
	if errs.Is(err, errs.NotFound) {
		return meta.UserIdentity{}, false, nil
	}
	if err != nil {
		return meta.UserIdentity{}, false, err
	}
	return id, true, nil
}
