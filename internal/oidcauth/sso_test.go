package oidcauth_test

// The whole single sign-on path against a real OpenID provider
// (zitadel/oidc's example OP, in process) and a real berth (app.NewHandler
// over HTTP): browser sign-in with automatic and manual onboarding, the
// admin group, project access through a group, the CLI secret with the
// docker CLI, and the refusals.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
	"github.com/berth-registry/berth/internal/testutil/dockertest"
	"github.com/berth-registry/berth/internal/testutil/oidctest"
)

const adminPassword = "Admin12345"

type env struct {
	t     *testing.T
	berth string // http://127.0.0.1:port
	op    *oidctest.Provider
	dbURL string
}

// setup starts the provider and berth, and turns on oidc_auth.
func setup(t *testing.T) *env {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	berthURL := "http://" + l.Addr().String()
	op := oidctest.Start(t, storage.WebClient("berth", "berth-secret", berthURL+"/c/oidc/callback"))
	op.AddUser(oidctest.User{ID: "u-alice", Username: "alice", Password: "pw-alice", Email: "alice@example.com",
		First: "Alice", Last: "A", Groups: []string{"devs"}})
	op.AddUser(oidctest.User{ID: "u-bob", Username: "bob", Password: "pw-bob", Email: "bob@example.com",
		Groups: []string{"registry-admins"}})
	op.AddUser(oidctest.User{ID: "u-carol", Username: "carol", Password: "pw-carol", Groups: []string{"ops"}})
	op.AddUser(oidctest.User{ID: "u-dave", Username: "dave", Password: "pw-dave", Groups: []string{"devs"}})

	dataDir := t.TempDir()
	t.Setenv("BERTH_ADMIN_PASSWORD", adminPassword)
	// The sealing key comes from the configuration, not the database.
	getenv := func(k string) string {
		if k == "BERTH_AUTH_SECRET_KEY" {
			return strings.Repeat("5e", 32)
		}
		return ""
	}
	cfg, err := config.Load([]string{"--data-dir", dataDir, "--tls", "off"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	h, release, err := app.NewHandler(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(func() { srv.Close(); release() })

	e := &env{t: t, berth: berthURL, op: op, dbURL: cfg.Database.URL}
	e.configure(map[string]any{
		"auth_mode": "oidc_auth", "oidc_name": "Example IdP", "oidc_endpoint": op.Issuer,
		"oidc_client_id": "berth", "oidc_client_secret": "berth-secret", "oidc_groups_claim": "groups",
		"oidc_admin_group": "registry-admins", "oidc_auto_onboard": true,
	})
	return e
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to berth with Basic credentials (user, secret) when
// given, or through the browser b.
func (e *env) do(b *browser, method, path string, body any, basic ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.berth+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.DefaultClient
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	if b != nil {
		client = b.noFollow()
		if csrf := b.cookie(e.berth, "berth_csrf"); csrf != "" {
			req.Header.Set("X-Harbor-CSRF-Token", csrf)
		}
	}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, data}
}

func (e *env) configure(v map[string]any) {
	e.t.Helper()
	if r := e.do(nil, "PUT", "/api/v2.0/configurations", v, "admin", adminPassword); r.status != 200 {
		e.t.Fatalf("PUT /configurations: %d %s", r.status, r.body)
	}
}

// browser is a user agent with its own cookies.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) noFollow() *http.Client {
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func (b *browser) cookie(base, name string) string {
	u, _ := url.Parse(base + "/c/oidc/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) get(u string) resp {
	b.t.Helper()
	res, err := b.noFollow().Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, data}
}

// startLogin asks berth for a sign-in and returns the provider URL.
func (e *env) startLogin(b *browser) string {
	e.t.Helper()
	r := b.get(e.berth + "/c/oidc/login")
	loc := r.header.Get("Location")
	if r.status != 302 || !strings.HasPrefix(loc, e.op.URL()) {
		e.t.Fatalf("/c/oidc/login: %d Location %q %s", r.status, loc, r.body)
	}
	for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "nonce=", "state="} {
		if !strings.Contains(loc, want) {
			e.t.Errorf("authorization request lacks %s: %s", want, loc)
		}
	}
	return loc
}

// providerLogin signs in at the provider and returns berth's callback URL.
func (e *env) providerLogin(b *browser, authURL, user, password string) string {
	e.t.Helper()
	cb, err := e.op.Login(b.client, authURL, user, password)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(cb, e.berth+"/c/oidc/callback?") {
		e.t.Fatalf("the provider sent the browser to %s", cb)
	}
	return cb
}

// signIn runs the whole browser flow and expects a session.
func (e *env) signIn(b *browser, user, password string) {
	e.t.Helper()
	cb := e.providerLogin(b, e.startLogin(b), user, password)
	r := b.get(cb)
	if r.status != 302 || r.header.Get("Location") != "/" {
		e.t.Fatalf("callback for %s: %d %q %s", user, r.status, r.header.Get("Location"), r.body)
	}
}

type currentUser struct {
	UserID       int64  `json:"user_id"`
	Username     string `json:"username"`
	Email        string `json:"email"`
	Sysadmin     bool   `json:"sysadmin_flag"`
	OIDCUserMeta *struct {
		Secret string `json:"secret"`
	} `json:"oidc_user_meta"`
}

func (e *env) current(b *browser) currentUser {
	e.t.Helper()
	r := e.do(b, "GET", "/api/v2.0/users/current", nil)
	if r.status != 200 {
		e.t.Fatalf("/users/current: %d %s", r.status, r.body)
	}
	validate(e.t, "GET", "/users/current", r, true)
	var u currentUser
	if err := json.Unmarshal(r.body, &u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// tokenStatus asks the token service for a push token with Basic
// credentials, as docker does, and returns the status and granted actions.
func (e *env) tokenStatus(user, secret, repo string) (int, string) {
	e.t.Helper()
	r := e.do(nil, "GET", "/service/token?service=berth&scope=repository:"+repo+":pull,push", nil, user, secret)
	if r.status != 200 {
		return r.status, ""
	}
	var tok struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(r.body, &tok)
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		e.t.Fatalf("token %q", tok.Token)
	}
	payload, _ := base64URLDecode(parts[1])
	var claims struct {
		Access []struct {
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	_ = json.Unmarshal(payload, &claims)
	var acts []string
	for _, a := range claims.Access {
		acts = append(acts, a.Actions...)
	}
	return 200, strings.Join(acts, ",")
}

func TestOIDCSignIn(t *testing.T) {
	e := setup(t)

	// systeminfo names the mode and the provider.
	r := e.do(nil, "GET", "/api/v2.0/systeminfo", nil)
	if !bytes.Contains(r.body, []byte(`"auth_mode":"oidc_auth"`)) || !bytes.Contains(r.body, []byte(`"oidc_provider_name":"Example IdP"`)) {
		t.Errorf("systeminfo: %s", r.body)
	}
	// The client secret is write-only.
	r = e.do(nil, "GET", "/api/v2.0/configurations", nil, "admin", adminPassword)
	if bytes.Contains(r.body, []byte("berth-secret")) || bytes.Contains(r.body, []byte("oidc_client_secret")) {
		t.Errorf("GET /configurations shows the client secret: %s", r.body)
	}
	// The redirect URL to register.
	r = e.do(nil, "GET", "/api/v2.0/system/oidc", nil, "admin", adminPassword)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"redirect_url":"`+e.berth+`/c/oidc/callback"`)) {
		t.Errorf("GET /system/oidc: %d %s", r.status, r.body)
	}
	validate(t, "GET", "/system/oidc", r, false)
	r = e.do(nil, "GET", "/api/v2.0/configurations", nil, "admin", adminPassword)
	validate(t, "GET", "/configurations", r, false)
	// Against Harbor's document, the oidc_* keys (ldap_* are the LDAP
	// package's to check).
	var conf map[string]json.RawMessage
	_ = json.Unmarshal(r.body, &conf)
	for k := range conf {
		if strings.HasPrefix(k, "ldap_") {
			delete(conf, k)
		}
	}
	if _, ok := conf["oidc_endpoint"]; !ok {
		t.Errorf("GET /configurations lacks oidc_endpoint: %s", r.body)
	}
	r.body, _ = json.Marshal(conf)
	validate(t, "GET", "/configurations", r, true)
	// Ping: the provider is usable; a wrong URL is a 400 with a reason.
	if r := e.do(nil, "POST", "/api/v2.0/system/oidc/ping", map[string]any{"url": e.op.Issuer}, "admin", adminPassword); r.status != 200 {
		t.Errorf("ping: %d %s", r.status, r.body)
	}
	r = e.do(nil, "POST", "/api/v2.0/system/oidc/ping", map[string]any{"url": e.op.Issuer + "/nothing"}, "admin", adminPassword)
	if r.status != 400 {
		t.Errorf("ping of a non-provider: %d %s", r.status, r.body)
	}
	validate(t, "POST", "/system/oidc/ping", r, true)
	// Hostile pings: only administrators learn anything, even of the body.
	for _, c := range []struct {
		body   any
		basic  []string
		status int
	}{
		{"not an object", nil, 401},
		{map[string]any{"url": 7}, nil, 401},
		{map[string]any{"url": e.op.Issuer}, nil, 401},
		{"not an object", []string{"admin", adminPassword}, 400},
		{map[string]any{"url": "file:///etc/passwd"}, []string{"admin", adminPassword}, 400},
		{map[string]any{"url": "javascript:alert(1)"}, []string{"admin", adminPassword}, 400},
		{map[string]any{"url": e.op.Issuer, "extra": 1}, []string{"admin", adminPassword}, 400},
	} {
		if r := e.do(nil, "POST", "/api/v2.0/system/oidc/ping", c.body, c.basic...); r.status != c.status ||
			!bytes.Contains(r.body, []byte(`{"errors":[{"code":`)) {
			t.Errorf("ping %v as %v: %d %s, want %d", c.body, c.basic, r.status, r.body, c.status)
		}
	}

	alice := newBrowser(t)
	var aliceSecret string
	var aliceID int64
	t.Run("auto onboarding", func(t *testing.T) {
		e.signIn(alice, "alice", "pw-alice")
		u := e.current(alice)
		if u.Username != "alice" || u.Email != "alice@example.com" || u.Sysadmin || u.OIDCUserMeta == nil || len(u.OIDCUserMeta.Secret) < 16 {
			t.Fatalf("current user %+v", u)
		}
		aliceSecret, aliceID = u.OIDCUserMeta.Secret, u.UserID
		// The provider's group exists now.
		r := e.do(nil, "GET", "/api/v2.0/usergroups?group_name=devs", nil, "admin", adminPassword)
		if r.status != 200 || !bytes.Contains(r.body, []byte(`"group_name":"devs","group_type":3`)) {
			t.Fatalf("usergroups: %d %s", r.status, r.body)
		}
		validate(t, "GET", "/usergroups", r, true)
		// A second sign-in finds the same account.
		again := newBrowser(t)
		e.signIn(again, "alice", "pw-alice")
		if u2 := e.current(again); u2.UserID != aliceID {
			t.Fatalf("second sign-in gave user %d, want %d", u2.UserID, aliceID)
		}
	})

	t.Run("return path", func(t *testing.T) {
		for target, want := range map[string]string{
			"/harbor/projects?x=1": "/harbor/projects?x=1",
			"https://evil.example": "/",
			"//evil.example/x":     "/",
			"/\t/evil.example":     "/", // browsers drop tabs and newlines: //evil.example
			"/\x0b/evil.example":   "/",
			"/x\x7f":               "/",
		} {
			b := newBrowser(t)
			r := b.get(e.berth + "/c/oidc/login?redirect_url=" + url.QueryEscape(target))
			cb := e.providerLogin(b, r.header.Get("Location"), "alice", "pw-alice")
			if r := b.get(cb); r.status != 302 || r.header.Get("Location") != want {
				t.Errorf("redirect_url %s: %d to %q, want %q", target, r.status, r.header.Get("Location"), want)
			}
		}
	})

	t.Run("admin group", func(t *testing.T) {
		bob := newBrowser(t)
		e.signIn(bob, "bob", "pw-bob")
		if u := e.current(bob); !u.Sysadmin {
			t.Fatalf("bob of registry-admins is not an administrator: %+v", u)
		}
	})

	t.Run("passwords and CLI secrets", func(t *testing.T) {
		// The admin keeps its password; OIDC users have none, only the secret.
		if s, _ := e.tokenStatus("admin", adminPassword, "library/x"); s != 200 {
			t.Errorf("admin token: %d", s)
		}
		if s, _ := e.tokenStatus("alice", "pw-alice", "library/x"); s != 401 {
			t.Errorf("alice with her provider password: %d, want 401", s)
		}
		if s, _ := e.tokenStatus("alice", aliceSecret, "library/x"); s != 200 {
			t.Errorf("alice with her CLI secret: %d, want 200", s)
		}
		// The UI form takes only the admin's password.
		if r := e.do(nil, "POST", "/c/login", map[string]any{"principal": "alice", "password": aliceSecret}); r.status != 403 {
			t.Errorf("UI login with a CLI secret: %d %s", r.status, r.body)
		}
		if r := e.do(nil, "POST", "/c/login", map[string]any{"principal": "admin", "password": adminPassword}); r.status != 200 {
			t.Errorf("UI login of the admin: %d %s", r.status, r.body)
		}
		// No local users in oidc_auth.
		r := e.do(nil, "POST", "/api/v2.0/users", map[string]any{"username": "local", "password": "Local12345"}, "admin", adminPassword)
		if r.status != 403 {
			t.Errorf("POST /users in oidc_auth: %d %s", r.status, r.body)
		}
		// The mode cannot change any more.
		r = e.do(nil, "PUT", "/api/v2.0/configurations", map[string]any{"auth_mode": "db_auth"}, "admin", adminPassword)
		if r.status != 400 {
			t.Errorf("switching back to db_auth: %d %s", r.status, r.body)
		}
	})

	t.Run("group membership", func(t *testing.T) {
		r := e.do(nil, "POST", "/api/v2.0/projects", map[string]any{"project_name": "team", "metadata": map[string]string{"public": "false"}}, "admin", adminPassword)
		if r.status != 201 {
			t.Fatalf("create project: %d %s", r.status, r.body)
		}
		if _, acts := e.tokenStatus("alice", aliceSecret, "team/app"); acts != "" {
			t.Fatalf("alice has %q in team before her group is a member", acts)
		}
		r = e.do(nil, "POST", "/api/v2.0/projects/team/members", map[string]any{"role_id": 2,
			"member_group": map[string]any{"group_name": "devs", "group_type": 3}}, "admin", adminPassword)
		if r.status != 201 {
			t.Fatalf("add group member: %d %s", r.status, r.body)
		}
		r = e.do(nil, "GET", "/api/v2.0/projects/team/members?entityname=dev", nil, "admin", adminPassword)
		if !bytes.Contains(r.body, []byte(`"entity_name":"devs"`)) || !bytes.Contains(r.body, []byte(`"entity_type":"g"`)) {
			t.Errorf("members: %s", r.body)
		}
		if _, acts := e.tokenStatus("alice", aliceSecret, "team/app"); acts != "pull,push" {
			t.Fatalf("alice through devs gets %q, want pull,push", acts)
		}
		// The UI session sees the project too.
		r = e.do(alice, "GET", "/api/v2.0/projects?name=team", nil)
		if !bytes.Contains(r.body, []byte(`"name":"team"`)) {
			t.Errorf("alice's project list: %s", r.body)
		}
		// carol, not in devs, gets nothing.
		carol := newBrowser(t)
		e.signIn(carol, "carol", "pw-carol")
		cs := e.current(carol).OIDCUserMeta.Secret
		if _, acts := e.tokenStatus("carol", cs, "team/app"); acts != "" {
			t.Errorf("carol gets %q in team", acts)
		}
	})

	t.Run("docker login and push with the CLI secret", func(t *testing.T) {
		dockerPush(t, e, "alice", aliceSecret, strings.TrimPrefix(e.berth, "http://")+"/team/app:v1")
	})

	t.Run("regenerate and revoke", func(t *testing.T) {
		path := fmt.Sprintf("/api/v2.0/users/%d/cli_secret", aliceID)
		r := e.do(alice, "PUT", path, map[string]any{"secret": ""})
		if r.status != 200 {
			t.Fatalf("regenerate: %d %s", r.status, r.body)
		}
		validate(t, "PUT", strings.TrimPrefix(path, "/api/v2.0"), r, false)
		newSecret := e.current(alice).OIDCUserMeta.Secret
		if newSecret == aliceSecret || !bytes.Contains(r.body, []byte(newSecret)) {
			t.Fatalf("new secret %q (response %s)", newSecret, r.body)
		}
		if s, _ := e.tokenStatus("alice", aliceSecret, "team/app"); s != 401 {
			t.Errorf("old secret after regeneration: %d, want 401", s)
		}
		if s, _ := e.tokenStatus("alice", newSecret, "team/app"); s != 200 {
			t.Errorf("new secret: %d", s)
		}
		// Without the CSRF header the session cannot change it.
		req, _ := http.NewRequest("PUT", e.berth+path, strings.NewReader(`{"secret":""}`))
		res, err := alice.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 {
			t.Errorf("PUT without CSRF header: %d", res.StatusCode)
		}
		// Another user may not; the admin may revoke.
		carol := newBrowser(t)
		e.signIn(carol, "carol", "pw-carol")
		if r := e.do(carol, "PUT", path, map[string]any{"secret": ""}); r.status != 403 {
			t.Errorf("carol replacing alice's secret: %d", r.status)
		}
		if r := e.do(nil, "DELETE", path, nil, "admin", adminPassword); r.status != 200 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if s, _ := e.tokenStatus("alice", newSecret, "team/app"); s != 401 {
			t.Errorf("revoked secret: %d, want 401", s)
		}
		if r := e.do(nil, "PUT", "/api/v2.0/users/1/cli_secret", map[string]any{"secret": ""}, "admin", adminPassword); r.status != 412 {
			t.Errorf("the admin's CLI secret: %d, want 412", r.status)
		}
	})

	t.Run("provider changes the groups", func(t *testing.T) {
		// frank gets team access through devs, then loses devs at the
		// provider: at the next re-check his CLI secret loses it too.
		e.op.AddUser(oidctest.User{ID: "u-frank", Username: "frank", Password: "pw-frank", Groups: []string{"devs"}})
		frank := newBrowser(t)
		e.signIn(frank, "frank", "pw-frank")
		u := e.current(frank)
		if _, acts := e.tokenStatus("frank", u.OIDCUserMeta.Secret, "team/app"); acts != "pull,push" {
			t.Fatalf("frank in devs: %q", acts)
		}
		e.op.SetGroups("u-frank", "ops")
		if _, acts := e.tokenStatus("frank", u.OIDCUserMeta.Secret, "team/app"); acts != "pull,push" {
			t.Fatalf("frank before the re-check is due: %q", acts)
		}
		e.ageVerification(t, u.UserID)
		if s, acts := e.tokenStatus("frank", u.OIDCUserMeta.Secret, "team/app"); s != 200 || acts != "" {
			t.Errorf("frank after leaving devs: %d %q, want 200 and nothing", s, acts)
		}
	})

	t.Run("provider disables the user", func(t *testing.T) {
		dave := newBrowser(t)
		e.signIn(dave, "dave", "pw-dave")
		u := e.current(dave)
		if s, _ := e.tokenStatus("dave", u.OIDCUserMeta.Secret, "team/app"); s != 200 {
			t.Fatalf("dave: %d", s)
		}
		e.op.Disable("u-dave")
		// Within the re-check interval the last word stands; make it stale.
		e.ageVerification(t, u.UserID)
		if s, _ := e.tokenStatus("dave", u.OIDCUserMeta.Secret, "team/app"); s != 401 {
			t.Errorf("dave after the provider disabled him: %d, want 401", s)
		}
	})

	t.Run("manual onboarding", func(t *testing.T) {
		e.configure(map[string]any{"oidc_auto_onboard": false})
		e.op.AddUser(oidctest.User{ID: "u-erin", Username: "erin", Password: "pw-erin", Email: "erin@example.com"})
		b := newBrowser(t)
		r := b.get(e.providerLogin(b, e.startLogin(b), "erin", "pw-erin"))
		if r.status != 302 || r.header.Get("Location") != "/c/oidc/onboard" {
			t.Fatalf("callback of a new user: %d %q %s", r.status, r.header.Get("Location"), r.body)
		}
		form := b.get(e.berth + "/c/oidc/onboard")
		m := tokenRE.FindSubmatch(form.body)
		if form.status != 200 || m == nil || !bytes.Contains(form.body, []byte(`value="erin"`)) {
			t.Fatalf("onboarding form: %d %s", form.status, form.body)
		}
		post := func(name, token string) resp {
			res, err := b.noFollow().PostForm(e.berth+"/c/oidc/onboard", url.Values{"username": {name}, "token": {token}})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			data, _ := io.ReadAll(res.Body)
			return resp{res.StatusCode, res.Header, data}
		}
		if r := post("erin-b", "forged"); r.status != 403 {
			t.Errorf("forged form token: %d %s", r.status, r.body)
		}
		if r := post("alice", string(m[1])); r.status != 409 || !bytes.Contains(r.body, []byte("already exists")) {
			t.Errorf("taken name: %d %s", r.status, r.body)
		}
		if r := post("bad,name", string(m[1])); r.status != 400 {
			t.Errorf("illegal name: %d %s", r.status, r.body)
		}
		if r := post("erin-b", string(m[1])); r.status != 302 || r.header.Get("Location") != "/" {
			t.Fatalf("onboard: %d %s", r.status, r.body)
		}
		if u := e.current(b); u.Username != "erin-b" || u.OIDCUserMeta == nil {
			t.Fatalf("onboarded %+v", u)
		}
		// The pending sign-in is used up.
		if r := post("erin-c", string(m[1])); r.status != 401 {
			t.Errorf("second onboarding: %d", r.status)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		b := newBrowser(t)
		// Tampered state.
		cb := e.providerLogin(b, e.startLogin(b), "alice", "pw-alice")
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", q.Get("state")+"x")
		u.RawQuery = q.Encode()
		wantRefusal(t, b.get(u.String()), 401, "does not match")

		// A callback replayed with its cookie: the state is used up.
		b = newBrowser(t)
		cb = e.providerLogin(b, e.startLogin(b), "alice", "pw-alice")
		stateCookie := b.cookie(e.berth, "berth_oidc_state")
		if r := b.get(cb); r.status != 302 {
			t.Fatalf("first callback: %d %s", r.status, r.body)
		}
		setCookie(b, e.berth, "berth_oidc_state", stateCookie)
		wantRefusal(t, b.get(cb), 401, "already completed")

		// The same code under a fresh sign-in: the provider refuses it.
		fresh, _ := url.Parse(e.startLogin(b))
		u, _ = url.Parse(cb)
		q = u.Query()
		q.Set("state", fresh.Query().Get("state"))
		u.RawQuery = q.Encode()
		wantRefusal(t, b.get(u.String()), 401, "refused the authorization code")

		// No cookie at all.
		wantRefusal(t, newBrowser(t).get(cb), 401, "missing state")
		// The provider's own error.
		b = newBrowser(t)
		fresh, _ = url.Parse(e.startLogin(b))
		wantRefusal(t, b.get(e.berth+"/c/oidc/callback?error=access_denied&state="+url.QueryEscape(fresh.Query().Get("state"))), 401, "access_denied")

		// A provider whose discovery announces another issuer.
		e.configure(map[string]any{"oidc_endpoint": strings.Replace(e.op.Issuer, "127.0.0.1", "localhost", 1)})
		wantRefusal(t, newBrowser(t).get(e.berth+"/c/oidc/login"), 400, "different issuer")
		e.configure(map[string]any{"oidc_endpoint": e.op.Issuer})
	})
}

// validate checks an /api/v2.0 answer against berth's API document and,
// when harbor is set, Harbor's.
func validate(t *testing.T, method, path string, r resp, harbor bool) {
	t.Helper()
	apidoc.Berth(t, api.OpenAPIYAML()).Validate(t, method, path, r.status, r.header, r.body)
	if harbor {
		apidoc.Harbor(t).Validate(t, method, path, r.status, r.header, r.body)
	}
}

func wantRefusal(t *testing.T, r resp, status int, substr string) {
	t.Helper()
	if r.status != status || !bytes.Contains(r.body, []byte(substr)) {
		t.Errorf("got %d %s, want %d mentioning %q", r.status, r.body, status, substr)
	}
}

func setCookie(b *browser, base, name, value string) {
	u, _ := url.Parse(base + "/c/oidc/")
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/c/oidc/"}})
}

var tokenRE = regexpMust(`name="token" value="([^"]+)"`)

// ageVerification makes the provider's last word about the user older
// than the re-check interval, as if minutes had passed.
// TestConfiguredSecretKey: with auth.secret_key set, no key is stored in
// the database, and what is sealed opens only with the configured key.
func TestConfiguredSecretKey(t *testing.T) {
	e := setup(t)
	b := newBrowser(t)
	e.signIn(b, "alice", "pw-alice")
	u := e.current(b)
	db, err := meta.Open(context.Background(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Q().GetSetting(context.Background(), "access.secret_key"); err == nil {
		t.Error("a secret key is stored in the database although one is configured")
	}
	id, err := db.Q().GetUserIdentity(context.Background(), u.UserID)
	if err != nil || len(id.CLISecret) == 0 || bytes.Contains(id.CLISecret, []byte(u.OIDCUserMeta.Secret)) {
		t.Fatalf("stored CLI secret %q, %v", id.CLISecret, err)
	}
}

func (e *env) ageVerification(t *testing.T, userID int64) {
	t.Helper()
	db, err := meta.Open(context.Background(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Q().UpdateIdentityVerified(context.Background(), userID, nil, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// dockerPush logs in with the docker CLI and pushes a one-file image.
func dockerPush(t *testing.T, e *env, user, secret, ref string) {
	host, stop, err := dockertest.Daemon("sso")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	cfgDir := t.TempDir()
	denv := append(os.Environ(), "DOCKER_HOST="+host, "DOCKER_CONFIG="+cfgDir)
	run := func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = denv
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	content := []byte("signed in with OIDC " + time.Now().String())
	_ = tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content))})
	_, _ = tw.Write(content)
	_ = tw.Close()
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(tarPath, tarball.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	registry := strings.Split(ref, "/")[0]
	t.Cleanup(func() { _, _ = run("", "rmi", "--force", ref) })
	if out, err := run("", "import", tarPath, ref); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	if out, err := run("wrong-secret\n", "login", registry, "--username", user, "--password-stdin"); err == nil {
		t.Errorf("docker login with a wrong secret succeeded: %s", out)
	}
	if out, err := run(secret+"\n", "login", registry, "--username", user, "--password-stdin"); err != nil {
		t.Fatalf("docker login with the CLI secret: %v\n%s", err, out)
	}
	out, err := run("", "push", ref)
	if err != nil || !strings.Contains(out, "digest: sha256:") {
		t.Fatalf("docker push: %v\n%s", err, out)
	}
	// The tag is there, read back with the same secret over the API.
	r := e.do(nil, "GET", "/v2/team/app/tags/list", nil, user, secret)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"v1"`)) {
		t.Errorf("tags after push: %d %s", r.status, r.body)
	}
}
