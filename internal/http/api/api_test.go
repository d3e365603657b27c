package api_test

// The management API over real HTTP against an in-process server on real
// stores, SQLite and PostgreSQL. This file holds the harness shared by
// the users, projects, members and audit tests; their helpers carry no
// prefix, the robot tests' carry "rb".

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	adminPassword = "Admin12345"
	userPassword  = "User1234pw"
)

// roles are the test users who hold a role in project priv, by name.
var roles = map[string]int{
	"pa":         access.RoleProjectAdmin,
	"maintainer": access.RoleMaintainer,
	"developer":  access.RoleDeveloper,
	"guest":      access.RoleGuest,
	"limited":    access.RoleLimitedGuest,
}

// apiEnv is one API server over a fresh store with a user per role in
// the private project priv (owned by pa), an outsider who is a member of
// nothing, and the public project pub (owned by admin).
type apiEnv struct {
	t     *testing.T
	ctx   context.Context
	dsn   string
	dir   string
	db    *meta.DB
	acc   *access.Service
	srv   *httptest.Server
	log   *slog.Logger
	users map[string]meta.User // admin, pa, maintainer, developer, guest, limited, outsider
	priv  meta.Project
	pub   meta.Project
}

// forEachDB runs fn on a fresh environment on SQLite and on PostgreSQL.
func forEachDB(t *testing.T, fn func(t *testing.T, e *apiEnv)) {
	t.Helper()
	t.Run(meta.SQLite, func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		fn(t, newAPIEnv(t, filepath.Join(dir, "meta.db"), dir))
	})
	t.Run(meta.Postgres, func(t *testing.T) {
		t.Parallel()
		fn(t, newAPIEnv(t, pgtest.DSN(t), t.TempDir()))
	})
}

func newAPIEnv(t *testing.T, dsn, dir string, opts ...access.Option) *apiEnv {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	e := &apiEnv{t: t, ctx: ctx, dsn: dsn, dir: dir, db: db, log: log, users: map[string]meta.User{}}
	e.acc, e.srv = e.serve(opts...)
	if _, err := e.acc.Bootstrap(ctx, adminPassword, dir); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	q := db.Q()
	if e.users["admin"], err = q.GetUserByName(ctx, access.AdminName); err != nil {
		t.Fatalf("admin: %v", err)
	}
	hash, err := access.HashSecret(userPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pa", "maintainer", "developer", "guest", "limited", "outsider"} {
		u, err := q.CreateUser(ctx, meta.User{Username: name, Email: name + "@example.com", Realname: "The " + name, PasswordHash: hash})
		if err != nil {
			t.Fatalf("create user %s: %v", name, err)
		}
		e.users[name] = u
	}
	if e.priv, err = q.CreateProject(ctx, meta.Project{Name: "priv", OwnerID: e.users["pa"].ID, StorageLimit: -1}, access.RoleProjectAdmin); err != nil {
		t.Fatalf("create project priv: %v", err)
	}
	if e.pub, err = q.CreateProject(ctx, meta.Project{Name: "pub", OwnerID: e.users["admin"].ID, Public: true, StorageLimit: -1}, access.RoleProjectAdmin); err != nil {
		t.Fatalf("create project pub: %v", err)
	}
	for name, role := range roles {
		if role == access.RoleProjectAdmin {
			continue
		}
		if _, err := q.AddMember(ctx, meta.Member{ProjectID: e.priv.ID, EntityType: meta.MemberUser, EntityID: e.users[name].ID, RoleID: role}); err != nil {
			t.Fatalf("add member %s: %v", name, err)
		}
	}
	return e
}

// serve starts another API server with its own access service (with opts)
// over the environment's database.
func (e *apiEnv) serve(opts ...access.Option) (*access.Service, *httptest.Server) {
	e.t.Helper()
	acc, err := access.New(e.ctx, e.db, append([]access.Option{access.WithLogger(e.log)}, opts...)...)
	if err != nil {
		e.t.Fatalf("access.New: %v", err)
	}
	srv := httptest.NewServer(api.New(acc, auth.New(acc, "", e.log), nil, e.log))
	e.t.Cleanup(srv.Close)
	return acc, srv
}

// cred is a caller: a user of the environment by name, a robot, or
// anonymous (the zero value).
type cred struct{ user, pass string }

var anon = cred{}

func (e *apiEnv) as(name string) cred {
	if name == "admin" {
		return cred{access.AdminName, adminPassword}
	}
	if name == "anonymous" {
		return anon
	}
	return cred{name, userPassword}
}

type apiResp struct {
	status int
	header http.Header
	body   []byte
}

func (r apiResp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request to /api/v2.0+path. body is sent as is when it is a
// string, as JSON otherwise, not at all when nil. hdr are extra header
// name/value pairs.
func (e *apiEnv) do(c cred, method, path string, body any, hdr ...string) apiResp {
	e.t.Helper()
	return e.doAt(e.srv, c, method, path, body, hdr...)
}

func (e *apiEnv) doAt(srv *httptest.Server, c cred, method, path string, body any, hdr ...string) apiResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, srv.URL+api.Prefix+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return apiResp{res.StatusCode, res.Header, b}
}

// want fails the test unless r has status.
func want(t *testing.T, r apiResp, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: got %s, want %d", what, r, status)
	}
}

// wantErr checks status, that the body is Harbor's error body, and that
// its message mentions substr.
func wantErr(t *testing.T, r apiResp, status int, substr, what string) {
	t.Helper()
	want(t, r, status, what)
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code == "" {
		t.Fatalf("%s: error body %s is not Harbor's", what, r.body)
	}
	if !strings.Contains(body.Errors[0].Message, substr) {
		t.Fatalf("%s: error message %q does not mention %q", what, body.Errors[0].Message, substr)
	}
}

// decodeInto decodes r's JSON body into v.
func decodeInto(t *testing.T, r apiResp, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// count counts rows with a query written with '?' placeholders.
func (e *apiEnv) count(query string, args ...any) int {
	e.t.Helper()
	n, err := e.db.Count(e.ctx, query, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// audits counts audit rows of a resource type, operation and resource.
func (e *apiEnv) audits(resourceType, op, resource string) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM audit_logs WHERE resource_type = ? AND operation = ? AND resource = ?`,
		resourceType, op, resource)
}

// memberID is the member ID of user name in project pr.
func (e *apiEnv) memberID(pr meta.Project, name string) int64 {
	e.t.Helper()
	ms, _, err := e.db.Q().ListMembers(e.ctx, pr.ID, name, meta.ListOptions{PageSize: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.EntityName == name {
			return m.ID
		}
	}
	e.t.Fatalf("%s is not a member of %s", name, pr.Name)
	return 0
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// qesc escapes a q= value for a URL.
func qesc(s string) string {
	return strings.NewReplacer("=", "%3D", ",", "%2C", "~", "%7E", " ", "%20", "[", "%5B", "]", "%5D",
		"{", "%7B", "}", "%7D", ":", "%3A", "+", "%2B").Replace(s)
}

// swaggerPath finds Harbor's swagger beside the repository.
func swaggerPath(t *testing.T) string {
	t.Helper()
	p, err := apidoc.SwaggerPath()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// swaggerProps returns the property names of each swagger definition.
func swaggerProps(t *testing.T) map[string][]string {
	t.Helper()
	path := swaggerPath(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("Harbor's swagger is needed at %s (the repository's ../shared/reference/; CI provides it): %v", path, err)
	}
	var doc struct {
		Definitions map[string]struct {
			Properties map[string]any `yaml:"properties"`
		} `yaml:"definitions"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	out := map[string][]string{}
	for name, d := range doc.Definitions {
		for k := range d.Properties {
			out[name] = append(out[name], k)
		}
		slices.Sort(out[name])
	}
	return out
}

// jsonKeys returns the keys of a JSON object.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// firstElem returns the first element of a JSON array.
func firstElem(t *testing.T, b []byte) []byte {
	t.Helper()
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || len(a) == 0 {
		t.Fatalf("want a non-empty JSON array, got %s", b)
	}
	return a[0]
}

// TestJSONMatchesSwagger checks that every key the user, project, member
// and audit log endpoints emit is defined in Harbor's swagger, and that
// every field of Harbor's request bodies is accepted (decoding is strict).
func TestJSONMatchesSwagger(t *testing.T) {
	props := swaggerProps(t)
	dir := t.TempDir()
	e := newAPIEnv(t, filepath.Join(dir, "meta.db"), dir)
	admin := e.as("admin")
	// Something for the audit log.
	want(t, e.do(admin, "PUT", "/projects/"+id(e.priv.ID), map[string]any{"metadata": map[string]string{"auto_scan": "true"}}), 200, "update")

	subset := func(def string, got []string) {
		t.Helper()
		allowed, ok := props[def]
		if !ok {
			t.Fatalf("swagger has no definition %s", def)
		}
		for _, k := range got {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s: key %q is not in the swagger (which has %v)", def, k, allowed)
			}
		}
	}
	get := func(path string) []byte {
		t.Helper()
		r := e.do(admin, "GET", path, nil)
		want(t, r, 200, "GET "+path)
		return r.body
	}
	user := get("/users/" + id(e.users["pa"].ID))
	subset("UserResp", jsonKeys(t, user))
	if diff := cmp.Diff(slices.DeleteFunc(slices.Clone(props["UserResp"]), func(k string) bool { return k == "oidc_user_meta" }), jsonKeys(t, user)); diff != "" {
		t.Errorf("UserResp keys (-swagger +berth):\n%s", diff)
	}
	subset("UserResp", jsonKeys(t, firstElem(t, get("/users"))))
	subset("UserResp", jsonKeys(t, get("/users/current")))
	subset("UserSearchRespItem", jsonKeys(t, firstElem(t, get("/users/search?username=pa"))))
	subset("Permission", jsonKeys(t, firstElem(t, get("/users/current/permissions?scope=/project/"+id(e.priv.ID)))))
	project := get("/projects/" + id(e.priv.ID))
	subset("Project", jsonKeys(t, project))
	var p struct {
		Metadata     json.RawMessage `json:"metadata"`
		CVEAllowlist json.RawMessage `json:"cve_allowlist"`
	}
	decodeInto(t, apiResp{body: project}, &p)
	subset("ProjectMetadata", jsonKeys(t, p.Metadata))
	subset("CVEAllowlist", jsonKeys(t, p.CVEAllowlist))
	subset("Project", jsonKeys(t, firstElem(t, get("/projects"))))
	summary := get("/projects/" + id(e.priv.ID) + "/summary")
	subset("ProjectSummary", jsonKeys(t, summary))
	var s struct {
		Quota json.RawMessage `json:"quota"`
	}
	decodeInto(t, apiResp{body: summary}, &s)
	subset("ProjectSummaryQuota", jsonKeys(t, s.Quota))
	subset("ProjectDeletable", jsonKeys(t, get("/projects/"+id(e.priv.ID)+"/_deletable")))
	subset("ProjectMemberEntity", jsonKeys(t, firstElem(t, get("/projects/"+id(e.priv.ID)+"/members"))))
	subset("AuditLog", jsonKeys(t, firstElem(t, get("/audit-logs"))))
	subset("AuditLog", jsonKeys(t, firstElem(t, get("/projects/priv/logs"))))
	for _, def := range []string{"ProjectMemberEntity", "AuditLog"} {
		var got []byte
		if def == "AuditLog" {
			got = firstElem(t, get("/audit-logs"))
		} else {
			got = firstElem(t, get("/projects/"+id(e.priv.ID)+"/members"))
		}
		if diff := cmp.Diff(props[def], jsonKeys(t, got)); diff != "" {
			t.Errorf("%s keys (-swagger +berth):\n%s", def, diff)
		}
	}

	// Every field of the request definitions is accepted.
	body := func(def string, set map[string]any) map[string]any {
		out := map[string]any{}
		for _, k := range props[def] {
			out[k] = nil
		}
		for k, v := range set {
			out[k] = v
		}
		return out
	}
	r := e.do(admin, "POST", "/users", body("UserCreationReq", map[string]any{
		"username": "every-field", "email": "every@example.com", "realname": "Every Field", "password": "Every1field", "comment": "c"}))
	want(t, r, 201, "POST /users with every UserCreationReq field")
	want(t, e.do(admin, "PUT", "/users/"+id(e.users["pa"].ID), body("UserProfile", map[string]any{
		"email": "pa2@example.com", "realname": "PA", "comment": "c"})), 200, "PUT /users/{id} with every UserProfile field")
	want(t, e.do(admin, "PUT", "/users/"+id(e.users["pa"].ID)+"/password", body("PasswordReq", map[string]any{
		"new_password": "Changed1pw"})), 200, "PUT password with every PasswordReq field")
	want(t, e.do(admin, "PUT", "/users/"+id(e.users["pa"].ID)+"/sysadmin", body("UserSysAdminFlag", map[string]any{
		"sysadmin_flag": false})), 200, "PUT sysadmin with every UserSysAdminFlag field")
	md := map[string]any{}
	for _, k := range props["ProjectMetadata"] {
		md[k] = nil
	}
	md["public"], md["auto_scan"], md["severity"] = "false", "true", "high"
	want(t, e.do(admin, "POST", "/projects", body("ProjectReq", map[string]any{
		"project_name": "every-field", "metadata": md, "storage_limit": 1 << 30, "registry_id": nil,
		"cve_allowlist": map[string]any{"items": []any{}}})), 201, "POST /projects with every ProjectReq field")
	want(t, e.do(admin, "POST", "/projects/priv/members", body("ProjectMember", map[string]any{
		"role_id": 3, "member_user": body("UserEntity", map[string]any{"username": "outsider"})}),
		"X-Is-Resource-Name", "true"), 201, "POST members with every ProjectMember field")
	paMember := e.memberID(e.priv, "pa")
	want(t, e.do(admin, "PUT", "/projects/priv/members/"+id(paMember), body("RoleRequest", map[string]any{"role_id": 1}),
		"X-Is-Resource-Name", "true"), 200, "PUT member with every RoleRequest field")
}

// TestBadInput sends hostile parameters and bodies to every endpoint of
// this package's users, projects, members and audit resources: each gets
// a clear 4xx, never a 500, on both databases (PostgreSQL refuses NUL and
// invalid UTF-8 that SQLite stores).
func TestBadInput(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		admin := e.as("admin")
		for _, c := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"GET", "/users?q=username%3D%00", nil, 400},
			{"GET", "/users?q=username%3D~%FF", nil, 400},
			{"GET", "/users/search?username=%00", nil, 400},
			{"GET", "/users/search?username=%FF", nil, 400},
			{"GET", "/projects?owner=%00", nil, 200},
			{"GET", "/projects?name=%FF", nil, 400},
			{"GET", "/projects?q=name%3D%00", nil, 400},
			{"GET", "/projects/%00", nil, 404},
			{"GET", "/projects/a%FF", nil, 404},
			{"GET", "/projects/a%FF/summary", nil, 404},
			{"DELETE", "/projects/" + strings.Repeat("a", 300), nil, 404},
			{"HEAD", "/projects?project_name=%00", nil, 404},
			{"GET", "/projects/priv/members?entityname=%FF", nil, 400},
			{"GET", "/projects/priv/members?q=entity_name%3D%00", nil, 400},
			{"GET", "/audit-logs?q=resource%3D%00", nil, 400},
			{"GET", "/projects/priv/logs?q=operation%3D%FF", nil, 400},
			{"GET", "/projects/%FF/logs", nil, 404},
			{"POST", "/users", map[string]any{"username": "x", "password": "Abcdefg123", "comment": "a\x00b"}, 400},
			{"POST", "/users", map[string]any{"username": "x\x00", "password": "Abcdefg123"}, 400},
			{"PUT", "/users/2", map[string]any{"realname": "\x00"}, 400},
			{"POST", "/projects", map[string]any{"project_name": "a\x00"}, 400},
			{"POST", "/projects", map[string]any{"project_name": "ok", "metadata": map[string]any{"severity": "\x00"}}, 400},
			{"POST", "/projects", map[string]any{"project_name": "ok", "metadata": []string{"public"}}, 400},
			{"POST", "/projects", map[string]any{"project_name": "ok", "storage_limit": "big"}, 400},
			{"POST", "/projects", `{"project_name":"ok","storage_limit":1e99}`, 400},
			{"POST", "/projects/priv/metadatas", `{"auto_scan":`, 400},
			{"POST", "/projects/priv/metadatas", `"auto_scan"`, 400},
			{"POST", "/projects/priv/members", map[string]any{"role_id": 2, "member_user": map[string]any{"username": "a\x00b"}}, 400},
			{"POST", "/projects/priv/members", map[string]any{"role_id": "2", "member_user": map[string]any{"username": "guest"}}, 400},
			{"POST", "/projects/priv/members", map[string]any{"role_id": 1e10, "member_user": map[string]any{"user_id": -1}}, 400},
			{"PUT", "/projects/priv/members/1", `{"role_id":null}`, 400},
			{"PUT", "/projects/priv/members/99999999999999999999", map[string]any{"role_id": 1}, 400},
			{"GET", "/users/current/permissions?scope=%00", nil, 400},
		} {
			r := e.do(admin, c.method, c.path, c.body)
			if r.status != c.status {
				t.Errorf("%s %s %v: got %s, want %d", c.method, c.path, c.body, r, c.status)
			}
		}
	})
}
