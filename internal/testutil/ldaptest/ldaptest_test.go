package ldaptest

import (
	"crypto/tls"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The harness serves plain LDAP, StartTLS and LDAPS with its own CA,
// keeps passwords from the search account and fills memberOf.
func TestServer(t *testing.T) {
	s := Start(t)
	alice := s.AddUser(t, "alice", "alice-pw")
	bob := s.AddUser(t, "bob", "bob-pw")
	devs := s.AddGroup(t, "developers", alice, bob)

	c, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(s.TLSConfig()); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("StartTLS did not give a TLS connection")
	}
	if err := c.Bind(SearchDN, s.SearchPassword); err != nil {
		t.Fatalf("bind search account: %v", err)
	}
	res, err := c.Search(ldap.NewSearchRequest(PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 10, false, "(uid=alice)", []string{"uid", "memberOf", "userPassword"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("found %d entries for uid=alice", len(res.Entries))
	}
	e := res.Entries[0]
	if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{devs}) {
		t.Errorf("memberOf = %q, want %q", got, devs)
	}
	if got := e.GetAttributeValue("userPassword"); got != "" {
		t.Errorf("the search account can read userPassword %q", got)
	}
	if err := c.Bind(alice, "alice-pw"); err != nil {
		t.Errorf("bind as alice: %v", err)
	}
	if err := c.Bind(alice, "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("bind with a wrong password: %v", err)
	}

	sc, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatalf("LDAPS: %v", err)
	}
	defer sc.Close()
	if err := sc.Bind(alice, "alice-pw"); err != nil {
		t.Errorf("bind over LDAPS: %v", err)
	}
	if bad, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})); err == nil {
		err = bad.Bind(alice, "alice-pw")
		bad.Close()
		if err == nil {
			t.Error("LDAPS without the test CA was trusted")
		}
	}

	s.Delete(t, alice)
	if e := s.Entry(t, alice); e != nil {
		t.Errorf("alice still exists after Delete")
	}
	var members []string
	if e := s.Entry(t, devs, "member"); e != nil {
		members = e.GetAttributeValues("member")
	}
	if !slices.Equal(members, []string{bob}) {
		t.Errorf("after deleting alice, developers has members %q, want only bob", members)
	}
}
