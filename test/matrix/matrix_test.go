package matrix

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// The matrix: subjects × actions × {public, private project}, and for the
// registry API each cell once with a token and once with Basic
// credentials.

type kind int

const (
	anonymous kind = iota
	sysAdmin
	member   // a user with a role in the project
	outsider // a user with no role in the project
	disabledUser
	robot
	expiredRobot
	disabledRobot
)

type subject struct {
	name   string
	kind   kind
	role   int           // member and disabledUser
	grants []access.Perm // robots' project permissions
}

// locked reports whether the subject cannot authenticate at all.
func (s subject) locked() bool {
	return s.kind == disabledUser || s.kind == expiredRobot || s.kind == disabledRobot
}

// unlocked is the subject as it was before its account was locked.
func (s subject) unlocked() subject {
	switch s.kind {
	case disabledUser:
		s.kind = member
	case expiredRobot, disabledRobot:
		s.kind = robot
	}
	return s
}

var (
	pullOnly = []access.Perm{{Resource: access.ResRepository, Action: access.ActPull}}
	pullPush = []access.Perm{{Resource: access.ResRepository, Action: access.ActPull}, {Resource: access.ResRepository, Action: access.ActPush}}
)

var subjects = []subject{
	{name: "anonymous", kind: anonymous},
	{name: "system-admin", kind: sysAdmin},
	{name: "project-admin", kind: member, role: access.RoleProjectAdmin},
	{name: "maintainer", kind: member, role: access.RoleMaintainer},
	{name: "developer", kind: member, role: access.RoleDeveloper},
	{name: "guest", kind: member, role: access.RoleGuest},
	{name: "limited-guest", kind: member, role: access.RoleLimitedGuest},
	{name: "non-member", kind: outsider},
	// Locked accounts hold rights that would allow everything they try,
	// so that only being locked can explain a refusal.
	{name: "disabled-user", kind: disabledUser, role: access.RoleProjectAdmin},
	{name: "robot-pull", kind: robot, grants: pullOnly},
	{name: "robot-pull-push", kind: robot, grants: pullPush},
	{name: "expired-robot", kind: expiredRobot, grants: pullPush},
	{name: "disabled-robot", kind: disabledRobot, grants: pullPush},
}

// modelAllows is the expectation derived from the code's matrix
// (access.RoleAllows and access.PublicAllows), a robot's own grants and
// the rules for administrators and locked accounts.
func modelAllows(s subject, public bool, p access.Perm) bool {
	switch {
	case s.locked():
		return false
	case public && access.PublicAllows(p.Resource, p.Action):
		return true
	case s.kind == sysAdmin:
		return true
	case s.kind == member:
		return access.RoleAllows(s.role, p.Resource, p.Action)
	case s.kind == robot:
		return slices.Contains(s.grants, p)
	}
	return false
}

// Harbor's documented answers, written from
// ../../shared/reference/harbor-api.md §4 (goharbor/harbor
// src/common/rbac/project) by hand and not from rbac.go, so that a wrong
// entry there cannot make the matrix agree with itself. "x" = allowed.
// create-tag and delete-tag are Harbor's tag:create and tag:delete.
var documented = parseDocumented(`
                     PA  Mnt Dev Gst LG  public
pull                 x   x   x   x   x   x
push                 x   x   x   -   -   -
delete-artifact      x   x   -   -   -   -
delete-repository    x   x   -   -   -   -
create-tag           x   x   x   -   -   -
delete-tag           x   x   -   -   -   -
list-members         x   x   x   x   -   -
manage-members       x   -   -   -   -   -
manage-robots        x   -   -   -   -   -
read-logs            x   -   -   -   -   -
project-settings     x   -   -   -   -   -
`)

type docRow struct {
	roles  map[int]bool
	public bool
}

func parseDocumented(table string) map[string]docRow {
	cols := []int{access.RoleProjectAdmin, access.RoleMaintainer, access.RoleDeveloper, access.RoleGuest, access.RoleLimitedGuest}
	out := map[string]docRow{}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		row := docRow{roles: map[int]bool{}, public: f[6] == "x"}
		for i, role := range cols {
			row.roles[role] = f[i+1] == "x"
		}
		out[f[0]] = row
	}
	return out
}

// documentedAllows is Harbor's documented answer for the subjects whose
// rights are roles or their absence; known is false for robots and
// locked accounts.
func documentedAllows(s subject, public bool, actionName string) (allowed, known bool) {
	row, ok := documented[actionName]
	if !ok {
		return false, false
	}
	switch s.kind {
	case anonymous, outsider:
		return public && row.public, true
	case sysAdmin:
		return true, true
	case member:
		return row.roles[s.role] || (public && row.public), true
	}
	return false, false
}

// TestMatrixAgreesWithHarbor checks the code's matrix against the table
// above for every role and action, without HTTP: a failure here means
// rbac.go departs from Harbor.
func TestMatrixAgreesWithHarbor(t *testing.T) {
	if len(documented) != len(actions) {
		t.Fatalf("the documented table has %d rows for %d actions", len(documented), len(actions))
	}
	for _, a := range actions {
		for _, s := range subjects {
			for _, public := range []bool{false, true} {
				doc, known := documentedAllows(s, public, a.name)
				if !known {
					continue
				}
				if got := modelAllows(s, public, a.perm); got != doc {
					t.Errorf("%s %s (public %v): rbac.go says %v, Harbor's matrix says %v", s.name, a.name, public, got, doc)
				}
			}
		}
	}
}

// cell is one run of the matrix: a subject trying an action in a fresh
// project of its own, so that cells can run in any order and at once.
type cell struct {
	e       *env
	t       *testing.T
	subject subject
	public  bool
	mode    string // "token" or "basic" on the registry API; "" on the management API
	project meta.Project
	repo    string // <project>/app, holding the image tagged v1
	fresh   string // <project>/new, which does not exist
	who     authz
	lock    func() // locks a locked subject's account; nil otherwise
}

func (c *cell) do(a authz, method, path string, body []byte) reply {
	return c.e.do(c.t, a, method, path, body)
}

func (c *cell) doJSON(a authz, method, path string, body any) reply {
	return c.e.doJSON(c.t, a, method, path, body)
}

func newCell(t *testing.T, e *env, s subject, public bool, mode string) *cell {
	t.Helper()
	n, source := e.nextSource()
	ctx, q := e.ctx, e.db.Q()
	pr, err := q.CreateProject(ctx, meta.Project{Name: fmt.Sprintf("p%d", n), OwnerID: e.admin.ID, Public: public,
		StorageLimit: -1}, access.RoleProjectAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c := &cell{e: e, t: t, subject: s, public: public, mode: mode, project: pr,
		repo: pr.Name + "/app", fresh: pr.Name + "/new", who: authz{source: source}}
	if r := e.push(t, e.adminAuth(), c.repo, "v1"); r.status != http.StatusCreated {
		t.Fatalf("fixture push: %s", r)
	}
	switch s.kind {
	case sysAdmin:
		c.who.user, c.who.pass = access.AdminName, password
	case member, outsider, disabledUser:
		u := e.user(t, fmt.Sprintf("u%d", n))
		c.who.user, c.who.pass = u.Username, password
		if s.role != 0 {
			if _, err := q.AddMember(ctx, meta.Member{ProjectID: pr.ID, EntityType: meta.MemberUser, EntityID: u.ID, RoleID: s.role}); err != nil {
				t.Fatal(err)
			}
		}
		if s.kind == disabledUser {
			c.lock = func() {
				u.Disabled = true
				if err := q.UpdateUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
		}
	case robot, expiredRobot, disabledRobot:
		acc := make([]access.RobotAccess, len(s.grants))
		for i, p := range s.grants {
			acc[i] = access.RobotAccess{Resource: p.Resource, Action: p.Action}
		}
		perms, _ := json.Marshal([]access.RobotPermission{{Kind: "project", Namespace: pr.Name, Access: acc}})
		rb, err := q.CreateRobot(ctx, meta.Robot{Name: pr.Name + "+r", Level: meta.RobotProject, ProjectID: pr.ID,
			SecretHash: e.hash, Duration: -1, ExpiresAt: -1, Permissions: perms, CreatorType: "local", CreatorRef: e.admin.ID})
		if err != nil {
			t.Fatal(err)
		}
		c.who.user, c.who.pass = "robot$"+rb.Name, password
		if s.kind != robot {
			c.lock = func() {
				if s.kind == expiredRobot {
					rb.ExpiresAt = time.Now().Add(-time.Minute).Unix()
				} else {
					rb.Disabled = true
				}
				if err := q.UpdateRobot(ctx, rb); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return c
}

// run tries the action and asserts the answer and the state after it.
func (c *cell) run(a action) {
	t := c.t
	allowed := modelAllows(c.subject, c.public, a.perm)
	if doc, known := documentedAllows(c.subject, c.public, a.name); known && doc != allowed {
		t.Errorf("rbac.go (%v) disagrees with Harbor's documented matrix (%v)", allowed, doc)
	}
	var r reply
	if c.mode == "token" {
		r = c.runWithToken(a)
	} else {
		if c.lock != nil {
			c.lock()
		}
		r = a.run(c, c.who)
	}

	want := a.ok
	switch {
	case c.subject.locked():
		want = http.StatusUnauthorized
	case allowed:
	case c.mode == "token" || c.subject.kind == anonymous:
		want = http.StatusUnauthorized
	default:
		want = http.StatusForbidden
	}
	if r.status != want {
		t.Fatalf("status %s, want %d (allowed: %v)", r, want, allowed)
	}
	if !allowed && !c.subject.locked() {
		c.checkRefusal(r)
	}
	a.check(c, allowed, r)
}

// runWithToken fetches a token for the action's scope and uses it. A
// locked subject gets its token while it still may, is then locked, and
// must be refused both a new token and the use of the old one.
func (c *cell) runWithToken(a action) reply {
	t := c.t
	repo := c.repo
	if a.fresh {
		repo = c.fresh
	}
	var wantGrant []string
	for _, act := range strings.Split(a.scope, ",") {
		if modelAllows(c.subject.unlocked(), c.public, tokenPerm[act]) {
			wantGrant = append(wantGrant, act)
		}
	}
	status, tok, granted := c.e.token(t, c.who, repo, a.scope)
	if status != http.StatusOK {
		t.Fatalf("token for %s: %d", a.scope, status)
	}
	if !slices.Equal(granted, wantGrant) {
		t.Errorf("token for %q grants %q, want %q", a.scope, granted, wantGrant)
	}
	if c.lock != nil {
		c.lock()
		if status, _, _ := c.e.token(t, c.who, repo, a.scope); status != http.StatusUnauthorized {
			t.Errorf("a locked account got a new token: %d, want 401", status)
		}
	}
	return a.run(c, c.who.withBearer(tok))
}

// checkRefusal asserts the form of a refusal: the token protocol's
// insufficient_scope challenge, the registry's DENIED for Basic
// credentials, Harbor's FORBIDDEN or UNAUTHORIZED on the API.
func (c *cell) checkRefusal(r reply) {
	body := string(r.body)
	switch {
	case c.mode == "token":
		if h := r.header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_scope"`) {
			c.t.Errorf("token refusal challenge %q lacks insufficient_scope", h)
		}
	case c.mode == "basic":
		if !strings.Contains(body, `"DENIED"`) {
			c.t.Errorf("Basic refusal %s is not DENIED", r)
		}
	case r.status == http.StatusUnauthorized:
		if !strings.Contains(body, `"UNAUTHORIZED"`) {
			c.t.Errorf("refusal %s is not UNAUTHORIZED", r)
		}
	default:
		if !strings.Contains(body, `"FORBIDDEN"`) {
			c.t.Errorf("refusal %s is not FORBIDDEN", r)
		}
	}
}

// modes are the ways a subject tries an action: the registry API with a
// token and with Basic credentials (anonymous callers have none), the
// management API with Basic credentials.
func modes(s subject, a action) []string {
	switch {
	case a.scope == "":
		return []string{""}
	case s.kind == anonymous:
		return []string{"token"}
	}
	return []string{"token", "basic"}
}

// workers bounds the cells in flight per database: enough to overlap the
// databases' fsyncs, few enough not to swamp a small machine.
const workers = 6

func TestPermissionMatrix(t *testing.T) {
	dialects := []struct {
		name   string
		subnet byte
		dsn    func(t *testing.T, dir string) string
	}{
		{meta.SQLite, 1, func(t *testing.T, dir string) string { return filepath.Join(dir, "berth.db") }},
		{meta.Postgres, 2, func(t *testing.T, _ string) string { return pgtest.DSN(t) }},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := newEnv(t, d.dsn(t, dir), dir, d.subnet)
			type job struct {
				name   string
				s      subject
				public bool
				a      action
				mode   string
			}
			jobs := make(chan job)
			var wg sync.WaitGroup
			// Cells run on a few goroutines of their own rather than
			// with t.Parallel, whose limit (GOMAXPROCS) would leave a
			// small machine waiting on fsyncs.
			for range workers {
				wg.Go(func() {
					for j := range jobs {
						t.Run(j.name, func(t *testing.T) {
							newCell(t, e, j.s, j.public, j.mode).run(j.a)
						})
					}
				})
			}
			for _, public := range []bool{true, false} {
				vis := map[bool]string{true: "public", false: "private"}[public]
				for _, s := range subjects {
					for _, a := range actions {
						for _, mode := range modes(s, a) {
							name := vis + "/" + s.name + "/" + a.name
							if mode != "" {
								name += "/" + mode
							}
							jobs <- job{name, s, public, a, mode}
						}
					}
				}
			}
			close(jobs)
			wg.Wait()
		})
	}
}
