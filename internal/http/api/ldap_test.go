package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/http/token"
	"github.com/berth-registry/berth/internal/ldapauth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/ldaptest"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// ldapEnv is berth in ldap_auth mode over a real slapd: the API, the
// token service and UI sessions, with only the admin as a local user.
// The directory holds alice (developers), bob (admins) and carol (no
// group).
type ldapEnv struct {
	*apiEnv
	dir   *ldaptest.Server
	clock *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newLDAPEnv(t *testing.T, dsn string) *ldapEnv {
	t.Helper()
	return newLDAPEnvMode(t, dsn, "ldap_auth")
}

// newLDAPEnvMode is newLDAPEnv with the auth mode given; "" leaves LDAP
// unconfigured (and the mode db_auth).
func newLDAPEnvMode(t *testing.T, dsn, mode string) *ldapEnv {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e := &ldapEnv{apiEnv: &apiEnv{t: t, ctx: ctx, dsn: dsn, dir: t.TempDir(), db: db, users: map[string]meta.User{}},
		clock: &fakeClock{t: time.Now()}}
	e.log = discardLog()
	e.acc, err = access.New(ctx, db, access.WithLogger(e.log), access.WithConfigKeys(ldapauth.ConfigKeys()...))
	if err != nil {
		t.Fatalf("access.New: %v", err)
	}
	prov := ldapauth.NewProvider(e.acc, ldapauth.WithClock(e.clock.now), ldapauth.WithLogger(e.log))
	authn := auth.New(e.acc, "", e.log)
	mux := http.NewServeMux()
	mux.Handle("/service/token", token.New(authn, e.log))
	mux.Handle("/", api.New(e.acc, authn, nil, e.log, api.WithLDAP(prov)))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	if _, err := e.acc.Bootstrap(ctx, adminPassword, e.apiEnv.dir); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}

	e.dir = ldaptest.Start(t)
	alice := e.dir.AddUser(t, "alice", "alice-pw")
	bob := e.dir.AddUser(t, "bob", "bob-pw")
	e.dir.AddUser(t, "carol", "carol-pw")
	e.dir.AddGroup(t, "developers", alice)
	e.dir.AddGroup(t, "admins", bob)
	if mode != "" {
		r := e.do(e.as("admin"), "PUT", "/configurations", e.ldapSettings(e.dir.URL, map[string]any{"auth_mode": mode}))
		want(t, r, 200, "configure "+mode)
	}
	return e
}

// ldapSettings is the configuration for the test directory at url, plus
// extra keys.
func (e *ldapEnv) ldapSettings(url string, extra map[string]any) map[string]any {
	m := map[string]any{
		"ldap_url":                  url,
		"ldap_search_dn":            ldaptest.SearchDN,
		"ldap_search_password":      e.dir.SearchPassword,
		"ldap_base_dn":              ldaptest.PeopleDN,
		"ldap_filter":               "(objectClass=inetOrgPerson)",
		"ldap_uid":                  "uid",
		"ldap_scope":                2,
		"ldap_verify_cert":          true,
		"ldap_ca_cert":              string(e.dir.CAPEM),
		"ldap_group_base_dn":        ldaptest.GroupsDN,
		"ldap_group_admin_dn":       ldaptest.GroupDN("admins"),
		"ldap_group_attribute_name": "cn",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// forEachLDAPDB runs fn on SQLite and PostgreSQL.
func forEachLDAPDB(t *testing.T, fn func(t *testing.T, e *ldapEnv)) {
	t.Helper()
	t.Run(meta.SQLite, func(t *testing.T) {
		t.Parallel()
		fn(t, newLDAPEnv(t, filepath.Join(t.TempDir(), "meta.db")))
	})
	t.Run(meta.Postgres, func(t *testing.T) {
		t.Parallel()
		fn(t, newLDAPEnv(t, pgtest.DSN(t)))
	})
}

// tokenActions asks the token service for scope with Basic credentials
// and returns the status and the actions granted on the scope's
// repository.
func (e *ldapEnv) tokenActions(c cred, scope string) (int, []string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/service/token?service="+auth.Service+"&scope="+url.QueryEscape(scope), nil)
	req.SetBasicAuth(c.user, c.pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return res.StatusCode, nil
	}
	var body struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		e.t.Fatal(err)
	}
	parts := strings.Split(body.Token, ".")
	if len(parts) != 3 {
		e.t.Fatalf("token %q is not a JWT", body.Token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		e.t.Fatal(err)
	}
	var claims struct {
		Access []struct{ Actions []string } `json:"access"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		e.t.Fatal(err)
	}
	var acts []string
	for _, a := range claims.Access {
		acts = append(acts, a.Actions...)
	}
	slices.Sort(acts)
	return 200, acts
}

// sessionLogin posts the UI login form and returns the status.
func (e *ldapEnv) sessionLogin(user, pass string) int {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+"/c/login", url.Values{"principal": {user}, "password": {pass}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func currentUser(t *testing.T, e *ldapEnv, c cred) (int, map[string]any) {
	t.Helper()
	r := e.do(c, "GET", "/users/current", nil)
	if r.status != 200 {
		return r.status, nil
	}
	var u map[string]any
	decodeInto(t, r, &u)
	return r.status, u
}

// Login through every door, group-based project access, the admin group,
// and a directory that changes under berth.
func TestLDAPLogin(t *testing.T) {
	forEachLDAPDB(t, func(t *testing.T, e *ldapEnv) {
		alice, bob, carol := cred{"alice", "alice-pw"}, cred{"bob", "bob-pw"}, cred{"carol", "carol-pw"}
		admin := e.as("admin")

		// First login imports the user, with its directory profile.
		st, u := currentUser(t, e, alice)
		if st != 200 || u["username"] != "alice" || u["email"] != "alice@berth.test" || u["sysadmin_flag"] != false {
			t.Fatalf("alice's first login: %d %v", st, u)
		}
		if n := e.count(`SELECT count(*) FROM user_identities i JOIN users u ON u.id = i.user_id
			WHERE u.username = 'alice' AND i.source = 'ldap' AND i.subject = ?`, strings.ToLower(ldaptest.UserDN("alice"))); n != 1 {
			t.Errorf("alice has %d ldap identities, want 1", n)
		}
		if n := e.count(`SELECT count(*) FROM user_groups WHERE group_type = 1 AND group_name = 'developers'`); n != 1 {
			t.Errorf("%d developers groups after alice's login, want 1", n)
		}

		// Refusals all look alike.
		for _, c := range []cred{{"alice", "wrong"}, {"mallory", "x"}, {"*", "alice-pw"}, {"alice)(uid=*", "alice-pw"},
			{"ali*", "alice-pw"}, {"alice", ""}} {
			if st, _ := currentUser(t, e, c); st != 401 {
				t.Errorf("login %q/%q: %d, want 401", c.user, c.pass, st)
			}
		}
		if n := e.count(`SELECT count(*) FROM users WHERE username <> 'admin' AND username <> 'alice'`); n != 0 {
			t.Errorf("failed logins created %d users", n)
		}

		// The admin group makes bob a system administrator.
		if st, u := currentUser(t, e, bob); st != 200 || u["sysadmin_flag"] != true {
			t.Fatalf("bob: %d %v, want sysadmin", st, u)
		}
		want(t, e.do(bob, "GET", "/configurations", nil), 200, "bob reads the configuration")
		want(t, e.do(alice, "GET", "/configurations", nil), 403, "alice reads the configuration")

		// An LDAP group as project member gives its users the role.
		want(t, e.do(admin, "POST", "/projects", map[string]any{"project_name": "team", "metadata": map[string]string{"public": "false"}}), 201, "create team")
		want(t, e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleDeveloper,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": ldaptest.GroupDN("developers")}}), 201, "add developers to team")
		want(t, e.do(alice, "GET", "/projects/team", nil), 200, "alice sees team")
		if st, _ := currentUser(t, e, carol); st != 200 {
			t.Fatalf("carol: %d", st)
		}
		if r := e.do(carol, "GET", "/projects/team", nil); r.status != 403 && r.status != 404 {
			t.Errorf("carol sees team: %s", r)
		}
		if st, acts := e.tokenActions(alice, "repository:team/app:pull,push"); st != 200 || !slices.Equal(acts, []string{"pull", "push"}) {
			t.Errorf("alice's token for team/app: %d %q, want pull and push", st, acts)
		}
		if st, acts := e.tokenActions(carol, "repository:team/app:pull,push"); st != 200 || len(acts) != 0 {
			t.Errorf("carol's token for team/app: %d %q, want nothing", st, acts)
		}
		if st := e.sessionLogin("alice", "alice-pw"); st != 200 {
			t.Errorf("UI login as alice: %d", st)
		}

		// Leaving the group in the directory takes the role away at the
		// next login.
		e.dir.AddMember(t, ldaptest.GroupDN("developers"), ldaptest.UserDN("carol"))
		e.dir.RemoveMember(t, ldaptest.GroupDN("developers"), ldaptest.UserDN("alice"))
		e.clock.add(time.Minute)
		if st, acts := e.tokenActions(alice, "repository:team/app:pull,push"); st != 200 || len(acts) != 0 {
			t.Errorf("alice's token after leaving developers: %d %q, want nothing", st, acts)
		}
		if st, acts := e.tokenActions(carol, "repository:team/app:pull,push"); st != 200 || !slices.Equal(acts, []string{"pull", "push"}) {
			t.Errorf("carol's token after joining developers: %d %q", st, acts)
		}

		// A changed password and a removed user stop working everywhere.
		e.dir.SetPassword(t, ldaptest.UserDN("bob"), "bob-new")
		e.dir.Delete(t, ldaptest.UserDN("carol"))
		e.clock.add(time.Minute)
		for _, c := range []cred{bob, carol} {
			if st, _ := currentUser(t, e, c); st != 401 {
				t.Errorf("API as %s after the directory change: %d, want 401", c.user, st)
			}
			if st, _ := e.tokenActions(c, "repository:team/app:pull"); st != 401 {
				t.Errorf("token for %s after the directory change: %d, want 401", c.user, st)
			}
			if st := e.sessionLogin(c.user, c.pass); st != 401 {
				t.Errorf("UI login as %s after the directory change: %d, want 401", c.user, st)
			}
		}
		if st, _ := currentUser(t, e, cred{"bob", "bob-new"}); st != 200 {
			t.Errorf("bob with the new password: %d", st)
		}
		// The local admin needs no directory.
		e.dir.Stop()
		if st, _ := currentUser(t, e, admin); st != 200 {
			t.Errorf("admin with the directory down: %d", st)
		}
		if st, _ := currentUser(t, e, cred{"alice", "alice-pw"}); st != 503 {
			t.Errorf("alice with the directory down: %d, want 503", st)
		}
	})
}

// A successful login is remembered briefly, never a failed one.
func TestLDAPLoginCache(t *testing.T) {
	e := newLDAPEnv(t, filepath.Join(t.TempDir(), "meta.db"))
	alice := cred{"alice", "alice-pw"}
	if st, _ := currentUser(t, e, alice); st != 200 {
		t.Fatalf("alice: %d", st)
	}
	e.dir.Delete(t, ldaptest.UserDN("alice"))
	if st, _ := currentUser(t, e, alice); st != 200 {
		t.Errorf("alice within the cache time: %d, want 200", st)
	}
	if st, _ := currentUser(t, e, cred{"alice", "other"}); st != 401 {
		t.Errorf("another password for alice: %d, want 401", st)
	}
	e.clock.add(11 * time.Second)
	if st, _ := currentUser(t, e, alice); st != 401 {
		t.Errorf("alice after the cache time: %d, want 401", st)
	}
}

// The /ldap endpoints and the ldap_* configuration keys.
func TestLDAPEndpoints(t *testing.T) {
	e := newLDAPEnv(t, filepath.Join(t.TempDir(), "meta.db"))
	admin := e.as("admin")

	r := e.do(admin, "GET", "/configurations", nil)
	want(t, r, 200, "GET configurations")
	ValidateAgainstBerth(t, "GET", "/configurations", r.status, r.header, r.body)
	var conf map[string]struct {
		Value    any  `json:"value"`
		Editable bool `json:"editable"`
	}
	decodeInto(t, r, &conf)
	if pw, shown := conf["ldap_search_password"]; shown && pw.Value != "" || conf["ldap_url"].Value != e.dir.URL || conf["auth_mode"].Value != "ldap_auth" ||
		conf["ldap_scope"].Value != float64(2) || conf["ldap_verify_cert"].Value != true {
		t.Errorf("configuration shows %v", conf)
	}
	if strings.Contains(string(r.body), e.dir.SearchPassword) {
		t.Errorf("GET /configurations shows the search password")
	}
	for k, v := range map[string]any{"ldap_url": "http://x", "ldap_scope": 7, "ldap_base_dn": "not a dn",
		"ldap_filter": "(&(a=b)", "ldap_uid": "uid)(x=*", "ldap_timeout": 0, "ldap_ca_cert": "junk"} {
		wantErr(t, e.do(admin, "PUT", "/configurations", map[string]any{k: v}), 400, k, "PUT "+k)
	}

	// ping: stored settings, overrides, and failures as results.
	ping := func(body any) (bool, string) {
		t.Helper()
		r := e.do(admin, "POST", "/ldap/ping", body)
		want(t, r, 200, "ping")
		validateBoth(t, "POST", "/ldap/ping", r)
		var res struct {
			Success bool
			Message string
		}
		decodeInto(t, r, &res)
		return res.Success, res.Message
	}
	if ok, msg := ping(nil); !ok {
		t.Errorf("ping with the stored settings: %s", msg)
	}
	if ok, msg := ping(map[string]any{"ldap_url": e.dir.LDAPSURL, "ldap_search_password": ""}); !ok {
		t.Errorf("ping over LDAPS with the stored password: %s", msg)
	}
	if ok, msg := ping(map[string]any{"ldap_url": e.dir.URL, "ldap_start_tls": true}); !ok {
		t.Errorf("ping with StartTLS: %s", msg)
	}
	if ok, msg := ping(map[string]any{"ldap_search_password": "wrong"}); ok || !strings.Contains(msg, "search account") {
		t.Errorf("ping with a wrong password: %v %q", ok, msg)
	}
	if ok, msg := ping(map[string]any{"ldap_url": e.dir.LDAPSURL, "ldap_ca_cert": ""}); ok || strings.Contains(msg, e.dir.SearchPassword) {
		t.Errorf("ping over LDAPS without the CA: %v %q", ok, msg)
	}
	if ok, _ := ping(map[string]any{"ldap_base_dn": "ou=nowhere,dc=berth,dc=test", "ldap_connection_timeout": 2}); ok {
		t.Errorf("ping with a missing base DN succeeded")
	}
	wantErr(t, e.do(admin, "POST", "/ldap/ping", map[string]any{"ldap_url": "http://example.com"}), 400, "ldap_url", "ping a bad URL")
	wantErr(t, e.do(admin, "POST", "/ldap/ping", `{"ldap_url":`), 400, "JSON", "ping a bad body")
	want(t, e.do(anon, "POST", "/ldap/ping", nil), 401, "anonymous ping")

	// users/search and users/import.
	r = e.do(admin, "GET", "/ldap/users/search?username=carol", nil)
	want(t, r, 200, "search carol")
	validateBoth(t, "GET", "/ldap/users/search", r)
	var found []map[string]string
	decodeInto(t, r, &found)
	if len(found) != 1 || found[0]["username"] != "carol" || found[0]["email"] != "carol@berth.test" || found[0]["realname"] != "carol Test" {
		t.Errorf("search carol: %s", r.body)
	}
	r = e.do(admin, "GET", "/ldap/users/search", nil)
	decodeInto(t, r, &found)
	if len(found) != 3 {
		t.Errorf("search all: %s", r.body)
	}
	r = e.do(admin, "POST", "/ldap/users/import", map[string]any{"ldap_uid_list": []string{"carol", "nobody", "*"}})
	want(t, r, 404, "import carol, nobody and *")
	validateBoth(t, "POST", "/ldap/users/import", r)
	var failed []map[string]string
	decodeInto(t, r, &failed)
	if len(failed) != 2 || failed[0]["uid"] != "nobody" || failed[1]["uid"] != "*" {
		t.Errorf("import failures: %s", r.body)
	}
	if n := e.count(`SELECT count(*) FROM users WHERE username = 'carol'`); n != 1 {
		t.Errorf("carol imported %d times", n)
	}
	want(t, e.do(admin, "POST", "/ldap/users/import", map[string]any{"ldap_uid_list": []string{"bob"}}), 200, "import bob")
	if st, u := currentUser(t, e, cred{"bob", "bob-pw"}); st != 200 || u["sysadmin_flag"] != true {
		t.Errorf("imported bob logs in: %d %v", st, u)
	}
	r = e.do(admin, "POST", "/ldap/users/import", map[string]any{"ldap_uid_list": []string{"bob"}})
	want(t, r, 404, "import bob again")
	if !strings.Contains(string(r.body), "already") {
		t.Errorf("import bob again: %s", r.body)
	}

	// A directory name berth cannot take is a refused login and a failed
	// import, not a server error.
	e.dir.AddUser(t, "dan#1", "dan-pw")
	if st, _ := currentUser(t, e, cred{"dan#1", "dan-pw"}); st != 401 {
		t.Errorf("login as dan#1: %d, want 401", st)
	}
	r = e.do(admin, "POST", "/ldap/users/import", map[string]any{"ldap_uid_list": []string{"dan#1"}})
	want(t, r, 404, "import dan#1")
	if !strings.Contains(string(r.body), "illegal characters") {
		t.Errorf("import dan#1: %s", r.body)
	}

	// groups/search, with the berth group's id once it exists.
	r = e.do(admin, "GET", "/ldap/groups/search?groupname=admins", nil)
	want(t, r, 200, "search group admins")
	validateBoth(t, "GET", "/ldap/groups/search", r)
	var groups []map[string]any
	decodeInto(t, r, &groups)
	if len(groups) != 1 || groups[0]["group_name"] != "admins" || groups[0]["ldap_group_dn"] != ldaptest.GroupDN("admins") ||
		groups[0]["group_type"] != float64(1) || groups[0]["id"] == float64(0) {
		t.Errorf("group admins: %s", r.body)
	}
	r = e.do(admin, "GET", "/ldap/groups/search?groupdn="+url.QueryEscape(ldaptest.GroupDN("developers")), nil)
	decodeInto(t, r, &groups)
	if len(groups) != 1 || groups[0]["group_name"] != "developers" || groups[0]["id"] != float64(0) {
		t.Errorf("group developers by DN: %s", r.body)
	}
	wantErr(t, e.do(admin, "GET", "/ldap/groups/search?groupdn=nodn", nil), 400, "groupdn", "group by a bad DN")

	// Only administrators.
	carol := cred{"carol", "carol-pw"}
	for _, path := range []string{"/ldap/users/search", "/ldap/groups/search"} {
		want(t, e.do(carol, "GET", path, nil), 403, "carol GET "+path)
	}
	want(t, e.do(carol, "POST", "/ldap/ping", `{"bad`), 403, "carol ping")
	want(t, e.do(carol, "POST", "/ldap/users/import", map[string]any{"ldap_uid_list": []string{"alice"}}), 403, "carol import")
}

// Login over LDAPS and StartTLS, and refused over an untrusted
// certificate.
func TestLDAPLoginTLS(t *testing.T) {
	e := newLDAPEnv(t, filepath.Join(t.TempDir(), "meta.db"))
	admin := e.as("admin")
	for _, tc := range []struct {
		name     string
		settings map[string]any
		status   int
	}{
		{"ldaps", map[string]any{"ldap_url": e.dir.LDAPSURL}, 200},
		{"starttls", map[string]any{"ldap_url": e.dir.URL, "ldap_start_tls": true}, 200},
		{"ldaps without the CA", map[string]any{"ldap_url": e.dir.LDAPSURL, "ldap_start_tls": false, "ldap_ca_cert": ""}, 503},
		{"ldaps without verification", map[string]any{"ldap_url": e.dir.LDAPSURL, "ldap_verify_cert": false, "ldap_ca_cert": ""}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, e.do(admin, "PUT", "/configurations", tc.settings), 200, "configure "+tc.name)
			e.clock.add(time.Minute) // forget earlier logins
			if st, _ := currentUser(t, e, cred{"alice", "alice-pw"}); st != tc.status {
				t.Errorf("alice over %s: %d, want %d", tc.name, st, tc.status)
			}
		})
	}
}

// Before the switch to ldap_auth: the administrator can test and search
// the directory, directory users cannot sign in and none are imported;
// without settings the endpoints say what is missing.
func TestLDAPBeforeSwitch(t *testing.T) {
	e := newLDAPEnvMode(t, filepath.Join(t.TempDir(), "meta.db"), "db_auth")
	admin := e.as("admin")
	r := e.do(admin, "POST", "/ldap/ping", nil)
	if want(t, r, 200, "ping"); !strings.Contains(string(r.body), `"success":true`) {
		t.Errorf("ping in db_auth: %s", r.body)
	}
	want(t, e.do(admin, "GET", "/ldap/users/search?username=alice", nil), 200, "search in db_auth")
	if st, _ := currentUser(t, e, cred{"alice", "alice-pw"}); st != 401 {
		t.Errorf("alice in db_auth: %d, want 401", st)
	}
	wantErr(t, e.do(admin, "POST", "/ldap/users/import", map[string]any{"ldap_uid_list": []string{"alice"}}), 412, "ldap_auth", "import in db_auth")

	bare := newLDAPEnvMode(t, filepath.Join(t.TempDir(), "meta.db"), "")
	wantErr(t, bare.do(admin, "GET", "/ldap/users/search", nil), 412, "ldap_url", "search without settings")
	wantErr(t, bare.do(admin, "GET", "/ldap/groups/search", nil), 412, "ldap_url", "group search without settings")
	wantErr(t, bare.do(admin, "POST", "/ldap/ping", nil), 400, "ldap_url", "ping without settings")
	// ldap_auth without settings: only the admin can sign in.
	want(t, bare.do(admin, "PUT", "/configurations", map[string]any{"auth_mode": "ldap_auth"}), 200, "switch without settings")
	if st, _ := currentUser(t, bare, cred{"alice", "alice-pw"}); st != 503 {
		t.Errorf("alice in ldap_auth without settings: %d, want 503", st)
	}
	if st, _ := currentUser(t, bare, admin); st != 200 {
		t.Errorf("admin in ldap_auth without settings: %d", st)
	}
}
