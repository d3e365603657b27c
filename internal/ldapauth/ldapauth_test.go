package ldapauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/testutil/ldaptest"
	"github.com/google/go-cmp/cmp"
)

// directory starts slapd with alice (developers), bob (admins, developers)
// and carol (no group), and returns it with a configuration for it.
func directory(t *testing.T) (*ldaptest.Server, Config) {
	t.Helper()
	s := ldaptest.Start(t)
	alice := s.AddUser(t, "alice", "alice-pw")
	bob := s.AddUser(t, "bob", "bob-pw")
	s.AddUser(t, "carol", "carol-pw")
	s.AddGroup(t, "developers", alice, bob)
	s.AddGroup(t, "admins", bob)
	return s, Config{
		URL:            s.URL,
		SearchDN:       ldaptest.SearchDN,
		SearchPassword: s.SearchPassword,
		BaseDN:         ldaptest.PeopleDN,
		Filter:         "(objectClass=inetOrgPerson)",
		UID:            "uid",
		Scope:          ScopeSubtree,
		Timeout:        5 * time.Second,
		VerifyCert:     true,
		CACert:         string(s.CAPEM),
		GroupBaseDN:    ldaptest.GroupsDN,
		GroupAdminDN:   ldaptest.GroupDN("admins"),
		GroupScope:     ScopeSubtree,
	}
}

func client(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func reason(err error) string {
	var d *Denied
	if errors.As(err, &d) {
		return d.Reason
	}
	return ""
}

func TestAuthenticate(t *testing.T) {
	s, cfg := directory(t)
	// An entry outside ldap_filter: a cosine "account" with a password.
	s.Load(t, "dn: uid=dave,"+ldaptest.PeopleDN+"\nobjectClass: account\nobjectClass: simpleSecurityObject\nuid: dave\nuserPassword: "+ldaptest.SSHA("dave-pw")+"\n")
	c := client(t, cfg)
	ctx := context.Background()

	u, err := c.Authenticate(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	want := User{DN: ldaptest.UserDN("alice"), Username: "alice", Realname: "alice Test", Email: "alice@berth.test",
		Groups: []Group{{DN: ldaptest.GroupDN("developers"), Name: "developers"}}}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("alice (-want +got):\n%s", diff)
	}

	u, err = c.Authenticate(ctx, "BOB", "bob-pw")
	if err != nil {
		t.Fatalf("BOB: %v", err)
	}
	names := []string{}
	for _, g := range u.Groups {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	if u.Username != "bob" || !u.Admin || !slices.Equal(names, []string{"admins", "developers"}) {
		t.Errorf("BOB gave user %q admin %v groups %q; want bob, admin, [admins developers]", u.Username, u.Admin, names)
	}

	u, err = c.Authenticate(ctx, "carol", "carol-pw")
	if err != nil || u.Admin || len(u.Groups) != 0 {
		t.Errorf("carol: %+v, %v; want no groups, not admin", u, err)
	}

	for _, tc := range []struct{ name, user, pass, reason string }{
		{"wrong password", "alice", "bob-pw", "wrong password"},
		{"unknown user", "mallory", "x", "no such user in the directory"},
		{"empty password", "alice", "", "empty password"},
		{"empty user", "", "x", "invalid user name"},
		{"outside the filter", "dave", "dave-pw", "no such user in the directory"},
		{"wildcard", "*", "alice-pw", "no such user in the directory"},
		{"prefix wildcard", "al*", "alice-pw", "no such user in the directory"},
		{"filter injection", "alice)(|(uid=*", "alice-pw", "no such user in the directory"},
		{"filter injection, closing", "*)(uid=*))(|(uid=*", "alice-pw", "no such user in the directory"},
		{"NUL", "alice\x00", "alice-pw", "invalid user name"},
		{"the search account is no user", "search", s.SearchPassword, "no such user in the directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Authenticate(ctx, tc.user, tc.pass)
			if !errs.Is(err, errs.Unauthorized) || !errors.Is(err, ErrInvalidCredentials) || reason(err) != tc.reason {
				t.Fatalf("err = %v (reason %q), want unauthorized: %s", err, reason(err), tc.reason)
			}
			if strings.Contains(err.Error(), tc.pass) && tc.pass != "" {
				t.Errorf("the error %q shows the password", err)
			}
		})
	}

	// Two entries with the same uid are ambiguous, not "the first".
	s.Load(t, "dn: ou=more,"+ldaptest.PeopleDN+"\nobjectClass: organizationalUnit\nou: more\n\n"+
		"dn: uid=alice,ou=more,"+ldaptest.PeopleDN+"\nobjectClass: inetOrgPerson\nuid: alice\ncn: other\nsn: other\nuserPassword: "+ldaptest.SSHA("other-pw")+"\n")
	if _, err := c.Authenticate(ctx, "alice", "other-pw"); reason(err) != "more than one directory entry matches" {
		t.Errorf("duplicate uid: %v", err)
	}
}

// A user whose password changed, or who left the directory, is refused at
// once: nothing is cached here.
func TestDirectoryChanges(t *testing.T) {
	s, cfg := directory(t)
	c := client(t, cfg)
	ctx := context.Background()
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	s.SetPassword(t, ldaptest.UserDN("alice"), "new-pw")
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); reason(err) != "wrong password" {
		t.Errorf("old password after change: %v", err)
	}
	if _, err := c.Authenticate(ctx, "alice", "new-pw"); err != nil {
		t.Errorf("new password: %v", err)
	}
	s.AddMember(t, ldaptest.GroupDN("admins"), ldaptest.UserDN("alice"))
	s.RemoveMember(t, ldaptest.GroupDN("admins"), ldaptest.UserDN("bob"))
	if u, err := c.Authenticate(ctx, "bob", "bob-pw"); err != nil || u.Admin {
		t.Errorf("bob after leaving admins: admin %v, %v", u.Admin, err)
	}
	if u, err := c.Authenticate(ctx, "alice", "new-pw"); err != nil || !u.Admin {
		t.Errorf("alice after joining admins: admin %v, %v", u.Admin, err)
	}
	s.Delete(t, ldaptest.UserDN("alice"))
	if _, err := c.Authenticate(ctx, "alice", "new-pw"); reason(err) != "no such user in the directory" {
		t.Errorf("deleted user: %v", err)
	}
	if _, err := c.LookupUser(ctx, "alice"); !errs.Is(err, errs.NotFound) {
		t.Errorf("LookupUser of a deleted user: %v", err)
	}
}

// Groups come from member searches when users carry no memberOf, and from
// posixGroup memberUid; the filter and base DN limit them.
func TestGroupSources(t *testing.T) {
	s, cfg := directory(t)
	s.Load(t, "dn: cn=ops,"+ldaptest.GroupsDN+"\nobjectClass: posixGroup\ncn: ops\ngidNumber: 500\nmemberUid: carol\n\n"+
		"dn: ou=elsewhere,"+ldaptest.BaseDN+"\nobjectClass: organizationalUnit\nou: elsewhere\n\n"+
		"dn: cn=outside,ou=elsewhere,"+ldaptest.BaseDN+"\nobjectClass: groupOfNames\ncn: outside\nmember: "+ldaptest.UserDN("carol")+"\n")
	ctx := context.Background()

	cfg.MembershipAttribute = "description" // no memberOf: only member searches
	c := client(t, cfg)
	u, err := c.Authenticate(ctx, "carol", "carol-pw")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Group{{DN: "cn=ops," + ldaptest.GroupsDN, Name: "ops"}}; !cmp.Equal(u.Groups, want) {
		t.Errorf("carol's groups = %v, want %v", u.Groups, want)
	}
	u, err = c.Authenticate(ctx, "bob", "bob-pw")
	if err != nil || !u.Admin || len(u.Groups) != 2 {
		t.Errorf("bob by member search: %+v, %v", u, err)
	}

	cfg.GroupFilter = "(objectClass=groupOfNames)"
	cfg.MembershipAttribute = ""
	c = client(t, cfg)
	if u, err := c.Authenticate(ctx, "carol", "carol-pw"); err != nil || len(u.Groups) != 0 {
		t.Errorf("carol with a groupOfNames filter: %+v, %v; want no groups (ops is posix, outside is outside the base)", u.Groups, err)
	}

	cfg.GroupBaseDN = ""
	c = client(t, cfg)
	if u, err := c.Authenticate(ctx, "bob", "bob-pw"); err != nil || u.Admin || len(u.Groups) != 0 {
		t.Errorf("bob without a group base DN: %+v, %v; want no groups", u, err)
	}
}

func TestSearch(t *testing.T) {
	_, cfg := directory(t)
	c := client(t, cfg)
	ctx := context.Background()
	users, err := c.SearchUsers(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"alice", "bob", "carol"}) {
		t.Errorf("all users = %q", names)
	}
	if users, err := c.SearchUsers(ctx, "bob"); err != nil || len(users) != 1 || users[0].Email != "bob@berth.test" {
		t.Errorf("search bob: %+v, %v", users, err)
	}
	if users, err := c.SearchUsers(ctx, "b*"); err != nil || len(users) != 0 {
		t.Errorf("search b*: %+v, %v; want none (exact match)", users, err)
	}
	if u, err := c.LookupUser(ctx, "bob"); err != nil || !u.Admin || u.DN != ldaptest.UserDN("bob") {
		t.Errorf("lookup bob: %+v, %v", u, err)
	}

	gs, err := c.SearchGroups(ctx, "", "")
	if err != nil || len(gs) != 2 {
		t.Errorf("all groups: %+v, %v", gs, err)
	}
	gs, err = c.SearchGroups(ctx, "admins", "")
	if want := []Group{{DN: ldaptest.GroupDN("admins"), Name: "admins"}}; err != nil || !cmp.Equal(gs, want) {
		t.Errorf("group admins: %+v, %v", gs, err)
	}
	gs, err = c.SearchGroups(ctx, "", "CN=Developers,"+ldaptest.GroupsDN)
	if err != nil || len(gs) != 1 || gs[0].Name != "developers" {
		t.Errorf("group by DN: %+v, %v", gs, err)
	}
	if gs, err := c.SearchGroups(ctx, "", ldaptest.UserDN("alice")); err != nil || len(gs) != 0 {
		t.Errorf("a DN outside the group base: %+v, %v", gs, err)
	}
	if _, err := c.SearchGroups(ctx, "", "not a dn"); !errs.Is(err, errs.Invalid) {
		t.Errorf("bad DN: %v", err)
	}
	if gs, err := c.SearchGroups(ctx, "*)(cn=*", ""); err != nil || len(gs) != 0 {
		t.Errorf("injected group name: %+v, %v", gs, err)
	}
}

// LDAPS and StartTLS check the certificate against the configured CA
// unless verification is off.
func TestTLS(t *testing.T) {
	s, cfg := directory(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
		verify   bool
		ca       string
		ok       bool
	}{
		{"ldaps with the CA", s.LDAPSURL, false, true, string(s.CAPEM), true},
		{"ldaps without the CA", s.LDAPSURL, false, true, "", false},
		{"ldaps without verification", s.LDAPSURL, false, false, "", true},
		{"starttls with the CA", s.URL, true, true, string(s.CAPEM), true},
		{"starttls without the CA", s.URL, true, true, "", false},
		{"starttls without verification", s.URL, true, false, "", true},
		{"ldaps by host name", strings.Replace(s.LDAPSURL, "127.0.0.1", "localhost", 1), false, true, string(s.CAPEM), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfg
			cfg.URL, cfg.StartTLS, cfg.VerifyCert, cfg.CACert = tc.url, tc.startTLS, tc.verify, tc.ca
			c := client(t, cfg)
			_, err := c.Authenticate(ctx, "alice", "alice-pw")
			if tc.ok && err != nil {
				t.Fatalf("login: %v", err)
			}
			if !tc.ok && !errs.Is(err, errs.Unavailable) {
				t.Fatalf("login over an untrusted certificate: %v, want unavailable", err)
			}
			if perr := c.Ping(ctx); (perr == nil) != tc.ok {
				t.Errorf("ping: %v", perr)
			}
		})
	}
}

func TestPing(t *testing.T) {
	_, cfg := directory(t)
	ctx := context.Background()
	if err := client(t, cfg).Ping(ctx); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	anon := cfg
	anon.SearchDN, anon.SearchPassword = "", ""
	bad := map[string]Config{}
	c := cfg
	c.SearchPassword = "wrong"
	bad["wrong search password"] = c
	c = cfg
	c.BaseDN = "ou=missing," + ldaptest.BaseDN
	bad["missing base DN"] = c
	bad["anonymous search is refused"] = anon
	c = cfg
	c.URL = "ldap://127.0.0.1:" + closedPort(t)
	bad["nothing listening"] = c
	for name, cfg := range bad {
		t.Run(name, func(t *testing.T) {
			err := client(t, cfg).Ping(ctx)
			if !errs.Is(err, errs.Unavailable) {
				t.Fatalf("ping = %v, want unavailable", err)
			}
			if strings.Contains(err.Error(), cfg.SearchPassword) && cfg.SearchPassword != "" {
				t.Errorf("the error %q shows the search password", err)
			}
		})
	}
}

// A server that accepts and never answers costs one timeout, not a hang.
func TestTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	c := client(t, Config{URL: "ldap://" + l.Addr().String(), BaseDN: "dc=x", SearchDN: "cn=s,dc=x",
		SearchPassword: "p", Timeout: time.Second})
	if _, err := c.Authenticate(context.Background(), "alice", "pw"); !errs.Is(err, errs.Unavailable) {
		t.Errorf("silent server: %v, want unavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Ping(ctx); err == nil {
		t.Error("ping with a cancelled context succeeded")
	}
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

func TestConfigCheck(t *testing.T) {
	ok := Config{URL: "ldap.example.com", BaseDN: "dc=example,dc=com"}
	n, err := ok.check()
	if err != nil {
		t.Fatal(err)
	}
	if n.URL != "ldap://ldap.example.com" || n.UID != "cn" || n.GroupFilter != DefaultGroupFilter || n.Timeout != DefaultTimeout {
		t.Errorf("defaults: %+v", n)
	}
	if n, _ := (Config{URL: "ldap://h", BaseDN: "dc=x", Filter: "objectClass=person"}).check(); n.Filter != "(objectClass=person)" {
		t.Errorf("filter without parentheses became %q", n.Filter)
	}
	for name, c := range map[string]Config{
		"ldap_url":                        {BaseDN: "dc=x"},
		"scheme":                          {URL: "http://h", BaseDN: "dc=x"},
		"path":                            {URL: "ldap://h/dc=x", BaseDN: "dc=x"},
		"ldap_base_dn":                    {URL: "ldap://h"},
		"bad base DN":                     {URL: "ldap://h", BaseDN: "not a dn"},
		"ldap_filter":                     {URL: "ldap://h", BaseDN: "dc=x", Filter: "(&(a=b)"},
		"ldap_uid":                        {URL: "ldap://h", BaseDN: "dc=x", UID: "uid)(x=*"},
		"ldap_scope":                      {URL: "ldap://h", BaseDN: "dc=x", Scope: 3},
		"ldap_ca_cert":                    {URL: "ldap://h", BaseDN: "dc=x", CACert: "junk"},
		"starttls on ldaps":               {URL: "ldaps://h", BaseDN: "dc=x", StartTLS: true},
		"ldap_group_membership_attribute": {URL: "ldap://h", BaseDN: "dc=x", MembershipAttribute: "member of"},
	} {
		if _, err := New(c); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
}
