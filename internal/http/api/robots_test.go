package api_test

// Robot accounts over real HTTP, on SQLite and PostgreSQL. Helpers carry
// an "rb" prefix so they cannot collide with other test files of the
// package.

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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

const rbAdminPassword = "Admin12345"
const rbUserPassword = "User12345"

// rbClock is a settable clock for the access service.
type rbClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rbClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rbClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rbEnv is one in-process API server over a fresh store, with projects
// alpha and beta and a user for each role in alpha.
type rbEnv struct {
	t     *testing.T
	ctx   context.Context
	db    *meta.DB
	acc   *access.Service
	srv   *httptest.Server
	clock *rbClock
	admin meta.User
	alpha meta.Project
	beta  meta.Project
	users map[string]meta.User // pa, maintainer, developer, guest, limited, outsider
}

var rbDialects = []struct {
	name string
	dsn  func(t *testing.T, dir string) string
}{
	{meta.SQLite, func(t *testing.T, dir string) string { return filepath.Join(dir, "meta.db") }},
	{meta.Postgres, func(t *testing.T, _ string) string { return pgtest.DSN(t) }},
}

// rbForEachDialect runs fn on a fresh environment per dialect.
func rbForEachDialect(t *testing.T, fn func(t *testing.T, e *rbEnv)) {
	t.Helper()
	for _, d := range rbDialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fn(t, rbNewEnv(t, d.dsn(t, dir), dir))
		})
	}
}

func rbNewEnv(t *testing.T, dsn, dir string) *rbEnv {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &rbClock{t: time.Now().UTC()}
	acc, err := access.New(ctx, db, access.WithClock(clock.Now), access.WithLogger(log))
	if err != nil {
		t.Fatalf("access.New: %v", err)
	}
	if _, err := acc.Bootstrap(ctx, rbAdminPassword, dir); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	srv := httptest.NewServer(api.New(acc, auth.New(acc, "", log), nil, log))
	t.Cleanup(srv.Close)
	e := &rbEnv{t: t, ctx: ctx, db: db, acc: acc, srv: srv, clock: clock, users: map[string]meta.User{}}
	q := db.Q()
	if e.admin, err = q.GetUserByName(ctx, access.AdminName); err != nil {
		t.Fatalf("admin: %v", err)
	}
	hash, err := access.HashSecret(rbUserPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pa", "maintainer", "developer", "guest", "limited", "outsider"} {
		u, err := q.CreateUser(ctx, meta.User{Username: name, Email: name + "@example.com", PasswordHash: hash})
		if err != nil {
			t.Fatalf("create user %s: %v", name, err)
		}
		e.users[name] = u
	}
	if e.alpha, err = q.CreateProject(ctx, meta.Project{Name: "alpha", OwnerID: e.users["pa"].ID, StorageLimit: -1}, access.RoleProjectAdmin); err != nil {
		t.Fatalf("create project alpha: %v", err)
	}
	if e.beta, err = q.CreateProject(ctx, meta.Project{Name: "beta", OwnerID: e.admin.ID, StorageLimit: -1}, access.RoleProjectAdmin); err != nil {
		t.Fatalf("create project beta: %v", err)
	}
	for name, role := range map[string]int{
		"maintainer": access.RoleMaintainer, "developer": access.RoleDeveloper,
		"guest": access.RoleGuest, "limited": access.RoleLimitedGuest,
	} {
		if _, err := q.AddMember(ctx, meta.Member{ProjectID: e.alpha.ID, EntityType: meta.MemberUser,
			EntityID: e.users[name].ID, RoleID: role}); err != nil {
			t.Fatalf("add member %s: %v", name, err)
		}
	}
	return e
}

// rbCred is a Basic credential; the zero value is anonymous.
type rbCred struct{ user, pass string }

func (e *rbEnv) adminCred() rbCred        { return rbCred{access.AdminName, rbAdminPassword} }
func (e *rbEnv) userCred(n string) rbCred { return rbCred{n, rbUserPassword} }

type rbResp struct {
	status int
	header http.Header
	body   []byte
}

func (r rbResp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request with body (a string is sent as is, anything else as
// JSON; nil sends nothing).
func (e *rbEnv) do(c rbCred, method, path string, body any) rbResp {
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
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+"/api/v2.0"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
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
	return rbResp{res.StatusCode, res.Header, b}
}

// want fails the test unless r has status.
func (e *rbEnv) want(r rbResp, status int, what string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: got %s, want %d", what, r, status)
	}
}

// wantErr checks status and that Harbor's error body mentions substr.
func (e *rbEnv) wantErr(r rbResp, status int, substr, what string) {
	e.t.Helper()
	e.want(r, status, what)
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) != 1 {
		e.t.Fatalf("%s: error body %s is not Harbor's", what, r.body)
	}
	if !strings.Contains(body.Errors[0].Message, substr) {
		e.t.Fatalf("%s: error message %q does not mention %q", what, body.Errors[0].Message, substr)
	}
}

type rbAccess struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
	Effect   string `json:"effect,omitempty"`
}

type rbPerm struct {
	Kind      string     `json:"kind"`
	Namespace string     `json:"namespace"`
	Access    []rbAccess `json:"access"`
}

// rbGrant builds a permission from "resource:action" pairs.
func rbGrant(kind, ns string, pairs ...string) rbPerm {
	p := rbPerm{Kind: kind, Namespace: ns, Access: []rbAccess{}}
	for _, s := range pairs {
		res, act, _ := strings.Cut(s, ":")
		p.Access = append(p.Access, rbAccess{Resource: res, Action: act})
	}
	return p
}

type rbCreated struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Secret       string    `json:"secret"`
	CreationTime time.Time `json:"creation_time"`
	ExpiresAt    int64     `json:"expires_at"`
}

type rbRobot struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Secret       string    `json:"secret"`
	Level        string    `json:"level"`
	Duration     int64     `json:"duration"`
	Editable     bool      `json:"editable"`
	Disable      bool      `json:"disable"`
	ExpiresAt    int64     `json:"expires_at"`
	Permissions  []rbPerm  `json:"permissions"`
	CreatorType  string    `json:"creator_type"`
	CreatorRef   int64     `json:"creator_ref"`
	CreationTime time.Time `json:"creation_time"`
	UpdateTime   time.Time `json:"update_time"`
}

func rbBody(name, level string, duration int64, perms ...rbPerm) map[string]any {
	return map[string]any{"name": name, "description": "made by a test", "level": level,
		"duration": duration, "disable": false, "permissions": perms}
}

// create posts body as c, expects 201 and returns the answer.
func (e *rbEnv) create(c rbCred, body map[string]any) rbCreated {
	e.t.Helper()
	r := e.do(c, "POST", "/robots", body)
	e.want(r, http.StatusCreated, "create robot")
	var out rbCreated
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatalf("decode %s: %v", r.body, err)
	}
	if want := "/api/v2.0/robots/" + strconv.FormatInt(out.ID, 10); r.header.Get("Location") != want {
		e.t.Fatalf("Location = %q, want %q", r.header.Get("Location"), want)
	}
	return out
}

func (e *rbEnv) get(c rbCred, id int64) rbRobot {
	e.t.Helper()
	r := e.do(c, "GET", "/robots/"+strconv.FormatInt(id, 10), nil)
	e.want(r, http.StatusOK, "get robot")
	var out rbRobot
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatalf("decode %s: %v", r.body, err)
	}
	return out
}

// authOK reports whether the robot authenticates with secret. Each call
// uses its own source so that failures do not slow the next ones down.
func (e *rbEnv) authOK(name, secret string) bool {
	e.t.Helper()
	_, err := e.acc.Authenticate(e.ctx, name, secret, "test-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err != nil && !errs.Is(err, errs.Unauthorized) {
		e.t.Fatalf("Authenticate(%s): unexpected error %v", name, err)
	}
	return err == nil
}

func TestRobotCreate(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		// A system robot spanning two projects, created by the admin.
		perms := []rbPerm{
			rbGrant("system", "/", "robot:list", "catalog:read"),
			rbGrant("project", "alpha", "repository:pull", "repository:push"),
			rbGrant("project", "*", "artifact:read"),
		}
		sys := e.create(e.adminCred(), rbBody("ci", "system", -1, perms...))
		if sys.Name != "robot$ci" || sys.ExpiresAt != -1 || sys.CreationTime.IsZero() {
			t.Fatalf("created %+v, want name robot$ci, expires_at -1 and a creation time", sys)
		}
		if err := access.CheckPasswordPolicy(sys.Secret); err != nil {
			t.Fatalf("generated secret %q breaks the policy: %v", sys.Secret, err)
		}
		got := e.get(e.adminCred(), sys.ID)
		want := rbRobot{ID: sys.ID, Name: "robot$ci", Description: "made by a test", Level: "system",
			Duration: -1, Editable: true, ExpiresAt: -1, Permissions: perms, CreatorType: "local",
			CreatorRef: e.admin.ID, CreationTime: got.CreationTime, UpdateTime: got.UpdateTime}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET robot (-want +got):\n%s", diff)
		}
		row, err := e.db.Q().GetRobot(e.ctx, sys.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Name != "ci" || row.SecretHash == "" || strings.Contains(row.SecretHash, sys.Secret) ||
			!access.VerifySecret(row.SecretHash, sys.Secret) {
			t.Errorf("stored robot %q with hash %q: want name ci and a salted hash of the secret", row.Name, row.SecretHash)
		}
		if !e.authOK("robot$ci", sys.Secret) {
			t.Error("the new system robot cannot authenticate")
		}
		e.wantErr(e.do(e.adminCred(), "POST", "/robots", rbBody("ci", "system", 5, rbGrant("system", "/", "catalog:read"))),
			http.StatusConflict, "robot$ci", "duplicate system robot")

		// A project robot, created by the Project Admin of alpha.
		now := e.clock.Now()
		pr := e.create(e.userCred("pa"), rbBody("builder", "project", 30,
			rbGrant("project", "alpha", "repository:pull", "repository:push")))
		if pr.Name != "robot$alpha+builder" {
			t.Errorf("project robot name = %q, want robot$alpha+builder", pr.Name)
		}
		if want := now.Add(30 * 24 * time.Hour).Unix(); pr.ExpiresAt != want {
			t.Errorf("expires_at = %d, want now + 30 days = %d", pr.ExpiresAt, want)
		}
		row, err = e.db.Q().GetRobot(e.ctx, pr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Name != "alpha+builder" || row.Level != "project" || row.ProjectID != e.alpha.ID ||
			row.CreatorType != "local" || row.CreatorRef != e.users["pa"].ID {
			t.Errorf("stored project robot %+v", row)
		}
		g := e.get(e.userCred("pa"), pr.ID)
		if g.Secret != "" || g.Duration != 30 || g.ExpiresAt != pr.ExpiresAt || g.Level != "project" {
			t.Errorf("GET project robot = %+v", g)
		}
		if !e.authOK("robot$alpha+builder", pr.Secret) {
			t.Error("the new project robot cannot authenticate")
		}
		e.want(e.do(e.userCred("pa"), "POST", "/robots", rbBody("builder", "project", 30,
			rbGrant("project", "alpha", "repository:pull"))), http.StatusConflict, "duplicate project robot")
		// The same short name in another project is another robot.
		e.create(e.adminCred(), rbBody("builder", "project", 30, rbGrant("project", "beta", "repository:pull")))

		// A secret chosen by the caller, if it meets the policy.
		own := rbBody("own", "system", 7, rbGrant("system", "/", "catalog:read"))
		own["secret"] = "Chosen4Secret"
		c := e.create(e.adminCred(), own)
		if c.Secret != "Chosen4Secret" || !e.authOK("robot$own", "Chosen4Secret") {
			t.Errorf("robot with a chosen secret: got secret %q, or it cannot authenticate", c.Secret)
		}
		own["name"], own["secret"] = "weak", "password"
		e.wantErr(e.do(e.adminCred(), "POST", "/robots", own), http.StatusBadRequest, "upper-case", "weak chosen secret")
	})
}

func TestRobotCreateInvalid(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		pull := rbGrant("project", "alpha", "repository:pull")
		for _, tc := range []struct {
			name   string
			body   any
			status int
			msg    string
		}{
			{"duration 0", rbBody("r", "project", 0, pull), 400, "duration"},
			{"duration -2", rbBody("r", "project", -2, pull), 400, "duration"},
			{"no duration", map[string]any{"name": "r", "level": "project", "permissions": []rbPerm{pull}}, 400, "duration"},
			{"upper-case name", rbBody("Bad", "project", 1, pull), 400, "invalid robot name"},
			{"plus in name", rbBody("a+b", "project", 1, pull), 400, "invalid robot name"},
			{"prefix in name", rbBody("robot$a", "project", 1, pull), 400, "invalid robot name"},
			{"empty name", rbBody("", "project", 1, pull), 400, "name is empty"},
			{"unknown action", rbBody("r", "project", 1, rbGrant("project", "alpha", "repository:fly")), 400, "repository:fly"},
			{"unknown resource", rbBody("r", "system", 1, rbGrant("system", "/", "spaceship:create")), 400, "spaceship:create"},
			{"project perm at system kind", rbBody("r", "system", 1, rbGrant("system", "/", "repository:pull")), 400, "repository:pull"},
			{"system perm in a project", rbBody("r", "system", 1, rbGrant("project", "alpha", "user:create")), 400, "user:create"},
			{"system kind for a project robot", rbBody("r", "project", 1, rbGrant("system", "/", "catalog:read")), 400, "system permissions"},
			{"two permissions for a project robot", rbBody("r", "project", 1, pull, rbGrant("project", "beta", "repository:pull")), 400, "exactly one"},
			{"no permissions", rbBody("r", "system", 1), 400, "at least one permission"},
			{"bad level", rbBody("r", "cluster", 1, pull), 400, "level"},
			{"unknown field", `{"name":"r","level":"system","duration":1,"permissions":[],"colour":"red"}`, 400, "colour"},
			{"not JSON", `{"name":`, 400, "JSON"},
			{"missing project", rbBody("r", "project", 1, rbGrant("project", "nope", "repository:pull")), 404, "nope"},
			{"missing project in a system robot", rbBody("r", "system", 1, rbGrant("project", "nope", "repository:pull")), 404, "nope"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				e.wantErr(e.do(e.adminCred(), "POST", "/robots", tc.body), tc.status, tc.msg, tc.name)
			})
		}
		e.t = t
		list, total, err := e.db.Q().ListRobots(e.ctx, meta.ListOptions{})
		if err != nil || total != 0 {
			t.Errorf("after refused creations the store holds %d robots (%v): %+v", total, err, list)
		}
	})
}

func TestRobotCreateRoles(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		body := func(name string) map[string]any {
			return rbBody(name, "project", 10, rbGrant("project", "alpha", "repository:pull"))
		}
		e.create(e.userCred("pa"), body("by-pa"))
		for _, u := range []string{"maintainer", "developer", "guest", "limited", "outsider"} {
			e.want(e.do(e.userCred(u), "POST", "/robots", body("by-"+u)), http.StatusForbidden, u+" creates a project robot")
		}
		e.want(e.do(rbCred{}, "POST", "/robots", body("anon")), http.StatusUnauthorized, "anonymous creates a project robot")
		e.want(e.do(rbCred{"pa", "Wrong12345"}, "POST", "/robots", body("bad-password")), http.StatusUnauthorized, "wrong password")
		// Only the admin makes system robots.
		e.want(e.do(e.userCred("pa"), "POST", "/robots", rbBody("sys", "system", 1, rbGrant("system", "/", "catalog:read"))),
			http.StatusForbidden, "Project Admin creates a system robot")
		// A project the caller cannot act in is refused, existing or not.
		e.want(e.do(e.userCred("pa"), "POST", "/robots", rbBody("x", "project", 1, rbGrant("project", "beta", "repository:pull"))),
			http.StatusForbidden, "Project Admin of alpha creates a robot in beta")
		e.want(e.do(e.userCred("developer"), "POST", "/robots", rbBody("x", "project", 1, rbGrant("project", "nope", "repository:pull"))),
			http.StatusForbidden, "a robot in a missing project, by a non-admin")
		_, total, err := e.db.Q().ListRobots(e.ctx, meta.ListOptions{})
		if err != nil || total != 1 {
			t.Errorf("store holds %d robots (%v), want only the Project Admin's", total, err)
		}
	})
}

func TestRobotAsCaller(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		mgr := e.create(e.adminCred(), rbBody("mgr", "system", -1,
			rbGrant("system", "/", "robot:create", "robot:list", "robot:read", "catalog:read"),
			rbGrant("project", "alpha", "repository:pull", "repository:push", "robot:create", "robot:list")))
		puller := e.create(e.adminCred(), rbBody("puller", "system", -1, rbGrant("project", "alpha", "repository:pull")))
		mgrCred := rbCred{"robot$mgr", mgr.Secret}
		pullCred := rbCred{"robot$puller", puller.Secret}

		// Listing follows the robot's own permissions.
		r := e.do(mgrCred, "GET", "/robots", nil)
		e.want(r, http.StatusOK, "robot with robot:list lists system robots")
		if r.header.Get("X-Total-Count") != "2" {
			t.Errorf("X-Total-Count = %q, want 2", r.header.Get("X-Total-Count"))
		}
		q := "/robots?q=" + rbQ(fmt.Sprintf("Level=project,ProjectID=%d", e.alpha.ID))
		e.want(e.do(mgrCred, "GET", q, nil), http.StatusOK, "robot with alpha robot:list lists alpha's robots")
		e.want(e.do(pullCred, "GET", "/robots", nil), http.StatusForbidden, "pull-only robot lists system robots")
		e.want(e.do(pullCred, "GET", q, nil), http.StatusForbidden, "pull-only robot lists alpha's robots")
		e.want(e.do(pullCred, "GET", "/robots/"+strconv.FormatInt(mgr.ID, 10), nil), http.StatusForbidden, "pull-only robot reads a robot")
		e.want(e.do(rbCred{"robot$mgr", "Wrong1234567"}, "GET", "/robots", nil), http.StatusUnauthorized, "robot with a wrong secret")

		// A robot hands on a subset of its permissions, never more.
		sub := e.create(mgrCred, rbBody("sub", "system", 3,
			rbGrant("system", "/", "catalog:read"), rbGrant("project", "alpha", "repository:pull")))
		if got := e.get(e.adminCred(), sub.ID); got.CreatorType != "robot" || got.CreatorRef != mgr.ID {
			t.Errorf("creator = %s/%d, want robot/%d", got.CreatorType, got.CreatorRef, mgr.ID)
		}
		e.create(mgrCred, rbBody("sub", "project", 3, rbGrant("project", "alpha", "repository:push")))
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"system permission it lacks", rbBody("x1", "system", 1, rbGrant("system", "/", "user:create"))},
			{"project action it lacks", rbBody("x2", "project", 1, rbGrant("project", "alpha", "repository:delete"))},
			{"every project", rbBody("x3", "system", 1, rbGrant("project", "*", "repository:pull"))},
			{"another project", rbBody("x4", "system", 1, rbGrant("project", "beta", "repository:pull"))},
		} {
			e.wantErr(e.do(mgrCred, "POST", "/robots", tc.body), http.StatusForbidden, "", tc.name)
		}
		e.wantErr(e.do(mgrCred, "POST", "/robots", rbBody("x5", "system", 1, rbGrant("system", "/", "user:create"))),
			http.StatusForbidden, "user:create", "the refusal names what is missing")
		e.want(e.do(pullCred, "POST", "/robots", rbBody("x6", "system", 1, rbGrant("project", "alpha", "repository:pull"))),
			http.StatusForbidden, "robot without robot:create")
		e.want(e.do(pullCred, "POST", "/robots", rbBody("x7", "project", 1, rbGrant("project", "alpha", "repository:pull"))),
			http.StatusForbidden, "robot without project robot:create")
		// Deleting system robots takes system robot:delete, which mgr lacks.
		e.want(e.do(mgrCred, "DELETE", "/robots/"+strconv.FormatInt(sub.ID, 10), nil), http.StatusForbidden, "robot deletes without robot:delete")
	})
}

func TestRobotSecretRefresh(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		c := e.create(e.userCred("pa"), rbBody("ci", "project", -1, rbGrant("project", "alpha", "repository:pull")))
		path := "/robots/" + strconv.FormatInt(c.ID, 10)
		const name = "robot$alpha+ci"

		refresh := func(cred rbCred, body any) string {
			t.Helper()
			r := e.do(cred, "PATCH", path, body)
			e.want(r, http.StatusOK, "refresh secret")
			var sec struct {
				Secret *string `json:"secret"`
			}
			if err := json.Unmarshal(r.body, &sec); err != nil || sec.Secret == nil {
				t.Fatalf("refresh answer %s has no secret field", r.body)
			}
			return *sec.Secret
		}
		s1 := refresh(e.userCred("pa"), map[string]any{})
		if s1 == "" || s1 == c.Secret || access.CheckPasswordPolicy(s1) != nil {
			t.Fatalf("refreshed secret %q: want a new one meeting the policy", s1)
		}
		if e.authOK(name, c.Secret) {
			t.Error("the old secret still works after refresh")
		}
		if !e.authOK(name, s1) {
			t.Error("the refreshed secret does not work")
		}
		e.want(e.do(rbCred{name, c.Secret}, "GET", "/robots", nil), http.StatusUnauthorized, "old secret over HTTP")

		s2 := refresh(e.adminCred(), nil) // an empty body generates one too
		if s2 == "" || s2 == s1 || e.authOK(name, s1) || !e.authOK(name, s2) {
			t.Errorf("refresh with an empty body: got %q; the previous secret must die and the new one work", s2)
		}
		if got := refresh(e.userCred("pa"), map[string]string{"secret": "Mine12345"}); got != "" {
			t.Errorf("refresh with a chosen secret answered %q, want \"\"", got)
		}
		if e.authOK(name, s2) || !e.authOK(name, "Mine12345") {
			t.Error("after setting a chosen secret only it must work")
		}
		e.wantErr(e.do(e.userCred("pa"), "PATCH", path, map[string]string{"secret": "short"}),
			http.StatusBadRequest, "8 to 128", "chosen secret too short")
		e.want(e.do(e.userCred("pa"), "PATCH", path, `{"secret":"Mine12345","x":1}`), http.StatusBadRequest, "unknown field")
		e.want(e.do(e.userCred("developer"), "PATCH", path, map[string]any{}), http.StatusForbidden, "developer refreshes")
		e.want(e.do(rbCred{}, "PATCH", path, map[string]any{}), http.StatusUnauthorized, "anonymous refreshes")
		e.want(e.do(e.adminCred(), "PATCH", "/robots/999999", map[string]any{}), http.StatusNotFound, "refresh a missing robot")
		if !e.authOK(name, "Mine12345") {
			t.Error("a refused refresh changed the secret")
		}
		row, err := e.db.Q().GetRobot(e.ctx, c.ID)
		if err != nil || strings.Contains(row.SecretHash, "Mine12345") {
			t.Errorf("stored hash %q (%v) must not contain the secret", row.SecretHash, err)
		}
		// GET never shows a secret.
		if g := e.get(e.adminCred(), c.ID); g.Secret != "" {
			t.Errorf("GET shows secret %q", g.Secret)
		}
	})
}

func TestRobotUpdate(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		c := e.create(e.userCred("pa"), rbBody("ci", "project", -1, rbGrant("project", "alpha", "repository:pull")))
		path := "/robots/" + strconv.FormatInt(c.ID, 10)
		const name = "robot$alpha+ci"
		cur := e.get(e.userCred("pa"), c.ID)

		// Clients send back what they read, changed.
		upd := cur
		upd.Disable = true
		upd.Description = "paused"
		e.want(e.do(e.userCred("pa"), "PUT", path, upd), http.StatusOK, "disable")
		if e.authOK(name, c.Secret) {
			t.Error("a disabled robot authenticates")
		}
		e.want(e.do(rbCred{name, c.Secret}, "GET", "/robots", nil), http.StatusUnauthorized, "disabled robot over HTTP")
		if g := e.get(e.userCred("pa"), c.ID); !g.Disable || g.Description != "paused" {
			t.Errorf("after PUT: %+v", g)
		}
		upd.Disable = false
		upd.Permissions = []rbPerm{rbGrant("project", "alpha", "repository:pull", "repository:push")}
		upd.Duration = 10
		e.want(e.do(e.userCred("pa"), "PUT", path, upd), http.StatusOK, "enable, widen, set duration")
		if !e.authOK(name, c.Secret) {
			t.Error("a re-enabled robot cannot authenticate")
		}
		g := e.get(e.userCred("pa"), c.ID)
		if want := g.CreationTime.Unix() + 10*24*60*60; g.ExpiresAt != want || g.Duration != 10 {
			t.Errorf("duration %d expires_at %d, want 10 and creation + 10 days = %d", g.Duration, g.ExpiresAt, want)
		}
		if diff := cmp.Diff(upd.Permissions, g.Permissions); diff != "" {
			t.Errorf("permissions (-want +got):\n%s", diff)
		}
		if g.UpdateTime.Before(g.CreationTime) {
			t.Errorf("update_time %v before creation_time %v", g.UpdateTime, g.CreationTime)
		}

		bad := func(what string, status int, msg string, change func(r *rbRobot)) {
			t.Helper()
			r := g
			change(&r)
			e.wantErr(e.do(e.userCred("pa"), "PUT", path, r), status, msg, what)
		}
		bad("rename", 400, "name", func(r *rbRobot) { r.Name = "robot$alpha+other" })
		bad("change level", 400, "level", func(r *rbRobot) { r.Level = "system" })
		bad("duration 0", 400, "duration", func(r *rbRobot) { r.Duration = 0 })
		bad("invalid permission", 400, "repository:fly", func(r *rbRobot) { r.Permissions = []rbPerm{rbGrant("project", "alpha", "repository:fly")} })
		bad("no permissions", 400, "permission", func(r *rbRobot) { r.Permissions = nil })
		bad("move to another project", 403, "", func(r *rbRobot) { r.Permissions = []rbPerm{rbGrant("project", "beta", "repository:pull")} })
		e.want(e.do(e.adminCred(), "PUT", path, func() rbRobot {
			r := g
			r.Permissions = []rbPerm{rbGrant("project", "beta", "repository:pull")}
			return r
		}()), http.StatusBadRequest, "admin moves a project robot")
		for _, u := range []string{"maintainer", "developer", "guest"} {
			e.want(e.do(e.userCred(u), "PUT", path, g), http.StatusForbidden, u+" updates")
		}
		e.want(e.do(rbCred{}, "PUT", path, g), http.StatusUnauthorized, "anonymous updates")
		e.want(e.do(e.adminCred(), "PUT", "/robots/999999", g), http.StatusNotFound, "update a missing robot")
		if after := e.get(e.adminCred(), c.ID); !cmp.Equal(after, g) {
			t.Errorf("refused updates changed the robot:\n%s", cmp.Diff(g, after))
		}
	})
}

func TestRobotExpiryAndDelete(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		c := e.create(e.userCred("pa"), rbBody("short", "project", 1, rbGrant("project", "alpha", "repository:pull")))
		const name = "robot$alpha+short"
		if !e.authOK(name, c.Secret) {
			t.Fatal("a fresh robot cannot authenticate")
		}
		e.clock.Advance(24*time.Hour - time.Minute)
		if !e.authOK(name, c.Secret) {
			t.Fatal("a robot fails before its expiry")
		}
		e.clock.Advance(2 * time.Minute)
		if e.authOK(name, c.Secret) {
			t.Error("an expired robot authenticates")
		}
		e.want(e.do(rbCred{name, c.Secret}, "GET", "/robots", nil), http.StatusUnauthorized, "expired robot over HTTP")

		path := "/robots/" + strconv.FormatInt(c.ID, 10)
		for _, u := range []string{"maintainer", "developer", "guest"} {
			e.want(e.do(e.userCred(u), "DELETE", path, nil), http.StatusForbidden, u+" deletes")
		}
		e.want(e.do(rbCred{}, "DELETE", path, nil), http.StatusUnauthorized, "anonymous deletes")
		e.want(e.do(e.userCred("pa"), "DELETE", path, nil), http.StatusOK, "Project Admin deletes")
		e.want(e.do(e.userCred("pa"), "GET", path, nil), http.StatusNotFound, "GET deleted robot")
		e.want(e.do(e.userCred("pa"), "DELETE", path, nil), http.StatusNotFound, "delete twice")
		if _, err := e.db.Q().GetRobot(e.ctx, c.ID); !errs.Is(err, errs.NotFound) {
			t.Errorf("deleted robot still stored: %v", err)
		}

		// A deleted robot cannot authenticate, even with a live secret.
		d := e.create(e.adminCred(), rbBody("gone", "system", -1, rbGrant("system", "/", "catalog:read")))
		e.want(e.do(e.adminCred(), "DELETE", "/robots/"+strconv.FormatInt(d.ID, 10), nil), http.StatusOK, "admin deletes")
		if e.authOK("robot$gone", d.Secret) {
			t.Error("a deleted robot authenticates")
		}
	})
}

func TestRobotList(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		for _, n := range []string{"build-a", "build-b", "deploy"} {
			e.create(e.userCred("pa"), rbBody(n, "project", -1, rbGrant("project", "alpha", "repository:pull")))
		}
		e.create(e.adminCred(), rbBody("other", "project", -1, rbGrant("project", "beta", "repository:pull")))
		for _, n := range []string{"sys-one", "sys-two"} {
			e.create(e.adminCred(), rbBody(n, "system", -1, rbGrant("system", "/", "catalog:read")))
		}
		list := func(c rbCred, query string) ([]rbRobot, rbResp) {
			t.Helper()
			r := e.do(c, "GET", "/robots"+query, nil)
			e.want(r, http.StatusOK, "list "+query)
			var out []rbRobot
			if err := json.Unmarshal(r.body, &out); err != nil {
				t.Fatalf("decode %s: %v", r.body, err)
			}
			for _, rb := range out {
				if rb.Secret != "" {
					t.Errorf("listing shows the secret of %s", rb.Name)
				}
			}
			return out, r
		}
		names := func(rs []rbRobot) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.Name)
			}
			return out
		}

		got, r := list(e.adminCred(), "")
		if diff := cmp.Diff([]string{"robot$sys-one", "robot$sys-two"}, names(got)); diff != "" || r.header.Get("X-Total-Count") != "2" {
			t.Errorf("system robots (-want +got):\n%s, X-Total-Count %q", diff, r.header.Get("X-Total-Count"))
		}
		alphaQ := "q=" + rbQ(fmt.Sprintf("Level=project,ProjectID=%d", e.alpha.ID))
		got, r = list(e.adminCred(), "?"+alphaQ+"&page_size=2")
		if diff := cmp.Diff([]string{"robot$alpha+build-a", "robot$alpha+build-b"}, names(got)); diff != "" {
			t.Errorf("alpha page 1 (-want +got):\n%s", diff)
		}
		if r.header.Get("X-Total-Count") != "3" || !strings.Contains(r.header.Get("Link"), `rel="next"`) {
			t.Errorf("page 1 headers: X-Total-Count %q, Link %q", r.header.Get("X-Total-Count"), r.header.Get("Link"))
		}
		got, r = list(e.adminCred(), "?"+alphaQ+"&page_size=2&page=2")
		if diff := cmp.Diff([]string{"robot$alpha+deploy"}, names(got)); diff != "" || !strings.Contains(r.header.Get("Link"), `rel="prev"`) {
			t.Errorf("alpha page 2 (-want +got):\n%s, Link %q", diff, r.header.Get("Link"))
		}
		got, _ = list(e.adminCred(), "?q="+rbQ(fmt.Sprintf("Level=project,ProjectID=%d,name=~deploy", e.alpha.ID)))
		if diff := cmp.Diff([]string{"robot$alpha+deploy"}, names(got)); diff != "" {
			t.Errorf("fuzzy name filter (-want +got):\n%s", diff)
		}
		got, _ = list(e.adminCred(), "?q="+rbQ(fmt.Sprintf("ProjectID=%d", e.beta.ID)))
		if diff := cmp.Diff([]string{"robot$beta+other"}, names(got)); diff != "" {
			t.Errorf("ProjectID alone (-want +got):\n%s", diff)
		}

		// Who may list alpha's robots: members holding robot:list.
		for _, u := range []string{"pa", "maintainer", "developer", "guest"} {
			if got, _ := list(e.userCred(u), "?"+alphaQ); len(got) != 3 {
				t.Errorf("%s sees %d of alpha's robots, want 3", u, len(got))
			}
		}
		e.want(e.do(e.userCred("limited"), "GET", "/robots?"+alphaQ, nil), http.StatusForbidden, "limited guest lists")
		e.want(e.do(e.userCred("outsider"), "GET", "/robots?"+alphaQ, nil), http.StatusForbidden, "outsider lists")
		e.want(e.do(rbCred{}, "GET", "/robots?"+alphaQ, nil), http.StatusUnauthorized, "anonymous lists")
		e.want(e.do(e.userCred("pa"), "GET", "/robots", nil), http.StatusForbidden, "Project Admin lists system robots")
		e.want(e.do(rbCred{}, "GET", "/robots", nil), http.StatusUnauthorized, "anonymous lists system robots")
		first, _ := list(e.userCred("pa"), "?"+alphaQ)
		e.want(e.do(e.userCred("guest"), "GET", "/robots/"+strconv.FormatInt(first[0].ID, 10), nil), http.StatusOK, "guest reads an alpha robot")
		e.want(e.do(e.userCred("limited"), "GET", "/robots/"+strconv.FormatInt(first[0].ID, 10), nil), http.StatusForbidden, "limited guest reads")
		e.want(e.do(rbCred{}, "GET", "/robots/"+strconv.FormatInt(first[0].ID, 10), nil), http.StatusUnauthorized, "anonymous reads")

		for _, tc := range []struct{ q, msg string }{
			{"Level=cluster", "Level"},
			{"Level=project", "ProjectID"},
			{"Level=project,ProjectID=abc", "ProjectID"},
			{"colour=red", "colour"},
			{"nonsense", `"="`},
		} {
			e.wantErr(e.do(e.adminCred(), "GET", "/robots?q="+rbQ(tc.q), nil), http.StatusBadRequest, tc.msg, "q="+tc.q)
		}
		e.want(e.do(e.adminCred(), "GET", "/robots?q="+rbQ("Level=project,ProjectID=999999"), nil), http.StatusNotFound, "admin lists a missing project")
		e.want(e.do(e.userCred("pa"), "GET", "/robots?q="+rbQ("Level=project,ProjectID=999999"), nil), http.StatusForbidden, "user lists a missing project")
		e.want(e.do(e.adminCred(), "GET", "/robots/abc", nil), http.StatusBadRequest, "non-numeric id")
	})
}

func TestRobotAudit(t *testing.T) {
	rbForEachDialect(t, func(t *testing.T, e *rbEnv) {
		c := e.create(e.userCred("pa"), rbBody("ci", "project", -1, rbGrant("project", "alpha", "repository:pull")))
		path := "/robots/" + strconv.FormatInt(c.ID, 10)
		g := e.get(e.userCred("pa"), c.ID)
		g.Description = "changed"
		e.want(e.do(e.userCred("pa"), "PUT", path, g), http.StatusOK, "update")
		e.want(e.do(e.adminCred(), "PATCH", path, map[string]any{}), http.StatusOK, "refresh")
		e.want(e.do(e.userCred("pa"), "DELETE", path, nil), http.StatusOK, "delete")
		s := e.create(e.adminCred(), rbBody("sys", "system", 1, rbGrant("system", "/", "catalog:read")))

		logs, _, err := e.db.Q().ListAudit(e.ctx, meta.ListOptions{PageSize: 100,
			Query: []meta.Cond{{Key: "resource_type", Op: "=", Values: []string{"robot"}}},
			Sort:  []meta.SortKey{{Key: "id"}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			Project                    int64
			User, Resource, Op, Detail string
			HasSource                  bool
		}
		var got []row
		for _, l := range logs {
			got = append(got, row{l.ProjectID, l.Username, l.Resource, l.Operation, l.Detail, l.SourceIP != ""})
		}
		want := []row{
			{e.alpha.ID, "pa", "robot$alpha+ci", "create", "", true},
			{e.alpha.ID, "pa", "robot$alpha+ci", "update", "", true},
			{e.alpha.ID, "admin", "robot$alpha+ci", "update", "secret refreshed", true},
			{e.alpha.ID, "pa", "robot$alpha+ci", "delete", "", true},
			{0, "admin", "robot$sys", "create", "", true},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("robot audit rows (-want +got):\n%s", diff)
		}
		for _, l := range logs {
			if strings.Contains(l.Detail, c.Secret) || strings.Contains(l.Detail, s.Secret) {
				t.Errorf("audit row %d leaks a secret", l.ID)
			}
		}
	})
}

// TestRobotJSONMatchesSwagger checks that what berth says about robots
// uses exactly the field names of Harbor's swagger.
func TestRobotJSONMatchesSwagger(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "reference", "harbor-swagger.yaml"))
	if err != nil {
		t.Fatalf("Harbor's swagger (../shared/reference/harbor-swagger.yaml from the repository root) is needed: %v", err)
	}
	var doc struct {
		Definitions map[string]struct {
			Properties map[string]any `yaml:"properties"`
		} `yaml:"definitions"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse swagger: %v", err)
	}
	props := func(def string) []string {
		d, ok := doc.Definitions[def]
		if !ok || len(d.Properties) == 0 {
			t.Fatalf("swagger has no definition %s", def)
		}
		var out []string
		for k := range d.Properties {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	keys := func(b []byte) []string {
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

	e := rbNewEnv(t, filepath.Join(t.TempDir(), "meta.db"), t.TempDir())
	r := e.do(e.adminCred(), "POST", "/robots", rbBody("ci", "system", 1, rbGrant("system", "/", "catalog:read"),
		rbPerm{Kind: "project", Namespace: "alpha", Access: []rbAccess{{Resource: "repository", Action: "pull", Effect: "allow"}}}))
	e.want(r, http.StatusCreated, "create")
	if diff := cmp.Diff(props("RobotCreated"), keys(r.body)); diff != "" {
		t.Errorf("POST /robots keys vs RobotCreated (-swagger +berth):\n%s", diff)
	}
	var created rbCreated
	_ = json.Unmarshal(r.body, &created)
	r = e.do(e.adminCred(), "GET", "/robots/"+strconv.FormatInt(created.ID, 10), nil)
	e.want(r, http.StatusOK, "get")
	if diff := cmp.Diff(props("Robot"), keys(r.body)); diff != "" {
		t.Errorf("GET /robots/{id} keys vs Robot (-swagger +berth):\n%s", diff)
	}
	var robot struct {
		Permissions []json.RawMessage `json:"permissions"`
	}
	_ = json.Unmarshal(r.body, &robot)
	if len(robot.Permissions) != 2 {
		t.Fatalf("permissions %s", r.body)
	}
	if diff := cmp.Diff(props("RobotPermission"), keys(robot.Permissions[1])); diff != "" {
		t.Errorf("permission keys vs RobotPermission (-swagger +berth):\n%s", diff)
	}
	var p struct {
		Access []json.RawMessage `json:"access"`
	}
	_ = json.Unmarshal(robot.Permissions[1], &p)
	if diff := cmp.Diff(props("Access"), keys(p.Access[0])); diff != "" {
		t.Errorf("access keys vs Access (-swagger +berth):\n%s", diff)
	}
	r = e.do(e.adminCred(), "PATCH", "/robots/"+strconv.FormatInt(created.ID, 10), nil)
	e.want(r, http.StatusOK, "refresh")
	if diff := cmp.Diff(props("RobotSec"), keys(r.body)); diff != "" {
		t.Errorf("PATCH keys vs RobotSec (-swagger +berth):\n%s", diff)
	}
	// Every RobotCreate field is accepted (decoding is strict).
	body := map[string]any{}
	for _, k := range props("RobotCreate") {
		body[k] = nil
	}
	body["name"], body["level"], body["duration"], body["secret"] = "all-fields", "system", 1, "Chosen4Secret"
	body["description"], body["disable"] = "d", false
	body["permissions"] = []rbPerm{rbGrant("system", "/", "catalog:read")}
	e.want(e.do(e.adminCred(), "POST", "/robots", body), http.StatusCreated, "create with every RobotCreate field")
}

// rbQ escapes a q= value.
func rbQ(s string) string {
	return strings.NewReplacer("=", "%3D", ",", "%2C", "~", "%7E", " ", "%20").Replace(s)
}

func TestListingsRefuseNULInQuery(t *testing.T) {
	for _, q := range []string{"name%3D%00", "name%3D%FF%FE"} {
		conds, err := api.ParseQuery(mustUnescape(t, q))
		if err == nil {
			t.Fatalf("q=%s accepted: %+v", q, conds)
		}
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
