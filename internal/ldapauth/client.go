package ldapauth

import (
	"context"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/go-ldap/ldap/v3"
)

// Limits on what a caller may send and what a search may return.
const (
	maxUsername = 255
	maxPassword = 1024
	maxResults  = 1000
	maxGroups   = 1000
)

// Client answers questions about one directory configuration.
type Client struct {
	cfg normalized
}

// New checks cfg (errs.Invalid names the bad key) and returns a Client.
// It does not connect.
func New(cfg Config) (*Client, error) {
	n, err := cfg.check()
	if err != nil {
		return nil, err
	}
	return &Client{cfg: n}, nil
}

// User is a directory user as berth sees it.
type User struct {
	DN       string
	Username string // the value of the UID attribute
	Realname string // cn or displayName
	Email    string // mail or email
	Groups   []Group
	Admin    bool // member of the admin group
}

// Group is a directory group.
type Group struct {
	DN   string
	Name string // the group name attribute (cn)
}

// Ping connects, binds as the search account and reads the base DN, and
// says what failed.
func (c *Client) Ping(ctx context.Context) error {
	lc, err := c.cfg.dial(ctx)
	if err != nil {
		return err
	}
	defer lc.close()
	_, err = lc.Search(ldap.NewSearchRequest(c.cfg.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, int(c.cfg.Timeout.Seconds()), false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return unavailable(err, "read ldap_base_dn %q", c.cfg.BaseDN)
	}
	return nil
}

// userAttributes are read from user entries.
func (c *Client) userAttributes() []string {
	return []string{c.cfg.UID, "cn", "displayName", "mail", "email", c.cfg.MembershipAttribute}
}

// userFilter matches users whose UID attribute equals value (escaped) and
// who pass the configured filter; all lists every user instead.
func (c *Client) userFilter(value string, all bool) string {
	var uid string
	if all {
		uid = "(" + c.cfg.UID + "=*)"
	} else {
		uid = "(" + c.cfg.UID + "=" + ldap.EscapeFilter(value) + ")"
	}
	if c.cfg.Filter == "" {
		return uid
	}
	return "(&" + c.cfg.Filter + uid + ")"
}

// findUsers searches users on a bound connection.
func (c *Client) findUsers(lc *conn, filter string, limit int) ([]*ldap.Entry, error) {
	res, err := lc.Search(ldap.NewSearchRequest(c.cfg.BaseDN, c.cfg.scope(c.cfg.Scope), ldap.NeverDerefAliases,
		limit, int(c.cfg.Timeout.Seconds()), false, filter, c.userAttributes(), nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil {
		return res.Entries, nil
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err, "search users under %q", c.cfg.BaseDN)
	}
	return res.Entries, nil
}

// toUser reads an entry. The user name is the UID value that matches want
// (case-insensitively), or the first one.
func (c *Client) toUser(e *ldap.Entry, want string) User {
	u := User{DN: e.DN}
	vals := e.GetEqualFoldAttributeValues(c.cfg.UID)
	for _, v := range vals {
		if strings.EqualFold(v, want) {
			u.Username = v
		}
	}
	if u.Username == "" && len(vals) > 0 {
		u.Username = vals[0]
	}
	u.Realname = first(e, "displayName", "cn")
	u.Email = first(e, "mail", "email")
	return u
}

func first(e *ldap.Entry, attrs ...string) string {
	for _, a := range attrs {
		if v := e.GetEqualFoldAttributeValue(a); v != "" {
			return v
		}
	}
	return ""
}

// badInput rejects what no directory should see.
func badInput(username string) error {
	if username == "" || len(username) > maxUsername || strings.ContainsRune(username, 0) {
		return errs.Invalidf("invalid user name")
	}
	return nil
}
