package access

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Authenticate checks a user name and password (or robot name and secret)
// and returns the principal. source is the client address, used to slow
// down guessing. Every failure says the same thing to the caller, so that
// accounts cannot be enumerated, and is logged and audited.
func (s *Service) Authenticate(ctx context.Context, username, secret, source string) (Principal, error) {
	if username == "" || len(username) > 255 || len(secret) > 1024 {
		return Principal{}, unauthorized("invalid username or password")
	}
	if wait := s.limiter.delay(source, strings.ToLower(username)); wait > 0 {
		if wait > maxDelay {
			s.log.Warn("login refused: too many failures", "username", username, "source", source)
			return Principal{}, errs.New(errs.Unavailable, "TOO_MANY_REQUESTS",
				"too many failed logins; try again in %s", wait.Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return Principal{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	p, reason, err := s.authenticate(ctx, username, secret)
	if err != nil {
		return Principal{}, err
	}
	if reason != "" {
		s.limiter.fail(source, strings.ToLower(username))
		s.log.Warn("login failed", "username", username, "source", source, "reason", reason)
		s.Audit(ctx, meta.AuditLog{Username: username, Resource: username, ResourceType: "user",
			Operation: "login_failed", SourceIP: source, Detail: reason})
		return Principal{}, unauthorized("invalid username or password")
	}
	s.limiter.succeed(source, strings.ToLower(username))
	return p, nil
}

// authenticate returns the principal, or a reason for refusal (logged, not
// shown), or an error when the store failed.
func (s *Service) authenticate(ctx context.Context, username, secret string) (Principal, string, error) {
	q := s.db.Q()
	if name, ok := strings.CutPrefix(username, s.robotPrefix); ok && s.robotPrefix != "" {
		r, err := q.GetRobotByName(ctx, name)
		if errs.Is(err, errs.NotFound) {
			return Principal{}, "no such robot", nil
		}
		if err != nil {
			return Principal{}, "", err
		}
		if !s.verify(r.SecretHash, username, secret) {
			return Principal{}, "wrong robot secret", nil
		}
		if why := robotUsable(r, s.now()); why != "" {
			return Principal{}, why, nil
		}
		p, err := robotPrincipal(r, s.robotPrefix)
		if err != nil {
			return Principal{}, "", err
		}
		return p, "", nil
	}
	u, err := q.GetUserByName(ctx, username)
	found := err == nil
	if err != nil && !errs.Is(err, errs.NotFound) {
		return Principal{}, "", err
	}
	// The first administrator always signs in with its password; the
	// others as the auth mode says (authmode.go).
	mode := AuthDB
	if !found || u.ID != adminUserID {
		mode = s.AuthMode(ctx)
	}
	if mode == AuthLDAP {
		return s.authenticateDirectory(ctx, username, secret)
	}
	if !found {
		// Spend the same time as a real check so that timing does not
		// reveal which accounts exist.
		VerifySecret(dummyHash, secret)
		return Principal{}, "no such user", nil
	}
	if u.ID != adminUserID {
		ident, ext, err := s.externalSource(ctx, u.ID)
		if err != nil {
			return Principal{}, "", err
		}
		if ext && ident.Source == meta.SourceOIDC {
			reason, err := s.verifyCLISecret(ctx, &u, ident, secret)
			if err != nil || reason != "" {
				return Principal{}, reason, err
			}
			p, err := s.PrincipalFor(ctx, u)
			return p, "", err
		}
		if mode == AuthOIDC {
			return Principal{}, "passwords are not accepted in oidc_auth mode", nil
		}
	}
	if u.PasswordHash == "" || !s.verify(u.PasswordHash, username, secret) {
		return Principal{}, "wrong password", nil
	}
	if u.Disabled {
		return Principal{}, "the account is disabled", nil
	}
	p, err := s.PrincipalFor(ctx, u)
	return p, "", err
}

// authenticateDirectory checks a password against the directory of the
// ldap_auth mode.
func (s *Service) authenticateDirectory(ctx context.Context, username, secret string) (Principal, string, error) {
	pp := s.passwordProvider(AuthLDAP)
	if pp == nil {
		return Principal{}, "ldap_auth mode without an LDAP provider", nil
	}
	if secret == "" {
		return Principal{}, "empty password", nil // an empty password would be an anonymous bind
	}
	u, err := pp.AuthenticatePassword(ctx, username, secret)
	if errs.Is(err, errs.Unauthorized) {
		return Principal{}, errMessage(err), nil
	}
	if err != nil {
		return Principal{}, "", err
	}
	if u.Disabled {
		return Principal{}, "the account is disabled", nil
	}
	p, err := s.PrincipalFor(ctx, u)
	return p, "", err
}

// UserPrincipal builds the principal of a user row.
func UserPrincipal(u meta.User) Principal {
	return Principal{Kind: UserKind, UserID: u.ID, Username: u.Username, SysAdmin: u.SysAdmin}
}

var dummyHash, _ = hashWith("not a real password", hashIterations)

// verify checks secret against hash, remembering recent successes so that
// clients sending Basic credentials on every request do not pay for a slow
// hash each time. The cache key covers the stored hash, so a changed
// password or secret invalidates it at once.
func (s *Service) verify(hash, username, secret string) bool {
	key := sha256.Sum256([]byte(hash + "\x00" + username + "\x00" + secret))
	if s.cache.hit(key) {
		return true
	}
	if !VerifySecret(hash, secret) {
		return false
	}
	s.cache.add(key)
	return true
}

// verifyCache remembers successful verifications for a short time.
type verifyCache struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[[32]byte]time.Time
}

const verifyCacheTTL = 2 * time.Minute

func newVerifyCache(now func() time.Time) *verifyCache {
	return &verifyCache{now: now, m: make(map[[32]byte]time.Time)}
}

func (c *verifyCache) hit(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[k]
	if ok && c.now().Before(exp) {
		return true
	}
	delete(c.m, k)
	return false
}

func (c *verifyCache) add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		now := c.now()
		for k, exp := range c.m {
			if now.After(exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) > 10000 {
			clear(c.m)
		}
	}
	c.m[k] = c.now().Add(verifyCacheTTL)
}
