package ldapauth

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/go-ldap/ldap/v3"
)

// conn is one connection, bound as the search account. It is closed when
// the caller's context ends, so that a cancelled request does not wait
// for a slow server; each request also has the configured timeout.
type conn struct {
	*ldap.Conn
	cfg     normalized
	unwatch func() bool
}

// dial connects (TLS for ldaps://, StartTLS when configured) and binds
// as the search account. Failures are errs.Unavailable and say which step
// failed; a failed bind of the search account is too, since it is the
// administrator's to fix, not the user's.
func (n normalized) dial(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// DialURL takes no context: a dialer deadline stands in for it.
	d := &net.Dialer{Timeout: n.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
	if n.scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSConfig(n.tlsConfig()))
	}
	lc, err := ldap.DialURL(n.URL, opts...)
	if err != nil {
		return nil, unavailable(err, "connect to %s", n.URL)
	}
	lc.SetTimeout(n.Timeout)
	c := &conn{Conn: lc, cfg: n}
	c.unwatch = context.AfterFunc(ctx, func() { lc.Close() })
	if n.StartTLS {
		if err := lc.StartTLS(n.tlsConfig()); err != nil {
			c.close()
			return nil, unavailable(err, "StartTLS with %s", n.URL)
		}
	}
	if err := c.bindSearch(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *conn) close() {
	c.unwatch()
	c.Conn.Close()
}

func (c *conn) bindSearch() error {
	var err error
	if c.cfg.SearchDN == "" {
		err = c.UnauthenticatedBind("")
	} else {
		err = c.Bind(c.cfg.SearchDN, c.cfg.SearchPassword)
	}
	if err != nil {
		return unavailable(err, "bind as the search account %q", c.cfg.SearchDN)
	}
	return nil
}

func (n normalized) tlsConfig() *tls.Config {
	host, _, err := net.SplitHostPort(n.host)
	if err != nil {
		host = n.host
	}
	return &tls.Config{
		ServerName:         host,
		RootCAs:            n.roots, // nil: the system roots
		InsecureSkipVerify: !n.VerifyCert,
		MinVersion:         tls.VersionTLS12,
	}
}

// unavailable wraps a directory failure. The message carries the LDAP
// result text (which never holds a password) so that administrators can
// act on it.
func unavailable(err error, format string, args ...any) error {
	e := errs.Wrap(errs.Unavailable, err, format, args...)
	e.Code = "LDAP_UNAVAILABLE"
	return e
}
