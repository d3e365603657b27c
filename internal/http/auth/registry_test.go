package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/http/auth"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/http/token"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminPassword = "Admin12345"

type stack struct {
	t   *testing.T
	srv *httptest.Server
	db  *meta.DB
	acc *access.Service
}

func newStack(t *testing.T, dsn string) *stack {
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acc, err := access.New(ctx, db, access.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Bootstrap(ctx, adminPassword, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	authn := auth.New(acc, "", log)
	svc := registry.New(db, store, registry.WithLogger(log))
	mux := http.NewServeMux()
	v2 := ocihttp.New(svc, ocihttp.WithLogger(log), ocihttp.WithAuthorizer(auth.NewRegistry(authn)))
	mux.Handle("/v2/", v2)
	mux.Handle("/service/token", token.New(authn, log))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, acc: acc}
}

func both(t *testing.T, f func(t *testing.T, s *stack)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); f(t, newStack(t, filepath.Join(t.TempDir(), "b.db"))) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); f(t, newStack(t, pgtest.DSN(t))) })
}

// user creates a user with a role in project (role 0: no membership).
func (s *stack) user(name string, project string, role int) {
	s.t.Helper()
	ctx := context.Background()
	hash, _ := access.HashSecret("Passw0rd!")
	u, err := s.db.Q().CreateUser(ctx, meta.User{Username: name, PasswordHash: hash})
	if err != nil {
		s.t.Fatal(err)
	}
	if role != 0 {
		p, err := s.db.Q().GetProjectByName(ctx, project)
		if err != nil {
			s.t.Fatal(err)
		}
		if _, err := s.db.Q().AddMember(ctx, meta.Member{ProjectID: p.ID, EntityType: meta.MemberUser, EntityID: u.ID, RoleID: role}); err != nil {
			s.t.Fatal(err)
		}
	}
}

func (s *stack) project(name string, public bool) {
	s.t.Helper()
	ctx := context.Background()
	err := s.db.Tx(ctx, func(q *meta.Q) error {
		_, err := q.CreateProject(ctx, meta.Project{Name: name, OwnerID: 1, Public: public, StorageLimit: -1}, access.RoleProjectAdmin)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *stack) do(method, path string, body []byte, hdr ...string) reply {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

// token gets a token for user:pass ("" for anonymous) and scopes.
func (s *stack) token(user, pass string, scopes ...string) (string, []access.ResourceActions) {
	s.t.Helper()
	q := url.Values{"service": {"berth"}, "scope": scopes}
	req, _ := http.NewRequest("GET", s.srv.URL+"/service/token?"+q.Encode(), nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		s.t.Fatalf("token for %q %v: %d %s", user, scopes, res.StatusCode, b)
	}
	var body struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	json.Unmarshal(b, &body)
	if body.ExpiresIn <= 0 {
		s.t.Fatalf("expires_in %d", body.ExpiresIn)
	}
	c, err := s.acc.Signer().Verify(body.Token, "berth")
	if err != nil {
		s.t.Fatal(err)
	}
	return body.Token, c.Access
}

func (s *stack) push(bearer, repo, tag string) int {
	s.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	d := spec.FromBytes(cfg)
	r := s.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+string(d), cfg, "Authorization", "Bearer "+bearer)
	if r.status != 201 {
		return r.status
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[]}`,
		spec.MediaTypeImageManifest, spec.MediaTypeImageConfig, d, len(cfg))
	r = s.do("PUT", "/v2/"+repo+"/manifests/"+tag, []byte(m), "Authorization", "Bearer "+bearer, "Content-Type", spec.MediaTypeImageManifest)
	return r.status
}

func TestChallengeAndLogin(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		r := s.do("GET", "/v2/", nil)
		if r.status != 401 {
			t.Fatalf("anonymous /v2/: %d", r.status)
		}
		want := fmt.Sprintf(`Bearer realm="%s/service/token",service="berth"`, s.srv.URL)
		if got := r.header.Get("WWW-Authenticate"); got != want {
			t.Fatalf("challenge %q, want %q", got, want)
		}
		// docker login: credentials, no scope.
		req, _ := http.NewRequest("GET", s.srv.URL+"/service/token?service=berth", nil)
		req.SetBasicAuth("admin", "wrong")
		res, _ := s.srv.Client().Do(req)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || !strings.Contains(string(b), "invalid username or password") {
			t.Fatalf("bad password: %d %s", res.StatusCode, b)
		}
		if n, _ := s.db.Count(context.Background(), "SELECT count(*) FROM audit_logs WHERE operation = 'login_failed' AND username = 'admin'"); n != 1 {
			t.Fatalf("login failures audited: %d", n)
		}
		// Anonymous without scope cannot "log in".
		res, _ = s.srv.Client().Get(s.srv.URL + "/service/token?service=berth")
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("anonymous login: %d", res.StatusCode)
		}
		tok, _ := s.token("admin", adminPassword)
		r = s.do("GET", "/v2/", nil, "Authorization", "Bearer "+tok)
		if r.status != 200 {
			t.Fatalf("/v2/ with token: %d", r.status)
		}
		// Basic straight on /v2/ works too.
		req, _ = http.NewRequest("GET", s.srv.URL+"/v2/", nil)
		req.SetBasicAuth("admin", adminPassword)
		res, _ = s.srv.Client().Do(req)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("/v2/ with Basic: %d", res.StatusCode)
		}
		// A tampered token is refused.
		r = s.do("GET", "/v2/", nil, "Authorization", "Bearer "+tok[:len(tok)-2]+"xx")
		if r.status != 401 {
			t.Fatalf("tampered token: %d", r.status)
		}
	})
}

func TestRegistryPolicy(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		s.project("priv", false)
		s.user("dev", "priv", access.RoleDeveloper)
		s.user("guest", "priv", access.RoleGuest)
		s.user("outsider", "", 0)

		// Admin pushes into the public default project and the private one.
		admin, granted := s.token("admin", adminPassword, "repository:library/app:pull,push", "repository:priv/app:*")
		if !slices.Equal(granted[0].Actions, []string{"pull", "push"}) || !slices.Equal(granted[1].Actions, []string{"*"}) {
			t.Fatalf("admin grants %+v", granted)
		}
		if st := s.push(admin, "library/app", "v1"); st != 201 {
			t.Fatalf("admin push: %d", st)
		}
		if st := s.push(admin, "priv/app", "v1"); st != 201 {
			t.Fatalf("admin push priv: %d", st)
		}

		// Anonymous: pull from public only.
		anon, granted := s.token("", "", "repository:library/app:pull,push", "repository:priv/app:pull")
		if !slices.Equal(granted[0].Actions, []string{"pull"}) || len(granted[1].Actions) != 0 {
			t.Fatalf("anonymous grants %+v", granted)
		}
		if r := s.do("GET", "/v2/library/app/manifests/v1", nil, "Authorization", "Bearer "+anon); r.status != 200 {
			t.Fatalf("anonymous public pull: %d", r.status)
		}
		r := s.do("GET", "/v2/priv/app/manifests/v1", nil, "Authorization", "Bearer "+anon)
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), `scope="repository:priv/app:pull"`) {
			t.Fatalf("anonymous private pull: %d %v", r.status, r.header)
		}

		// Developer pushes; Guest pulls but cannot push; outsider sees nothing private.
		dev, _ := s.token("dev", "Passw0rd!", "repository:priv/dev:pull,push")
		if st := s.push(dev, "priv/dev", "v1"); st != 201 {
			t.Fatalf("developer push: %d", st)
		}
		guest, granted := s.token("guest", "Passw0rd!", "repository:priv/app:pull,push")
		if !slices.Equal(granted[0].Actions, []string{"pull"}) {
			t.Fatalf("guest grants %+v", granted)
		}
		if st := s.push(guest, "priv/app", "v2"); st != 401 {
			t.Fatalf("guest push: %d", st)
		}
		out, granted := s.token("outsider", "Passw0rd!", "repository:priv/app:pull")
		if len(granted[0].Actions) != 0 {
			t.Fatalf("outsider grants %+v", granted)
		}
		if r := s.do("GET", "/v2/priv/app/manifests/v1", nil, "Authorization", "Bearer "+out); r.status != 401 ||
			!strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("outsider private pull: %d", r.status)
		}

		// Pushing into a project that does not exist says so.
		tok, _ := s.token("admin", adminPassword, "repository:nope/app:pull,push")
		cfg := []byte("{}")
		r = s.do("POST", "/v2/nope/app/blobs/uploads/?digest="+string(spec.FromBytes(cfg)), cfg, "Authorization", "Bearer "+tok)
		if r.status != 401 || !strings.Contains(string(r.body), `project \"nope\" does not exist`) {
			t.Fatalf("push to missing project: %d %s", r.status, r.body)
		}

		// Delete needs Maintainer: Developer's token has no delete.
		dev, granted = s.token("dev", "Passw0rd!", "repository:priv/dev:delete")
		if len(granted[0].Actions) != 0 {
			t.Fatalf("developer delete grants %+v", granted)
		}

		// The catalog shows each caller what it may see.
		for _, c := range []struct {
			user, pass string
			want       []string
		}{
			{"admin", adminPassword, []string{"library/app", "priv/app", "priv/dev"}},
			{"dev", "Passw0rd!", []string{"library/app", "priv/app", "priv/dev"}},
			{"outsider", "Passw0rd!", []string{"library/app"}},
		} {
			tok, _ := s.token(c.user, c.pass, "registry:catalog:*")
			r := s.do("GET", "/v2/_catalog", nil, "Authorization", "Bearer "+tok)
			var cat struct{ Repositories []string }
			json.Unmarshal(r.body, &cat)
			if r.status != 200 || !slices.Equal(cat.Repositories, c.want) {
				t.Fatalf("catalog for %s: %d %v, want %v", c.user, r.status, cat.Repositories, c.want)
			}
		}
		if r := s.do("GET", "/v2/_catalog", nil, "Authorization", "Bearer "+anon); r.status != 401 {
			t.Fatalf("anonymous catalog: %d", r.status)
		}

		// Pushes and pulls are audited with the user's name.
		if n, _ := s.db.Count(context.Background(), "SELECT count(*) FROM audit_logs WHERE operation = 'push' AND username = 'dev' AND resource = 'priv/dev:v1'"); n != 1 {
			t.Fatalf("push audit rows: %d", n)
		}
		if n, _ := s.db.Count(context.Background(), "SELECT count(*) FROM audit_logs WHERE operation = 'pull' AND username = 'anonymous'"); n != 1 {
			t.Fatalf("pull audit rows: %d", n)
		}
	})
}

func TestRobotsAndDisabledAccounts(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		s.project("ci", false)
		admin, _ := s.token("admin", adminPassword, "repository:ci/app:pull,push")
		if st := s.push(admin, "ci/app", "v1"); st != 201 {
			t.Fatalf("push: %d", st)
		}
		hash, _ := access.HashSecret("Robot1234secret")
		perms := `[{"kind":"project","namespace":"ci","access":[{"resource":"repository","action":"pull"}]}]`
		p, _ := s.db.Q().GetProjectByName(ctx, "ci")
		rb, err := s.db.Q().CreateRobot(ctx, meta.Robot{Name: "ci+puller", Level: meta.RobotProject, ProjectID: p.ID,
			SecretHash: hash, Duration: -1, ExpiresAt: -1, Permissions: []byte(perms)})
		if err != nil {
			t.Fatal(err)
		}
		tok, granted := s.token("robot$ci+puller", "Robot1234secret", "repository:ci/app:pull,push")
		if !slices.Equal(granted[0].Actions, []string{"pull"}) {
			t.Fatalf("robot grants %+v", granted)
		}
		if r := s.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", "Bearer "+tok); r.status != 200 {
			t.Fatalf("robot pull: %d", r.status)
		}
		if st := s.push(tok, "ci/app", "v2"); st != 401 {
			t.Fatalf("pull-only robot push: %d", st)
		}
		// Disabling the robot ends access at once, token or not.
		rb.Disabled = true
		if err := s.db.Q().UpdateRobot(ctx, rb); err != nil {
			t.Fatal(err)
		}
		if r := s.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", "Bearer "+tok); r.status != 401 {
			t.Fatalf("disabled robot's token: %d", r.status)
		}
		req, _ := http.NewRequest("GET", s.srv.URL+"/service/token?service=berth&scope=repository:ci/app:pull", nil)
		req.SetBasicAuth("robot$ci+puller", "Robot1234secret")
		res, _ := s.srv.Client().Do(req)
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Fatalf("disabled robot login: %d", res.StatusCode)
		}
		// An expired robot fails too.
		rb.Disabled, rb.ExpiresAt = false, time.Now().Add(-time.Minute).Unix()
		if err := s.db.Q().UpdateRobot(ctx, rb); err != nil {
			t.Fatal(err)
		}
		if r := s.do("GET", "/v2/ci/app/manifests/v1", nil, "Authorization", "Bearer "+tok); r.status != 401 {
			t.Fatalf("expired robot's token: %d", r.status)
		}
	})
}

func TestBasicOnV2IsDeniedWith403(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		s.project("priv", false)
		s.user("guest", "priv", access.RoleGuest)
		cfg := []byte("{}")
		req, _ := http.NewRequest("POST", s.srv.URL+"/v2/priv/app/blobs/uploads/?digest="+string(spec.FromBytes(cfg)), bytes.NewReader(cfg))
		req.SetBasicAuth("guest", "Passw0rd!")
		res, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 403 || !strings.Contains(string(b), "DENIED") || !strings.Contains(string(b), "guest may not push") {
			t.Fatalf("guest push with Basic: %d %s", res.StatusCode, b)
		}
	})
}

func TestTokenEndpointInputs(t *testing.T) {
	both(t, func(t *testing.T, s *stack) {
		post := func(form url.Values) reply {
			return s.do("POST", "/service/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
		}
		// OAuth2 password grant, as containerd sends it.
		r := post(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPassword},
			"service": {"berth"}, "scope": {"repository:library/x:pull,push"}})
		var body struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(r.body, &body)
		if r.status != 200 || body.AccessToken == "" {
			t.Fatalf("password grant: %d %s", r.status, r.body)
		}
		c, err := s.acc.Signer().Verify(body.AccessToken, "berth")
		if err != nil || !c.Allows("repository", "library/x", "push") || c.Subject != "admin" {
			t.Fatalf("granted %+v %v", c, err)
		}
		if r := post(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"nope"}}); r.status != 401 {
			t.Fatalf("wrong password grant: %d", r.status)
		}
		if r := post(url.Values{"grant_type": {"refresh_token"}}); r.status != 400 {
			t.Fatalf("refresh grant: %d", r.status)
		}
		bad := []string{
			"/service/token?service=other&scope=repository:library/x:pull",
			"/service/token?service=berth&scope=nonsense",
			"/service/token?service=berth&scope=repository::pull",
			"/service/token?service=berth&scope=" + url.QueryEscape(strings.Repeat("repository:library/x:pull ", 40)),
		}
		for _, p := range bad {
			r := s.do("GET", p, nil)
			if r.status != 400 || !strings.Contains(string(r.body), `"errors"`) {
				t.Fatalf("%s: %d %s", p, r.status, r.body)
			}
		}
		if r := s.do("DELETE", "/service/token", nil); r.status != 405 {
			t.Fatalf("DELETE token: %d", r.status)
		}
		// Scopes may be space-separated in one parameter.
		_, granted := s.token("admin", adminPassword, "repository:library/a:pull repository:library/b:pull")
		if len(granted) != 2 {
			t.Fatalf("space-separated scopes: %+v", granted)
		}
	})
}
