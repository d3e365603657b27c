package access

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// The SSO model: auth modes, external users, groups, CLI secrets and
// sealed secrets, on a real (SQLite) store.

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newSSOService(t *testing.T, opts ...Option) (*Service, *clock) {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c := &clock{t: time.Now()}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithClock(c.now)}, opts...)
	s, err := New(ctx, db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(ctx, "Admin12345", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return s, c
}

func admin(t *testing.T, s *Service) Principal {
	t.Helper()
	u, err := s.db.Q().GetUser(context.Background(), adminUserID)
	if err != nil {
		t.Fatal(err)
	}
	return UserPrincipal(u)
}

func wantKind(t *testing.T, err error, k errs.Kind) {
	t.Helper()
	if errs.KindOf(err) != k || err == nil {
		t.Fatalf("got %v (kind %v), want kind %v", err, errs.KindOf(err), k)
	}
}

func setMode(t *testing.T, s *Service, mode string) {
	t.Helper()
	if err := s.UpdateConfiguration(context.Background(), admin(t, s), "test", ConfigurationUpdate{AuthMode: &mode}); err != nil {
		t.Fatalf("set auth_mode %s: %v", mode, err)
	}
}

func TestSealRoundTrip(t *testing.T) {
	s, _ := newSSOService(t)
	sealed, err := s.Seal("a", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "hello") {
		t.Fatal("sealed value contains the plain text")
	}
	got, err := s.Unseal("a", sealed)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	if _, err := s.Unseal("b", sealed); err == nil {
		t.Error("a value sealed for one purpose opened for another")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Unseal("a", sealed); err == nil {
		t.Error("a tampered value opened")
	}
	// A configured key of the wrong size is refused at start.
	db, err := meta.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(context.Background(), db, WithSecretKey([]byte("short"))); err == nil {
		t.Error("New accepted a 5-byte secret key")
	}
}

func TestAuthModeSwitch(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t)
	if got := s.AuthMode(ctx); got != AuthDB {
		t.Fatalf("default auth mode %q", got)
	}
	bad := "uaa_auth"
	wantKind(t, s.UpdateConfiguration(ctx, admin(t, s), "", ConfigurationUpdate{AuthMode: &bad}), errs.Invalid)
	setMode(t, s, AuthOIDC)
	setMode(t, s, AuthDB)
	if _, err := s.CreateUser(ctx, admin(t, s), "", NewUser{Username: "bob", Password: "Bob12345678"}); err != nil {
		t.Fatal(err)
	}
	mode := AuthOIDC
	err := s.UpdateConfiguration(ctx, admin(t, s), "", ConfigurationUpdate{AuthMode: &mode})
	wantKind(t, err, errs.Invalid)
	if !strings.Contains(err.Error(), "users other than the admin exist") {
		t.Errorf("message %q", err)
	}
	setMode(t, s, AuthDB) // setting the current mode is fine
}

// TestAdminPasswordInEveryMode: user 1 signs in with its password
// whatever the mode; others' passwords are refused in oidc_auth.
func TestAdminPasswordInEveryMode(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t)
	for _, mode := range []string{AuthOIDC, AuthLDAP, AuthDB} {
		setMode(t, s, mode)
		p, err := s.Authenticate(ctx, "admin", "Admin12345", "mode-"+mode)
		if err != nil || !p.SysAdmin {
			t.Fatalf("%s: admin login = %+v, %v", mode, p, err)
		}
	}
	// In ldap_auth without a provider other names are refused.
	setMode(t, s, AuthLDAP)
	_, err := s.Authenticate(ctx, "someone", "Pass12345", "x")
	wantKind(t, err, errs.Unauthorized)
	// Creating local users is a db_auth thing.
	_, err = s.CreateUser(ctx, admin(t, s), "", NewUser{Username: "bob", Password: "Bob12345678"})
	wantKind(t, err, errs.Denied)
}

func TestLoginExternalAndGroups(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t)
	setMode(t, s, AuthOIDC)
	l := ExternalLogin{Source: meta.SourceOIDC, Issuer: "https://idp", Subject: "sub-a", Username: "alice",
		Email: "alice@example.com", Groups: []meta.UserGroup{{Name: "devs", Type: meta.GroupOIDC}}}

	// Not onboarded yet.
	_, _, err := s.LoginExternal(ctx, l, false)
	if !IsNotOnboarded(err) || errs.KindOf(err) != errs.NotFound {
		t.Fatalf("LoginExternal without onboarding = %v", err)
	}
	u, p, err := s.LoginExternal(ctx, l, true)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "alice" || u.Email != "alice@example.com" || p.SysAdmin || len(p.GroupIDs) != 1 {
		t.Fatalf("onboarded %+v principal %+v", u, p)
	}
	devs, err := s.db.Q().GetUserGroupByName(ctx, meta.GroupOIDC, "devs")
	if err != nil || p.GroupIDs[0] != devs.ID {
		t.Fatalf("group devs = %+v, %v; principal groups %v", devs, err, p.GroupIDs)
	}
	// Again: same account; the admin group makes it an administrator,
	// new groups replace old ones.
	yes := true
	l.Groups = []meta.UserGroup{{Name: "admins", Type: meta.GroupOIDC}}
	l.Admin = &yes
	l.Username = "ignored"
	u2, p2, err := s.LoginExternal(ctx, l, true)
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID != u.ID || u2.Username != "alice" || !p2.SysAdmin || len(p2.GroupIDs) != 1 || p2.GroupIDs[0] == devs.ID {
		t.Fatalf("second login %+v %+v", u2, p2)
	}
	// Another identity cannot take the name.
	_, _, err = s.LoginExternal(ctx, ExternalLogin{Source: meta.SourceOIDC, Issuer: "https://idp", Subject: "sub-b", Username: "ALICE"}, true)
	wantKind(t, err, errs.Conflict)
	// Disabled accounts are refused.
	u2.Disabled = true
	if err := s.db.Q().UpdateUser(ctx, u2); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.LoginExternal(ctx, l, true)
	wantKind(t, err, errs.Unauthorized)
}

// TestGroupRolesUnion: a user holds its own role and its groups' roles.
func TestGroupRolesUnion(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t)
	setMode(t, s, AuthOIDC)
	q := s.db.Q()
	_, p, err := s.LoginExternal(ctx, ExternalLogin{Source: meta.SourceOIDC, Issuer: "i", Subject: "s", Username: "u",
		Groups: []meta.UserGroup{{Name: "g1", Type: meta.GroupOIDC}, {Name: "g2", Type: meta.GroupOIDC}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	adm := admin(t, s)
	mk := func(name string) meta.Project {
		pv, err := s.CreateProject(ctx, adm, "", ProjectSpec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return pv
	}
	_ = q
	onlyGroup, both, none := mk("only-group"), mk("both"), mk("none")
	add := func(pr meta.Project, spec MemberSpec) {
		if _, err := s.AddMember(ctx, adm, "", ProjectRef{ID: pr.ID}, spec); err != nil {
			t.Fatalf("add member to %s: %v", pr.Name, err)
		}
	}
	add(onlyGroup, MemberSpec{RoleID: RoleDeveloper, Group: true, GroupName: "g1", GroupType: meta.GroupOIDC})
	add(both, MemberSpec{RoleID: RoleGuest, Username: "u"})
	add(both, MemberSpec{RoleID: RoleMaintainer, Group: true, GroupName: "g2", GroupType: meta.GroupOIDC})
	// A group that does not exist yet is created, as in Harbor.
	add(none, MemberSpec{RoleID: RoleProjectAdmin, Group: true, GroupName: "g3", GroupType: meta.GroupOIDC})
	// LDAP groups do not belong in oidc_auth.
	_, err = s.AddMember(ctx, adm, "", ProjectRef{ID: none.ID}, MemberSpec{RoleID: 1, Group: true, GroupType: meta.GroupLDAP, GroupDN: "cn=x"})
	wantKind(t, err, errs.Invalid)

	for _, tc := range []struct {
		pr   meta.Project
		role int
		push bool
	}{{onlyGroup, RoleDeveloper, true}, {both, RoleMaintainer, true}, {none, 0, false}} {
		role, err := s.Role(ctx, p, tc.pr)
		if err != nil || role != tc.role {
			t.Errorf("Role in %s = %d, %v; want %d", tc.pr.Name, role, err, tc.role)
		}
		can, _ := s.Can(ctx, p, tc.pr, ResRepository, ActPush)
		if can != tc.push {
			t.Errorf("push to %s = %v, want %v", tc.pr.Name, can, tc.push)
		}
	}
	// Without its groups (a principal built before they were known) the
	// user sees only its own membership.
	bare := p
	bare.GroupIDs = nil
	if role, _ := s.Role(ctx, bare, onlyGroup); role != 0 {
		t.Errorf("role without groups = %d", role)
	}
	views, _, err := s.ListProjects(ctx, p, meta.ListOptions{}, ProjectQuery{})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, v := range views {
		if !v.Public {
			roles[v.Name] = v.Role
		}
	}
	if len(roles) != 2 || roles["both"] != RoleMaintainer || roles["only-group"] != RoleDeveloper {
		t.Errorf("private projects listed with roles %v", roles)
	}
}

// TestRolesNested: each role grants everything the roles ranked below it
// grant, which is what makes bestRole the union of several roles.
func TestRolesNested(t *testing.T) {
	order := []int{RoleLimitedGuest, RoleGuest, RoleDeveloper, RoleMaintainer, RoleProjectAdmin}
	for i := 1; i < len(order); i++ {
		for _, perm := range RolePerms(order[i-1]) {
			if !RoleAllows(order[i], perm.Resource, perm.Action) {
				t.Errorf("%s lacks %s that %s has", RoleName(order[i]), perm, RoleName(order[i-1]))
			}
		}
	}
	if bestRole(RoleGuest, RoleProjectAdmin, RoleDeveloper) != RoleProjectAdmin || bestRole() != 0 {
		t.Error("bestRole")
	}
}

type fakeChecker struct {
	calls  int
	refuse bool
	groups []meta.UserGroup
}

func (f *fakeChecker) Recheck(ctx context.Context, u meta.User, id meta.UserIdentity, rt string) (Rechecked, error) {
	f.calls++
	if f.refuse {
		return Rechecked{}, errs.New(errs.Unauthorized, "", "invalid_grant")
	}
	return Rechecked{RefreshToken: rt + "+", Groups: f.groups}, nil
}

func TestCLISecret(t *testing.T) {
	ctx := context.Background()
	s, c := newSSOService(t)
	setMode(t, s, AuthOIDC)
	u, p, err := s.LoginExternal(ctx, ExternalLogin{Source: meta.SourceOIDC, Issuer: "i", Subject: "s", Username: "carol",
		RefreshToken: "rt0"}, true)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, ok, err := s.UserCLISecret(ctx, p, u.ID)
	if err != nil || !ok || len(secret) != 32 {
		t.Fatalf("UserCLISecret = %q %v %v", secret, ok, err)
	}
	if _, _, ok, _ := s.UserCLISecret(ctx, admin(t, s), u.ID); ok {
		t.Error("the admin sees another user's CLI secret")
	}
	// The secret works as the password; nothing else does.
	got, err := s.Authenticate(ctx, "carol", secret, "a")
	if err != nil || got.UserID != u.ID {
		t.Fatalf("Authenticate with the CLI secret = %+v, %v", got, err)
	}
	_, err = s.Authenticate(ctx, "carol", secret+"x", "b")
	wantKind(t, err, errs.Unauthorized)

	// Provider re-check: due after recheckInterval, a refusal ends access.
	chk := &fakeChecker{}
	s.SetIdentityChecker(meta.SourceOIDC, chk)
	if _, err := s.Authenticate(ctx, "carol", secret, "a"); err != nil || chk.calls != 0 {
		t.Fatalf("fresh login re-checked: calls %d, %v", chk.calls, err)
	}
	c.t = c.t.Add(recheckInterval + time.Second)
	chk.groups = []meta.UserGroup{{Name: "late", Type: meta.GroupOIDC}}
	got, err = s.Authenticate(ctx, "carol", secret, "a")
	if err != nil || chk.calls != 1 || len(got.GroupIDs) != 1 {
		t.Fatalf("stale: calls %d, groups %v, %v", chk.calls, got.GroupIDs, err)
	}
	id, _ := s.db.Q().GetUserIdentity(ctx, u.ID)
	if rt, _ := s.Unseal(purposeRefreshToken, id.RefreshToken); string(rt) != "rt0+" {
		t.Errorf("rotated refresh token = %q", rt)
	}
	if _, err := s.Authenticate(ctx, "carol", secret, "a"); err != nil || chk.calls != 1 {
		t.Fatalf("just re-checked: calls %d, %v", chk.calls, err)
	}
	c.t = c.t.Add(recheckInterval + time.Second)
	chk.refuse = true
	_, err = s.Authenticate(ctx, "carol", secret, "c")
	wantKind(t, err, errs.Unauthorized)
	chk.refuse = false

	// Regenerate: the old one stops working. A chosen one must be strong.
	newSecret, err := s.SetCLISecret(ctx, p, "", u.ID, "")
	if err != nil || newSecret == secret {
		t.Fatalf("SetCLISecret = %q, %v", newSecret, err)
	}
	_, err = s.Authenticate(ctx, "carol", secret, "d")
	wantKind(t, err, errs.Unauthorized)
	if _, err := s.Authenticate(ctx, "carol", newSecret, "e"); err != nil {
		t.Fatal(err)
	}
	_, err = s.SetCLISecret(ctx, p, "", u.ID, "weak")
	wantKind(t, err, errs.Invalid)
	chosen, err := s.SetCLISecret(ctx, p, "", u.ID, "Chosen1234")
	if err != nil || chosen != "Chosen1234" {
		t.Fatal(err)
	}
	// Others may not; the admin may, and may revoke.
	_, p2, _ := s.LoginExternal(ctx, ExternalLogin{Source: meta.SourceOIDC, Issuer: "i", Subject: "s2", Username: "dave"}, true)
	_, err = s.SetCLISecret(ctx, p2, "", u.ID, "")
	wantKind(t, err, errs.Denied)
	if err := s.RevokeCLISecret(ctx, admin(t, s), "", u.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, "carol", "Chosen1234", "f")
	wantKind(t, err, errs.Unauthorized)
	// The admin has no CLI secret (412).
	_, err = s.SetCLISecret(ctx, admin(t, s), "", adminUserID, "")
	wantKind(t, err, errs.Conflict)
	// A disabled user's secret stops working.
	again, _ := s.SetCLISecret(ctx, p, "", u.ID, "")
	u.Disabled = true
	if err := s.db.Q().UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, "carol", again, "g")
	wantKind(t, err, errs.Unauthorized)
}

type fakeDirectory struct{ s *Service }

func (f fakeDirectory) AuthenticatePassword(ctx context.Context, username, password string) (meta.User, error) {
	if password != "right" {
		return meta.User{}, errs.New(errs.Unauthorized, "", "wrong directory password")
	}
	u, _, err := f.s.LoginExternal(ctx, ExternalLogin{Source: meta.SourceLDAP, Subject: "uid=" + username + ",dc=x",
		Username: username, Groups: []meta.UserGroup{{Type: meta.GroupLDAP, LDAPDN: "cn=devs,dc=x", Name: "devs"}}}, true)
	return u, err
}

func TestPasswordProvider(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t)
	s.SetPasswordProvider(AuthLDAP, fakeDirectory{s})
	setMode(t, s, AuthLDAP)
	p, err := s.Authenticate(ctx, "erin", "right", "a")
	if err != nil || p.Username != "erin" || len(p.GroupIDs) != 1 {
		t.Fatalf("directory login = %+v, %v", p, err)
	}
	_, err = s.Authenticate(ctx, "erin", "wrong", "b")
	wantKind(t, err, errs.Unauthorized)
	_, err = s.Authenticate(ctx, "erin", "", "c")
	wantKind(t, err, errs.Unauthorized)
	g, err := s.db.Q().GetUserGroupByDN(ctx, "CN=devs,dc=x")
	if err != nil || g.Name != "devs" {
		t.Fatalf("LDAP group = %+v, %v", g, err)
	}
}

func TestProviderConfigKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t, WithConfigKeys(
		ConfigKey{Name: "x_url", Type: KeyString, Default: "http://d"},
		ConfigKey{Name: "x_verify", Type: KeyBool, Default: "true"},
		ConfigKey{Name: "x_secret", Type: KeyString, Secret: true},
	))
	if v, _ := s.ConfigValue(ctx, "x_url"); v != "http://d" {
		t.Errorf("default = %q", v)
	}
	adm := admin(t, s)
	err := s.UpdateConfiguration(ctx, adm, "", ConfigurationUpdate{Extra: map[string]string{"x_verify": "maybe"}})
	wantKind(t, err, errs.Invalid)
	err = s.UpdateConfiguration(ctx, adm, "", ConfigurationUpdate{Extra: map[string]string{"nope": "1"}})
	wantKind(t, err, errs.Invalid)
	if err := s.UpdateConfiguration(ctx, adm, "", ConfigurationUpdate{Extra: map[string]string{
		"x_url": "https://idp", "x_verify": "false", "x_secret": "s3cret"}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.ConfigValue(ctx, "x_secret"); v != "s3cret" {
		t.Errorf("secret = %q", v)
	}
	if b, _ := s.ConfigBool(ctx, "x_verify"); b {
		t.Error("x_verify still true")
	}
	raw, _ := s.db.Q().GetSetting(ctx, "config.x_secret")
	if strings.Contains(string(raw), "s3cret") {
		t.Error("secret key stored in the clear")
	}
	logs, _, _ := s.db.Q().ListAudit(ctx, meta.ListOptions{}, 0)
	for _, l := range logs {
		if strings.Contains(l.Detail, "s3cret") {
			t.Errorf("audit log shows the secret: %s", l.Detail)
		}
	}
}

// TestLoginExternalRace: concurrent first sign-ins of one identity all get
// the same new account.
func TestLoginExternalRace(t *testing.T) {
	ctx := context.Background()
	s, _ := newSSOService(t)
	const n = 6
	ids := make(chan int64, n)
	errc := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			u, _, err := s.LoginExternal(ctx, ExternalLogin{Source: meta.SourceOIDC, Issuer: "i", Subject: "same", Username: "racer"}, true)
			ids <- u.ID
			errc <- err
		}()
	}
	close(start)
	var first int64
	for range n {
		id, err := <-ids, <-errc
		if err != nil {
			t.Fatalf("LoginExternal: %v", err)
		}
		if first == 0 {
			first = id
		}
		if id != first {
			t.Fatalf("accounts %d and %d for one identity", first, id)
		}
	}
}
