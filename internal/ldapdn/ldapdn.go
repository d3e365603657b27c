// Package ldapdn owns the comparable form of LDAP distinguished names.
// It is pure (no I/O) so that the metadata store, the access rules and
// the LDAP client all key group DNs the same way.
package ldapdn

import (
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Canonical returns dn parsed and re-written with lower-cased attribute
// types and values, no spaces around separators and one escaping, so
// that "CN=Devs, ou=Groups" and "cn=devs,ou=groups" have one form. DNs
// compare case-insensitively in practice (cn, ou, dc are caseIgnore
// attributes); berth treats every attribute so.
func Canonical(dn string) (string, error) {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, rdn := range d.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn.Attributes {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.ToLower(a.Type))
			b.WriteByte('=')
			b.WriteString(ldap.EscapeDN(strings.ToLower(a.Value)))
		}
	}
	return b.String(), nil
}

// Key is Canonical for matching stored DNs: text that does not parse
// as a DN keeps its lower-cased self, so that it can still be found.
func Key(dn string) string {
	c, err := Canonical(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return c
}
