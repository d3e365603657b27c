package ldaptest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// seed adds the base entry, the two organizational units and the search
// account.
func (s *Server) seed() error {
	return s.load(fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
dc: berth
o: berth test directory

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalUnit
ou: groups

dn: %s
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: search
userPassword: %s
`, BaseDN, PeopleDN, GroupsDN, SearchDN, SSHA(s.SearchPassword)))
}

// Load adds the entries of an LDIF text with ldapadd, as the rootdn.
// Passwords in it should be hashed (see SSHA).
func (s *Server) Load(t testing.TB, ldif string) {
	t.Helper()
	if err := s.load(ldif); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
}

func (s *Server) load(ldif string) error {
	f, err := os.CreateTemp(s.Dir, "load-*.ldif")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(ldif); err != nil {
		f.Close()
		return err
	}
	f.Close()
	pw := filepath.Join(s.Dir, "admin.pw")
	if err := os.WriteFile(pw, []byte(adminPass), 0o600); err != nil {
		return err
	}
	out, err := exec.Command("ldapadd", "-x", "-H", s.URL, "-D", AdminDN, "-y", pw, "-f", f.Name()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ldapadd: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// UserDN is the DN of a user added by AddUser.
func UserDN(uid string) string { return "uid=" + ldap.EscapeDN(uid) + "," + PeopleDN }

// GroupDN is the DN of a group added by AddGroup.
func GroupDN(cn string) string { return "cn=" + ldap.EscapeDN(cn) + "," + GroupsDN }

// AddUser adds an inetOrgPerson under ou=people with a hashed password,
// cn "<uid> Test" and mail <uid>@berth.test, and returns its DN.
func (s *Server) AddUser(t testing.TB, uid, password string) string {
	t.Helper()
	dn := UserDN(uid)
	s.modify(t, func(c *ldap.Conn) error {
		r := ldap.NewAddRequest(dn, nil)
		r.Attribute("objectClass", []string{"inetOrgPerson"})
		r.Attribute("uid", []string{uid})
		r.Attribute("cn", []string{uid + " Test"})
		r.Attribute("sn", []string{"Test"})
		r.Attribute("mail", []string{uid + "@berth.test"})
		r.Attribute("userPassword", []string{SSHA(password)})
		return c.Add(r)
	})
	return dn
}

// AddGroup adds a groupOfNames under ou=groups with the given member DNs
// (the memberOf overlay then lists it on each member) and returns its DN.
// groupOfNames needs a member; an empty group gets the group itself.
func (s *Server) AddGroup(t testing.TB, cn string, members ...string) string {
	t.Helper()
	dn := GroupDN(cn)
	if len(members) == 0 {
		members = []string{dn}
	}
	s.modify(t, func(c *ldap.Conn) error {
		r := ldap.NewAddRequest(dn, nil)
		r.Attribute("objectClass", []string{"groupOfNames"})
		r.Attribute("cn", []string{cn})
		r.Attribute("member", members)
		return c.Add(r)
	})
	return dn
}

// AddMember adds a member DN to a group.
func (s *Server) AddMember(t testing.TB, groupDN, memberDN string) {
	t.Helper()
	s.modify(t, func(c *ldap.Conn) error {
		r := ldap.NewModifyRequest(groupDN, nil)
		r.Add("member", []string{memberDN})
		return c.Modify(r)
	})
}

// RemoveMember removes a member DN from a group.
func (s *Server) RemoveMember(t testing.TB, groupDN, memberDN string) {
	t.Helper()
	s.modify(t, func(c *ldap.Conn) error {
		r := ldap.NewModifyRequest(groupDN, nil)
		r.Delete("member", []string{memberDN})
		return c.Modify(r)
	})
}

// SetPassword replaces an entry's password.
func (s *Server) SetPassword(t testing.TB, dn, password string) {
	t.Helper()
	s.modify(t, func(c *ldap.Conn) error {
		r := ldap.NewModifyRequest(dn, nil)
		r.Replace("userPassword", []string{SSHA(password)})
		return c.Modify(r)
	})
}

// Delete removes an entry (a leaf).
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	s.modify(t, func(c *ldap.Conn) error { return c.Del(ldap.NewDelRequest(dn, nil)) })
}

// Entry reads one entry as the rootdn (nil when it does not exist).
func (s *Server) Entry(t testing.TB, dn string, attrs ...string) *ldap.Entry {
	t.Helper()
	var e *ldap.Entry
	s.modify(t, func(c *ldap.Conn) error {
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, 10, false, "(objectClass=*)", attrs, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(res.Entries) == 1 {
			e = res.Entries[0]
		}
		return nil
	})
	return e
}

func (s *Server) modify(t testing.TB, f func(*ldap.Conn) error) {
	t.Helper()
	c, err := s.dialAdmin()
	if err != nil {
		t.Fatalf("ldaptest: connect as admin: %v", err)
	}
	defer c.Close()
	if err := f(c); err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
}
