package ldapauth

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Provider connects the directory to berth's accounts: in ldap_auth mode
// the access service hands it every password login of users other than
// the first administrator (access.PasswordProvider). A user the directory
// accepts is imported on first login and has its groups and admin flag
// refreshed at each login; one the directory refuses (wrong password,
// gone) is refused, whatever berth stored before. It also serves the
// administrator's /ldap endpoints.
type Provider struct {
	acc   *access.Service
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration
	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	userID  int64
	expires time.Time
}

// loginTTL is how long a successful directory login is remembered, so
// that clients sending Basic credentials with every request do not cost a
// directory round trip each; a password change or removal in the
// directory takes effect after at most this long.
const loginTTL = 10 * time.Second

// ProviderOption configures a Provider.
type ProviderOption func(*Provider)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) ProviderOption { return func(p *Provider) { p.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) ProviderOption { return func(p *Provider) { p.log = l } }

// NewProvider returns the provider and registers it with acc for
// ldap_auth mode. acc must have been built with WithConfigKeys(ConfigKeys()...).
func NewProvider(acc *access.Service, opts ...ProviderOption) *Provider {
	p := &Provider{acc: acc, log: slog.Default(), now: time.Now, ttl: loginTTL, cache: map[[32]byte]cached{}}
	for _, o := range opts {
		o(p)
	}
	acc.SetPasswordProvider(access.AuthLDAP, p)
	acc.SetGroupResolver(p)
	return p
}

// client builds a client from the current configuration. An incomplete
// or wrong one is Invalid, which callers turn into what suits them.
func (p *Provider) client(ctx context.Context) (*Client, Config, error) {
	c, err := p.acc.Configuration(ctx)
	if err != nil {
		return nil, Config{}, err
	}
	cfg := ConfigFrom(c.Extra)
	cl, err := New(cfg)
	return cl, cfg, err
}

// adminClient is client for the administrator's endpoints: a
// configuration that cannot be used is a failed precondition.
func (p *Provider) adminClient(ctx context.Context) (*Client, Config, error) {
	cl, cfg, err := p.client(ctx)
	if errs.Is(err, errs.Invalid) {
		return nil, cfg, errs.New(errs.Conflict, "PRECONDITION", "LDAP is not configured: %s", errMsg(err))
	}
	return cl, cfg, err
}

// AuthenticatePassword checks the password against the directory and
// returns the account, importing it on first login.
func (p *Provider) AuthenticatePassword(ctx context.Context, username, password string) (meta.User, error) {
	cl, cfg, err := p.client(ctx)
	if errs.Is(err, errs.Invalid) {
		// The administrator's to fix; nobody but admin can sign in until then.
		return meta.User{}, errs.Wrap(errs.Unavailable, err, "the LDAP configuration is incomplete or wrong")
	}
	if err != nil {
		return meta.User{}, err
	}
	key := cacheKey(cfg, username, password)
	if u, ok := p.cachedUser(ctx, key); ok {
		return u, nil
	}
	du, err := cl.Authenticate(ctx, username, password)
	if err != nil {
		return meta.User{}, err
	}
	u, err := p.login(ctx, cfg, du)
	if err != nil {
		return meta.User{}, err
	}
	p.remember(key, u.ID)
	return u, nil
}

// login brings the account of a directory user up to date, creating it
// when new.
func (p *Provider) login(ctx context.Context, cfg Config, du User) (meta.User, error) {
	l := access.ExternalLogin{
		Source:   meta.SourceLDAP,
		Subject:  NormalizeDN(du.DN),
		Username: du.Username,
		Email:    du.Email,
		Realname: du.Realname,
	}
	if cfg.GroupBaseDN != "" {
		l.Groups = make([]meta.UserGroup, 0, len(du.Groups))
		for _, g := range du.Groups {
			l.Groups = append(l.Groups, meta.UserGroup{Type: meta.GroupLDAP, Name: g.Name, LDAPDN: g.DN})
		}
	}
	if cfg.GroupAdminDN != "" {
		admin := du.Admin
		l.Admin = &admin
	}
	u, _, err := p.acc.LoginExternal(ctx, l, true)
	if errs.Is(err, errs.Conflict) {
		// Two first logins at once: the other one created the account.
		u, _, err = p.acc.LoginExternal(ctx, l, true)
	}
	switch {
	case err == nil:
		return u, nil
	case errs.Is(err, errs.Conflict), errs.Is(err, errs.Invalid):
		// The directory's user name cannot be an account here (taken by
		// a local user, or against the name rules).
		return meta.User{}, unauthorizedf("cannot import %q from the directory: %v", clip(du.Username), errMsg(err))
	}
	return meta.User{}, err
}

func (p *Provider) cachedUser(ctx context.Context, key [32]byte) (meta.User, bool) {
	p.mu.Lock()
	c, ok := p.cache[key]
	if ok && !p.now().Before(c.expires) {
		delete(p.cache, key)
		ok = false
	}
	p.mu.Unlock()
	if !ok {
		return meta.User{}, false
	}
	u, err := p.acc.DB().Q().GetUser(ctx, c.userID)
	if err != nil || u.Disabled {
		return meta.User{}, false
	}
	return u, true
}

func (p *Provider) remember(key [32]byte, userID int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if len(p.cache) >= 10000 {
		for k, c := range p.cache {
			if !now.Before(c.expires) {
				delete(p.cache, k)
			}
		}
		if len(p.cache) >= 10000 {
			clear(p.cache)
		}
	}
	p.cache[key] = cached{userID: userID, expires: now.Add(p.ttl)}
}

// cacheKey covers the configuration, so that a changed one (another
// server, another filter) forgets earlier answers.
func cacheKey(cfg Config, username, password string) [32]byte {
	h := sha256.New()
	for _, s := range []string{cfg.URL, cfg.SearchDN, cfg.BaseDN, cfg.Filter, cfg.UID,
		cfg.GroupBaseDN, cfg.GroupFilter, cfg.GroupAdminDN, strings.ToLower(username), password} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func unauthorizedf(format string, args ...any) error {
	return errs.New(errs.Unauthorized, "UNAUTHORIZED", format, args...)
}

func errMsg(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Msg
	}
	return err.Error()
}

// adminOnly refuses callers who are not system administrators.
func adminOnly(pr access.Principal, what string) error {
	if pr.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to %s", what)
	}
	if !pr.SysAdmin {
		return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s", pr.Name(), what)
	}
	return nil
}

// PingResult is Harbor's LdapPingResult.
type PingResult struct {
	Success bool
	Message string
}

// Ping tests the stored configuration with the values in override (ldap_*
// keys; an empty or missing ldap_search_password keeps the stored one).
// A directory that cannot be reached or refuses the search account is a
// result with Success false, not an error; a malformed value is Invalid.
func (p *Provider) Ping(ctx context.Context, pr access.Principal, override map[string]string) (PingResult, error) {
	if err := adminOnly(pr, "test the LDAP configuration"); err != nil {
		return PingResult{}, err
	}
	c, err := p.acc.Configuration(ctx)
	if err != nil {
		return PingResult{}, err
	}
	v := make(map[string]string, len(c.Extra)+len(override))
	for k, x := range c.Extra {
		v[k] = x
	}
	for k, x := range override {
		if k == KeySearchPassword && x == "" {
			continue
		}
		v[k] = x
	}
	cl, err := New(ConfigFrom(v))
	if err != nil {
		return PingResult{}, err
	}
	if err := cl.Ping(ctx); err != nil {
		if !errs.Is(err, errs.Unavailable) {
			return PingResult{}, err
		}
		p.log.Info("LDAP ping failed", "url", cl.cfg.URL, "err", err)
		return PingResult{Success: false, Message: err.Error()}, nil
	}
	return PingResult{Success: true, Message: "connected, bound as the search account and read the base DN"}, nil
}

// SearchUsers lists directory users by exact user name, or all of them.
func (p *Provider) SearchUsers(ctx context.Context, pr access.Principal, username string) ([]User, error) {
	if err := adminOnly(pr, "search LDAP users"); err != nil {
		return nil, err
	}
	cl, _, err := p.adminClient(ctx)
	if err != nil {
		return nil, err
	}
	return cl.SearchUsers(ctx, username)
}

// FailedImport is Harbor's LdapFailedImportUser.
type FailedImport struct {
	UID   string
	Error string
}

// ImportUsers creates accounts for directory users ahead of their first
// login (ldap_auth mode only), and says which could not be imported.
func (p *Provider) ImportUsers(ctx context.Context, pr access.Principal, uids []string) ([]FailedImport, error) {
	if err := adminOnly(pr, "import LDAP users"); err != nil {
		return nil, err
	}
	if len(uids) == 0 {
		return nil, errs.Invalidf("ldap_uid_list is empty")
	}
	if len(uids) > 1000 {
		return nil, errs.Invalidf("ldap_uid_list holds more than 1000 names")
	}
	if mode := p.acc.AuthMode(ctx); mode != access.AuthLDAP {
		return nil, errs.New(errs.Conflict, "PRECONDITION", "LDAP users can be imported only in ldap_auth mode (the auth mode is %s)", mode)
	}
	cl, cfg, err := p.adminClient(ctx)
	if err != nil {
		return nil, err
	}
	var failed []FailedImport
	for _, uid := range uids {
		du, err := cl.LookupUser(ctx, uid)
		if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
			failed = append(failed, FailedImport{UID: uid, Error: "not found in the directory"})
			continue
		}
		if err != nil {
			return nil, err
		}
		q := p.acc.DB().Q()
		if _, _, err := q.FindUserByIdentity(ctx, meta.SourceLDAP, "", NormalizeDN(du.DN)); err == nil {
			failed = append(failed, FailedImport{UID: uid, Error: "already imported"})
			continue
		}
		if _, err := p.login(ctx, cfg, du); err != nil {
			if !errs.Is(err, errs.Unauthorized) {
				return nil, err
			}
			failed = append(failed, FailedImport{UID: uid, Error: errMsg(err)})
		}
	}
	return failed, nil
}

// SearchGroups lists directory groups by name or DN, each with the ID of
// the berth user group of the same DN (0 when there is none yet).
func (p *Provider) SearchGroups(ctx context.Context, pr access.Principal, name, dn string) ([]meta.UserGroup, error) {
	if err := adminOnly(pr, "search LDAP groups"); err != nil {
		return nil, err
	}
	cl, _, err := p.adminClient(ctx)
	if err != nil {
		return nil, err
	}
	gs, err := cl.SearchGroups(ctx, name, dn)
	if err != nil {
		return nil, err
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name })
	out := make([]meta.UserGroup, 0, len(gs))
	q := p.acc.DB().Q()
	for _, g := range gs {
		ug := meta.UserGroup{Name: g.Name, Type: meta.GroupLDAP, LDAPDN: g.DN}
		known, err := q.GetUserGroupByDN(ctx, g.DN)
		switch {
		case err == nil:
			ug.ID = known.ID
		case !errs.Is(err, errs.NotFound):
			return nil, err
		}
		out = append(out, ug)
	}
	return out, nil
}

// ResolveLDAPGroup finds the group dn (any spelling) under the group base
// DN, for access to check a DN an administrator typed.
func (p *Provider) ResolveLDAPGroup(ctx context.Context, dn string) (meta.UserGroup, error) {
	cl, _, err := p.adminClient(ctx)
	if err != nil {
		return meta.UserGroup{}, err
	}
	gs, err := cl.SearchGroups(ctx, "", dn)
	if err != nil {
		return meta.UserGroup{}, err
	}
	if len(gs) == 0 {
		return meta.UserGroup{}, errs.New(errs.NotFound, "", "LDAP group %s not found", clip(dn))
	}
	return meta.UserGroup{Type: meta.GroupLDAP, Name: gs[0].Name, LDAPDN: gs[0].DN}, nil
}

var (
	_ access.PasswordProvider = (*Provider)(nil)
	_ access.GroupResolver    = (*Provider)(nil)
)
