package compat

// Harbor client compatibility: the whole berth server (app.NewHandler, the
// handler `berth serve` runs) called with the request sequences Harbor
// clients send: docker login's token dance, then what the Harbor CLI, the
// Terraform provider and curl scripts do (create a project and read it
// back by name, create a project robot, push with the robot, list
// artifacts with tags, delete a tag, read systeminfo and the current
// user). Answers are checked field by field, and every JSON answer of
// /api/v2.0 is validated against Harbor's own swagger
// (../shared/reference/harbor-swagger.yaml, converted to OpenAPI 3).

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
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
)

const (
	adminPassword = "Harbor12345"
	apiPrefix     = "/api/v2.0"
)

// server is one berth in process.
type server struct {
	t    *testing.T
	url  string // http://127.0.0.1:port
	host string // 127.0.0.1:port
}

func newServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("BERTH_ADMIN_PASSWORD", adminPassword)
	cfg, err := config.Load([]string{"--data-dir", dir, "--tls", "off"}, os.Getenv)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	h, release, err := app.NewHandler(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("app.NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(release)
	t.Cleanup(srv.Close) // runs first: no request outlives the stores
	return &server{t: t, url: srv.URL, host: strings.TrimPrefix(srv.URL, "http://")}
}

// auth is how a request authenticates.
type auth struct {
	user, pass string // Basic
	bearer     string
}

var anonymous = auth{}

func basic(user, pass string) auth { return auth{user: user, pass: pass} }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string {
	b := r.body
	if len(b) > 600 {
		b = append(b[:600:600], "…"...)
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

// with returns s reporting to t (a subtest).
func (s *server) with(t *testing.T) *server {
	c := *s
	c.t = t
	return &c
}

// do sends one request; hdr is name/value pairs.
func (s *server) do(a auth, method, target string, body any, hdr ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	if !strings.HasPrefix(target, "http") {
		target = s.url + target
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	switch {
	case a.bearer != "":
		req.Header.Set("Authorization", "Bearer "+a.bearer)
	case a.user != "":
		req.SetBasicAuth(a.user, a.pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// api sends a request to /api/v2.0 and validates the answer against
// Harbor's swagger.
func (s *server) api(a auth, method, path string, body any, hdr ...string) response {
	s.t.Helper()
	r := s.do(a, method, apiPrefix+path, body, hdr...)
	// Values of extra_attrs are set aside (apidoc.WithoutExtraAttrs) and
	// checked by the test itself.
	apidoc.Harbor(s.t).Validate(s.t, method, path, r.status, r.header, apidoc.WithoutExtraAttrs(r.body))
	return r
}

func expect(t *testing.T, r response, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %s, want %d", what, r, status)
	}
}

func decode[T any](t *testing.T, r response, what string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: body is not the JSON expected (%v): %s", what, err, r)
	}
	return v
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestHarborClients(t *testing.T) {
	s := newServer(t)
	admin := basic("admin", adminPassword)

	// docker login: ping, challenge, token with Basic, ping with Bearer.
	var adminToken string
	t.Run("docker login", func(t *testing.T) {
		s := s.with(t)
		r := s.do(anonymous, "GET", "/v2/", nil)
		expect(t, r, 401, "anonymous GET /v2/")
		eq(t, "Docker-Distribution-API-Version", r.header.Get("Docker-Distribution-API-Version"), "registry/2.0")
		ch := r.header.Get("WWW-Authenticate")
		realm, service := challenge(t, ch)
		eq(t, "challenge realm", realm, s.url+"/service/token")
		eq(t, "challenge service", service, "berth")

		q := url.Values{"account": {"admin"}, "client_id": {"docker"}, "offline_token": {"true"}, "service": {service}}
		r = s.do(basic("admin", "wrong"), "GET", realm+"?"+q.Encode(), nil)
		expect(t, r, 401, "token with a wrong password")

		r = s.do(admin, "GET", realm+"?"+q.Encode(), nil)
		expect(t, r, 200, "token")
		tok := decode[struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
			IssuedAt    string `json:"issued_at"`
		}](t, r, "token")
		if tok.Token == "" || tok.AccessToken != tok.Token {
			t.Fatalf("token and access_token: %s", r)
		}
		if tok.ExpiresIn <= 0 {
			t.Errorf("expires_in = %d", tok.ExpiresIn)
		}
		if _, err := time.Parse(time.RFC3339, tok.IssuedAt); err != nil {
			t.Errorf("issued_at %q: %v", tok.IssuedAt, err)
		}
		adminToken = tok.Token

		r = s.do(auth{bearer: adminToken}, "GET", "/v2/", nil)
		expect(t, r, 200, "GET /v2/ with the token")
		eq(t, "Docker-Distribution-API-Version", r.header.Get("Docker-Distribution-API-Version"), "registry/2.0")
	})
	if t.Failed() {
		t.FailNow()
	}

	// Harbor CLI / Terraform provider: create the project, find it back
	// by name.
	const project = "compat"
	var projectID int64
	t.Run("create project", func(t *testing.T) {
		s := s.with(t)
		body := map[string]any{"project_name": project, "public": false, "metadata": map[string]string{"public": "false"}, "storage_limit": -1}
		r := s.api(admin, "POST", "/projects", body, "X-Resource-Name-In-Location", "true")
		expect(t, r, 201, "POST /projects")
		eq(t, "Location", r.header.Get("Location"), apiPrefix+"/projects/"+project)

		r = s.api(admin, "POST", "/projects", body, "X-Resource-Name-In-Location", "true")
		expect(t, r, 409, "POST /projects again")
		errBody := decode[struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}](t, r, "conflict")
		if len(errBody.Errors) != 1 || errBody.Errors[0].Code != "CONFLICT" {
			t.Errorf("conflict body: %s", r)
		}

		// Without the header Harbor answers with the id.
		r = s.api(admin, "POST", "/projects", map[string]any{"project_name": "compat-by-id", "metadata": map[string]string{"public": "true"}})
		expect(t, r, 201, "POST /projects without X-Resource-Name-In-Location")
		if loc := r.header.Get("Location"); !regexp.MustCompile(`^/api/v2\.0/projects/[0-9]+$`).MatchString(loc) {
			t.Errorf("Location without the header = %q, want /api/v2.0/projects/<id>", loc)
		}

		r = s.api(admin, "GET", "/projects/"+project, nil, "X-Is-Resource-Name", "true")
		expect(t, r, 200, "GET /projects/"+project)
		p := decode[struct {
			ProjectID          int64             `json:"project_id"`
			Name               string            `json:"name"`
			OwnerID            int64             `json:"owner_id"`
			OwnerName          string            `json:"owner_name"`
			Deleted            bool              `json:"deleted"`
			RepoCount          int               `json:"repo_count"`
			CurrentUserRoleID  int               `json:"current_user_role_id"`
			CurrentUserRoleIDs []int             `json:"current_user_role_ids"`
			Metadata           map[string]string `json:"metadata"`
			CreationTime       time.Time         `json:"creation_time"`
		}](t, r, "project")
		projectID = p.ProjectID
		if p.ProjectID <= 0 {
			t.Errorf("project_id = %d", p.ProjectID)
		}
		eq(t, "name", p.Name, project)
		eq(t, "owner_name", p.OwnerName, "admin")
		eq(t, "deleted", p.Deleted, false)
		eq(t, "repo_count", p.RepoCount, 0)
		eq(t, "current_user_role_id", p.CurrentUserRoleID, 1) // project admin
		if !slices.Equal(p.CurrentUserRoleIDs, []int{1}) {
			t.Errorf("current_user_role_ids = %v, want [1]", p.CurrentUserRoleIDs)
		}
		eq(t, "metadata.public", p.Metadata["public"], "false")
		if p.CreationTime.IsZero() {
			t.Error("creation_time is zero")
		}

		// The same project by id, as the provider reads it after import.
		r = s.api(admin, "GET", fmt.Sprintf("/projects/%d", p.ProjectID), nil)
		expect(t, r, 200, "GET /projects/<id>")
		eq(t, "name by id", decode[struct {
			Name string `json:"name"`
		}](t, r, "project by id").Name, project)

		// HEAD /projects?project_name= is how the CLI checks a name.
		r = s.do(admin, "HEAD", apiPrefix+"/projects?project_name="+project, nil)
		eq(t, "HEAD /projects?project_name=compat", r.status, 200)
		r = s.do(admin, "HEAD", apiPrefix+"/projects?project_name=nope", nil)
		eq(t, "HEAD /projects?project_name=nope", r.status, 404)
	})
	if t.Failed() {
		t.FailNow()
	}

	// A project robot for CI.
	var robotName, robotSecret string
	t.Run("create robot", func(t *testing.T) {
		s := s.with(t)
		acc := []map[string]string{}
		for _, a := range []string{"push", "pull"} {
			acc = append(acc, map[string]string{"resource": "repository", "action": a})
		}
		acc = append(acc, map[string]string{"resource": "tag", "action": "list"}, map[string]string{"resource": "artifact", "action": "read"}, map[string]string{"resource": "artifact", "action": "list"})
		body := map[string]any{
			"name": "ci", "description": "compat CI", "level": "project", "duration": -1, "disable": false,
			"permissions": []map[string]any{{"kind": "project", "namespace": project, "access": acc}},
		}
		r := s.api(admin, "POST", "/robots", body)
		expect(t, r, 201, "POST /robots")
		rb := decode[struct {
			ID           int64     `json:"id"`
			Name         string    `json:"name"`
			Secret       string    `json:"secret"`
			CreationTime time.Time `json:"creation_time"`
			ExpiresAt    int64     `json:"expires_at"`
		}](t, r, "robot created")
		eq(t, "robot name", rb.Name, "robot$"+project+"+ci")
		eq(t, "robot expires_at", rb.ExpiresAt, -1)
		if rb.ID <= 0 || rb.Secret == "" || rb.CreationTime.IsZero() {
			t.Fatalf("robot created: %s", r)
		}
		eq(t, "Location", r.header.Get("Location"), fmt.Sprintf("%s/robots/%d", apiPrefix, rb.ID))
		robotName, robotSecret = rb.Name, rb.Secret

		r = s.api(admin, "GET", fmt.Sprintf("/robots/%d", rb.ID), nil)
		expect(t, r, 200, "GET /robots/<id>")
		got := decode[struct {
			Name        string `json:"name"`
			Level       string `json:"level"`
			Disable     bool   `json:"disable"`
			Editable    bool   `json:"editable"`
			Secret      string `json:"secret"`
			Permissions []struct {
				Kind      string `json:"kind"`
				Namespace string `json:"namespace"`
				Access    []struct{ Resource, Action string }
			} `json:"permissions"`
		}](t, r, "robot")
		eq(t, "robot name", got.Name, robotName)
		eq(t, "robot level", got.Level, "project")
		eq(t, "robot disable", got.Disable, false)
		eq(t, "robot secret (never shown again)", got.Secret, "")
		if len(got.Permissions) != 1 || got.Permissions[0].Kind != "project" || got.Permissions[0].Namespace != project ||
			len(got.Permissions[0].Access) != len(acc) {
			t.Errorf("robot permissions: %s", r)
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	// CI pushes with the robot: crane does the challenge and token flow.
	const repo = project + "/app"
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cf.Architecture, cf.OS, cf.Author, cf.Created = "amd64", "linux", "compat", v1.Time{Time: created}
	cf.Config.Cmd = []string{"/app"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	manifestMT, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("push as robot", func(t *testing.T) {
		s := s.with(t)
		// The robot's token for the push scope, as docker asks for it.
		q := url.Values{"service": {"berth"}, "scope": {"repository:" + repo + ":pull,push"}}
		r := s.do(basic(robotName, robotSecret), "GET", "/service/token?"+q.Encode(), nil)
		expect(t, r, 200, "robot token")
		if decode[struct {
			Token string `json:"token"`
		}](t, r, "robot token").Token == "" {
			t.Fatalf("robot token: %s", r)
		}

		opt := remote.WithAuth(&authn.Basic{Username: robotName, Password: robotSecret})
		for _, tag := range []string{"v1", "v2"} {
			ref, err := name.NewTag(s.host+"/"+repo+":"+tag, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(ref, img, opt); err != nil {
				t.Fatalf("push %s as %s: %v", ref, robotName, err)
			}
		}
		// Read back with the robot's pull permission.
		ref, _ := name.NewTag(s.host+"/"+repo+":v2", name.Insecure)
		d, err := remote.Head(ref, opt)
		if err != nil {
			t.Fatalf("HEAD %s: %v", ref, err)
		}
		eq(t, "pushed digest", d.Digest, digest)
		// The robot may not push elsewhere.
		other, _ := name.NewTag(s.host+"/compat-by-id/app:v1", name.Insecure)
		if err := remote.Write(other, img, opt); err == nil {
			t.Error("the robot pushed to a project it has no permission on")
		}
	})
	if t.Failed() {
		t.FailNow()
	}

	artifactsPath := "/projects/" + project + "/repositories/app/artifacts"
	type tagInfo struct {
		ID           int64     `json:"id"`
		RepositoryID int64     `json:"repository_id"`
		ArtifactID   int64     `json:"artifact_id"`
		Name         string    `json:"name"`
		PushTime     time.Time `json:"push_time"`
		Immutable    bool      `json:"immutable"`
	}
	type artifact struct {
		ID                int64          `json:"id"`
		Type              string         `json:"type"`
		MediaType         string         `json:"media_type"`
		ManifestMediaType string         `json:"manifest_media_type"`
		ProjectID         int64          `json:"project_id"`
		RepositoryID      int64          `json:"repository_id"`
		RepositoryName    string         `json:"repository_name"`
		Digest            string         `json:"digest"`
		Size              int64          `json:"size"`
		PushTime          time.Time      `json:"push_time"`
		Tags              []tagInfo      `json:"tags"`
		ExtraAttrs        map[string]any `json:"extra_attrs"`
	}
	listArtifacts := func(t *testing.T, a auth) (artifact, []string) {
		t.Helper()
		s := s.with(t)
		r := s.api(a, "GET", artifactsPath+"?with_tag=true&page=1&page_size=10", nil)
		expect(t, r, 200, "list artifacts")
		eq(t, "X-Total-Count", r.header.Get("X-Total-Count"), "1")
		eq(t, "Link (one page)", r.header.Get("Link"), "")
		arts := decode[[]artifact](t, r, "artifacts")
		if len(arts) != 1 {
			t.Fatalf("artifacts: got %d, want 1: %s", len(arts), r)
		}
		a0 := arts[0]
		var tags []string
		for _, tg := range a0.Tags {
			tags = append(tags, tg.Name)
			eq(t, "tag "+tg.Name+" artifact_id", tg.ArtifactID, a0.ID)
			eq(t, "tag "+tg.Name+" repository_id", tg.RepositoryID, a0.RepositoryID)
			eq(t, "tag "+tg.Name+" immutable", tg.Immutable, false)
			if tg.ID <= 0 || tg.PushTime.IsZero() {
				t.Errorf("tag %s: id %d, push_time %v", tg.Name, tg.ID, tg.PushTime)
			}
		}
		sort.Strings(tags)
		return a0, tags
	}
	t.Run("list artifacts", func(t *testing.T) {
		s := s.with(t)
		a0, tags := listArtifacts(t, admin)
		eq(t, "digest", a0.Digest, digest.String())
		eq(t, "type", a0.Type, "IMAGE")
		eq(t, "manifest_media_type", a0.ManifestMediaType, string(manifestMT))
		eq(t, "media_type", a0.MediaType, "application/vnd.docker.container.image.v1+json")
		eq(t, "project_id", a0.ProjectID, projectID)
		eq(t, "repository_name", a0.RepositoryName, repo)
		if a0.ID <= 0 || a0.RepositoryID <= 0 || a0.Size <= 0 || a0.PushTime.IsZero() {
			t.Errorf("artifact: %+v", a0)
		}
		if !slices.Equal(tags, []string{"v1", "v2"}) {
			t.Errorf("tags = %v, want [v1 v2]", tags)
		}
		// Harbor's config summary (left out of the swagger check, see
		// validate).
		for k, v := range map[string]any{"architecture": "amd64", "os": "linux", "author": "compat", "created": created.Format(time.RFC3339)} {
			eq(t, "extra_attrs."+k, a0.ExtraAttrs[k], v)
		}
		if c, _ := a0.ExtraAttrs["config"].(map[string]any); c == nil || fmt.Sprint(c["Cmd"]) != "[/app]" {
			t.Errorf("extra_attrs.config = %v, want Cmd [/app]", a0.ExtraAttrs["config"])
		}
		// The robot lists too (artifact read).
		if _, tags := listArtifacts(t, basic(robotName, robotSecret)); !slices.Equal(tags, []string{"v1", "v2"}) {
			t.Errorf("tags as the robot = %v, want [v1 v2]", tags)
		}
		// The repository now counts.
		r := s.api(admin, "GET", "/projects/"+project+"/repositories/app", nil)
		expect(t, r, 200, "GET repository")
		rp := decode[struct {
			Name          string `json:"name"`
			ProjectID     int64  `json:"project_id"`
			ArtifactCount int    `json:"artifact_count"`
		}](t, r, "repository")
		eq(t, "repository name", rp.Name, repo)
		eq(t, "repository project_id", rp.ProjectID, projectID)
		eq(t, "artifact_count", rp.ArtifactCount, 1)
	})

	t.Run("delete tag", func(t *testing.T) {
		s := s.with(t)
		r := s.api(admin, "DELETE", artifactsPath+"/"+digest.String()+"/tags/v1", nil)
		expect(t, r, 200, "DELETE tag v1")
		a0, tags := listArtifacts(t, admin)
		eq(t, "digest after delete", a0.Digest, digest.String())
		if !slices.Equal(tags, []string{"v2"}) {
			t.Errorf("tags after deleting v1 = %v, want [v2]", tags)
		}
		r = s.api(admin, "DELETE", artifactsPath+"/"+digest.String()+"/tags/v1", nil)
		expect(t, r, 404, "DELETE tag v1 again")
		// The registry agrees.
		r = s.do(auth{bearer: robotToken(t, s, robotName, robotSecret, repo)}, "GET", "/v2/"+repo+"/tags/list", nil)
		expect(t, r, 200, "tags/list")
		tl := decode[struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}](t, r, "tags/list")
		eq(t, "tags/list name", tl.Name, repo)
		if !slices.Equal(tl.Tags, []string{"v2"}) {
			t.Errorf("tags/list = %v, want [v2]", tl.Tags)
		}
	})

	t.Run("systeminfo", func(t *testing.T) {
		s := s.with(t)
		r := s.api(anonymous, "GET", "/systeminfo", nil)
		expect(t, r, 200, "anonymous systeminfo")
		anon := decode[map[string]any](t, r, "systeminfo")
		eq(t, "anonymous auth_mode", anon["auth_mode"], any("db_auth"))
		eq(t, "anonymous self_registration", anon["self_registration"], any(false))
		for _, k := range []string{"registry_url", "external_url", "harbor_version", "has_ca_root"} {
			if _, ok := anon[k]; ok {
				t.Errorf("anonymous systeminfo shows %s", k)
			}
		}

		r = s.api(admin, "GET", "/systeminfo", nil)
		expect(t, r, 200, "systeminfo as admin")
		info := decode[map[string]any](t, r, "systeminfo")
		for k, v := range map[string]any{
			"auth_mode":                      "db_auth",
			"registry_url":                   s.host,
			"external_url":                   s.url,
			"has_ca_root":                    false,
			"read_only":                      false,
			"self_registration":              false,
			"project_creation_restriction":   "everyone",
			"registry_storage_provider_name": "filesystem",
		} {
			eq(t, "systeminfo "+k, info[k], v)
		}
		if v, _ := info["harbor_version"].(string); v == "" {
			t.Errorf("harbor_version: %s", r)
		}
	})

	t.Run("current user", func(t *testing.T) {
		s := s.with(t)
		r := s.api(admin, "GET", "/users/current", nil)
		expect(t, r, 200, "users/current")
		u := decode[struct {
			UserID       int64  `json:"user_id"`
			Username     string `json:"username"`
			SysadminFlag bool   `json:"sysadmin_flag"`
			AdminRole    bool   `json:"admin_role_in_auth"`
		}](t, r, "users/current")
		eq(t, "username", u.Username, "admin")
		eq(t, "sysadmin_flag", u.SysadminFlag, true)
		eq(t, "admin_role_in_auth", u.AdminRole, false)
		if u.UserID <= 0 {
			t.Errorf("user_id = %d", u.UserID)
		}
		r = s.api(anonymous, "GET", "/users/current", nil)
		expect(t, r, 401, "anonymous users/current")
		e := decode[struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}](t, r, "error")
		if len(e.Errors) != 1 || e.Errors[0].Code != "UNAUTHORIZED" || e.Errors[0].Message == "" {
			t.Errorf("anonymous users/current body: %s", r)
		}
	})
}

// robotToken gets a pull token for repo as docker would.
func robotToken(t *testing.T, s *server, user, pass, repo string) string {
	t.Helper()
	q := url.Values{"service": {"berth"}, "scope": {"repository:" + repo + ":pull"}}
	r := s.do(basic(user, pass), "GET", "/service/token?"+q.Encode(), nil)
	expect(t, r, 200, "token for "+user)
	return decode[struct {
		Token string `json:"token"`
	}](t, r, "token").Token
}

// challenge parses `Bearer realm="…",service="…"`.
func challenge(t *testing.T, h string) (realm, service string) {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", h)
	}
	for _, m := range regexp.MustCompile(`(\w+)="([^"]*)"`).FindAllStringSubmatch(rest, -1) {
		switch m[1] {
		case "realm":
			realm = m[2]
		case "service":
			service = m[2]
		}
	}
	if realm == "" || service == "" {
		t.Fatalf("WWW-Authenticate = %q: no realm or service", h)
	}
	return realm, service
}
