package ldapauth

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/go-ldap/ldap/v3"
)

// ErrInvalidCredentials is behind every refused login: unknown user,
// ambiguous user, wrong or empty password. The error's message (and
// Denied's Reason) says which: it is for the log, and callers must show
// users only that the login failed.
var ErrInvalidCredentials = errors.New("invalid username or password")

// Denied is a refused login.
type Denied struct{ Reason string }

func (d *Denied) Error() string { return "ldap login refused: " + d.Reason }
func (d *Denied) Unwrap() error { return ErrInvalidCredentials }

func denied(reason string) error {
	return &errs.Error{Kind: errs.Unauthorized, Code: "UNAUTHORIZED", Msg: "ldap: " + reason,
		Err: &Denied{Reason: reason}}
}

// Authenticate checks username and password by search-bind-rebind: find
// exactly one entry with the search account, bind as it with password,
// bind back as the search account and read the user's groups. A refusal
// is errs.Unauthorized wrapping ErrInvalidCredentials; a directory that
// cannot be reached or searched is errs.Unavailable.
func (c *Client) Authenticate(ctx context.Context, username, password string) (User, error) {
	if err := badInput(username); err != nil {
		return User{}, denied("invalid user name")
	}
	// An empty password would be an unauthenticated bind, which many
	// servers accept as anonymous: that is no login.
	if password == "" {
		return User{}, denied("empty password")
	}
	if len(password) > maxPassword {
		return User{}, denied("password too long")
	}
	lc, err := c.cfg.dial(ctx)
	if err != nil {
		return User{}, err
	}
	defer lc.close()
	entries, err := c.findUsers(lc, c.userFilter(username, false), 2)
	if err != nil {
		return User{}, err
	}
	switch len(entries) {
	case 0:
		return User{}, denied("no such user in the directory")
	case 1:
	default:
		return User{}, denied("more than one directory entry matches")
	}
	e := entries[0]
	if err := lc.Bind(e.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return User{}, denied("wrong password")
		}
		if ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) ||
			ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateAuthentication) {
			return User{}, denied("the directory refused the bind")
		}
		return User{}, unavailable(err, "bind as %q", e.DN)
	}
	u := c.toUser(e, username)
	if err := lc.bindSearch(); err != nil {
		return User{}, err
	}
	if u.Groups, err = c.groupsOf(lc, e); err != nil {
		return User{}, err
	}
	u.Admin = c.isAdmin(u.Groups)
	return u, nil
}

// LookupUser finds one user by name with the search account, with groups,
// without a password (import, and project membership by name).
// errs.NotFound when there is no such user or more than one.
func (c *Client) LookupUser(ctx context.Context, username string) (User, error) {
	if err := badInput(username); err != nil {
		return User{}, err
	}
	lc, err := c.cfg.dial(ctx)
	if err != nil {
		return User{}, err
	}
	defer lc.close()
	entries, err := c.findUsers(lc, c.userFilter(username, false), 2)
	if err != nil {
		return User{}, err
	}
	if len(entries) != 1 {
		return User{}, errs.NotFoundf("user %q not found in the directory", username)
	}
	u := c.toUser(entries[0], username)
	if u.Groups, err = c.groupsOf(lc, entries[0]); err != nil {
		return User{}, err
	}
	u.Admin = c.isAdmin(u.Groups)
	return u, nil
}

// SearchUsers lists users whose UID attribute equals username, or all
// users (up to a limit) when username is empty. Harbor answers the same
// way: an exact match, not a substring search.
func (c *Client) SearchUsers(ctx context.Context, username string) ([]User, error) {
	if username != "" {
		if err := badInput(username); err != nil {
			return nil, err
		}
	}
	lc, err := c.cfg.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer lc.close()
	entries, err := c.findUsers(lc, c.userFilter(username, username == ""), maxResults)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(entries))
	for _, e := range entries {
		if u := c.toUser(e, username); u.Username != "" {
			out = append(out, u)
		}
	}
	return out, nil
}
