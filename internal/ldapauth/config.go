// Package ldapauth talks to an LDAP directory for berth. Client checks a
// user's password by search-bind-rebind (find the entry with a search
// account, then bind as that entry), reads the user's groups, lists users
// and groups, and tests a configuration; it keeps no state. Provider
// connects it to the access service in ldap_auth mode: the directory's
// answer decides every login, and the account, groups and admin flag it
// implies are stored through access.LoginExternal. Nothing here writes to
// the directory, and no password is ever logged or put in an error.
package ldapauth

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/go-ldap/ldap/v3"
)

// Harbor's search scopes (ldap_scope, ldap_group_search_scope).
const (
	ScopeBase     = 0
	ScopeOneLevel = 1
	ScopeSubtree  = 2
)

// Defaults for keys left empty.
const (
	DefaultUID                 = "cn" // Harbor's default
	DefaultTimeout             = 5 * time.Second
	DefaultGroupFilter         = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))"
	DefaultGroupNameAttribute  = "cn"
	DefaultMembershipAttribute = "memberof"
)

// Config is an LDAP configuration in Harbor's terms (the ldap_* keys),
// plus StartTLS and a CA, which Harbor leaves to the system.
type Config struct {
	URL            string // ldap://host[:port] or ldaps://host[:port]; a bare host means ldap://
	SearchDN       string // empty: search anonymously
	SearchPassword string
	BaseDN         string
	Filter         string // extra filter users must match, e.g. (objectClass=person)
	UID            string // attribute holding the user name (default uid)
	Scope          int    // ScopeBase, ScopeOneLevel or ScopeSubtree
	Timeout        time.Duration
	VerifyCert     bool
	StartTLS       bool   // upgrade ldap:// with StartTLS before binding
	CACert         string // PEM; trusted in addition to the system roots

	GroupBaseDN         string // empty: groups are not used
	GroupFilter         string
	GroupNameAttribute  string // default cn
	GroupAdminDN        string // members of this group are system administrators
	MembershipAttribute string // user attribute listing group DNs (default memberof)
	GroupScope          int
}

// normalized is a checked Config with defaults filled in.
type normalized struct {
	Config
	scheme, host string
	roots        *x509.CertPool
}

// check validates c and fills in defaults. Errors are errs.Invalid and
// name the key.
func (c Config) check() (normalized, error) {
	n := normalized{Config: c}
	u, err := parseURL(c.URL)
	if err != nil {
		return n, err
	}
	if u.Scheme == "ldaps" && c.StartTLS {
		return n, errs.Invalidf("ldap_start_tls is for ldap:// URLs; ldaps:// is TLS already")
	}
	n.scheme, n.host = u.Scheme, u.Host
	n.URL = u.Scheme + "://" + u.Host
	if n.BaseDN == "" {
		return n, errs.Invalidf("ldap_base_dn is empty")
	}
	for key, dn := range map[string]string{"ldap_base_dn": n.BaseDN, "ldap_search_dn": n.SearchDN,
		"ldap_group_base_dn": n.GroupBaseDN, "ldap_group_admin_dn": n.GroupAdminDN} {
		if err := checkDN(key, dn); err != nil {
			return n, err
		}
	}
	if n.UID == "" {
		n.UID = DefaultUID
	}
	if n.GroupNameAttribute == "" {
		n.GroupNameAttribute = DefaultGroupNameAttribute
	}
	if n.MembershipAttribute == "" {
		n.MembershipAttribute = DefaultMembershipAttribute
	}
	for key, a := range map[string]string{"ldap_uid": n.UID, "ldap_group_attribute_name": n.GroupNameAttribute,
		"ldap_group_membership_attribute": n.MembershipAttribute} {
		if err := checkAttribute(key, a); err != nil {
			return n, err
		}
	}
	if n.Filter, err = normalizeFilter("ldap_filter", n.Filter, ""); err != nil {
		return n, err
	}
	if n.GroupFilter, err = normalizeFilter("ldap_group_search_filter", n.GroupFilter, DefaultGroupFilter); err != nil {
		return n, err
	}
	for key, s := range map[string]int{"ldap_scope": n.Scope, "ldap_group_search_scope": n.GroupScope} {
		if err := checkScope(key, s); err != nil {
			return n, err
		}
	}
	if n.Timeout <= 0 {
		n.Timeout = DefaultTimeout
	}
	if n.Timeout > time.Minute {
		n.Timeout = time.Minute
	}
	if n.CACert != "" {
		if n.roots, err = caPool(n.CACert); err != nil {
			return n, err
		}
	}
	return n, nil
}

// The checks of single keys, also used to refuse a bad value when it is
// set (keys.go).

func parseURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errs.Invalidf("ldap_url is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "ldap://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return nil, errs.Invalidf("ldap_url %q is not ldap://host[:port] or ldaps://host[:port]", clip(raw))
	}
	if u.Scheme != "ldap" && u.Scheme != "ldaps" {
		return nil, errs.Invalidf("ldap_url scheme must be ldap or ldaps, not %q", clip(u.Scheme))
	}
	return u, nil
}

func checkDN(key, dn string) error {
	if dn == "" {
		return nil
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		return errs.Invalidf("%s %q is not a DN: %v", key, clip(dn), err)
	}
	return nil
}

func checkAttribute(key, a string) error {
	if !validAttribute(a) {
		return errs.Invalidf("%s %q is not an attribute name", key, clip(a))
	}
	return nil
}

func checkScope(key string, s int) error {
	if s < ScopeBase || s > ScopeSubtree {
		return errs.Invalidf("%s must be 0 (base), 1 (one level) or 2 (subtree), not %d", key, s)
	}
	return nil
}

func caPool(pemText string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, errs.Invalidf("ldap_ca_cert holds no PEM certificate")
	}
	return pool, nil
}

// clip shortens what an error message repeats of the input.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// normalizeFilter accepts Harbor's forms "(a=b)" and "a=b" and checks
// the syntax; empty gives def.
func normalizeFilter(key, f, def string) (string, error) {
	f = strings.TrimSpace(f)
	if f == "" {
		return def, nil
	}
	if !strings.HasPrefix(f, "(") {
		f = "(" + f + ")"
	}
	if _, err := ldap.CompileFilter(f); err != nil {
		return "", errs.Invalidf("%s %q is not an LDAP filter: %v", key, clip(f), err)
	}
	return f, nil
}

// validAttribute accepts attribute descriptions (letters, digits, '-',
// ';' options) and OIDs, so that a name can go into a filter unescaped.
func validAttribute(a string) bool {
	if a == "" || len(a) > 128 {
		return false
	}
	for _, r := range a {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == ';':
		default:
			return false
		}
	}
	return true
}

func (n normalized) scope(s int) int {
	switch s {
	case ScopeBase:
		return ldap.ScopeBaseObject
	case ScopeOneLevel:
		return ldap.ScopeSingleLevel
	}
	return ldap.ScopeWholeSubtree
}

func (n normalized) String() string {
	return fmt.Sprintf("%s base %q", n.URL, n.BaseDN)
}
