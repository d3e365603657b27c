package api_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/meta"
)

// projectBody is Harbor's Project as the tests read it.
type projectBody struct {
	ProjectID          int64             `json:"project_id"`
	Name               string            `json:"name"`
	OwnerID            int64             `json:"owner_id"`
	OwnerName          string            `json:"owner_name"`
	CreationTime       time.Time         `json:"creation_time"`
	UpdateTime         time.Time         `json:"update_time"`
	Deleted            bool              `json:"deleted"`
	RepoCount          int               `json:"repo_count"`
	CurrentUserRoleID  int               `json:"current_user_role_id"`
	CurrentUserRoleIDs []int             `json:"current_user_role_ids"`
	Togglable          bool              `json:"togglable"`
	RegistryID         *int64            `json:"registry_id"`
	Metadata           map[string]string `json:"metadata"`
}

func (e *apiEnv) project(name string) meta.Project {
	e.t.Helper()
	p, err := e.db.Q().GetProjectByName(e.ctx, name)
	if err != nil {
		e.t.Fatalf("project %s: %v", name, err)
	}
	return p
}

func TestProjectCreate(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		type check func(t *testing.T, p meta.Project)
		public := func(want bool) check {
			return func(t *testing.T, p meta.Project) {
				if p.Public != want {
					t.Errorf("public = %v, want %v", p.Public, want)
				}
			}
		}
		limit := func(want int64) check {
			return func(t *testing.T, p meta.Project) {
				if p.StorageLimit != want {
					t.Errorf("storage limit = %d, want %d", p.StorageLimit, want)
				}
			}
		}
		cases := []struct {
			name   string
			caller string
			body   any
			status int
			msg    string
			check  check
		}{
			{"developer creates", "developer", map[string]any{"project_name": "team-a"}, 201, "", public(false)},
			{"metadata public", "outsider", map[string]any{"project_name": "team.b", "metadata": map[string]any{"public": "true"}}, 201, "", public(true)},
			{"legacy public", "guest", map[string]any{"project_name": "team_c", "public": true}, 201, "", public(true)},
			{"metadata wins", "guest", map[string]any{"project_name": "team4", "public": true, "metadata": map[string]any{"public": "false"}}, 201, "", public(false)},
			{"other metadata", "pa", map[string]any{"project_name": "scan", "metadata": map[string]any{"auto_scan": "true", "severity": "High", "prevent_vul": "false"}}, 201, "",
				func(t *testing.T, p meta.Project) {
					if diff := cmp.Diff(map[string]string{"public": "false", "auto_scan": "true", "severity": "high", "prevent_vul": "false"}, p.Metadata); diff != "" {
						t.Errorf("metadata (-want +got):\n%s", diff)
					}
				}},
			{"null metadata value", "pa", map[string]any{"project_name": "nulls", "metadata": map[string]any{"auto_scan": nil}}, 201, "", nil},
			{"user's storage limit is ignored", "pa", map[string]any{"project_name": "quota-user", "storage_limit": 1024}, 201, "", limit(-1)},
			{"admin's storage limit", "admin", map[string]any{"project_name": "quota-admin", "storage_limit": 1024}, 201, "", limit(1024)},
			{"registry_id 0", "admin", map[string]any{"project_name": "reg0", "registry_id": 0}, 201, "", nil},
			{"anonymous", "anonymous", map[string]any{"project_name": "anon"}, 401, "authentication required", nil},
			{"upper case", "pa", map[string]any{"project_name": "Team"}, 400, "lower case", nil},
			{"empty", "pa", map[string]any{"project_name": ""}, 400, "empty", nil},
			{"missing", "pa", map[string]any{}, 400, "empty", nil},
			{"double separator", "pa", map[string]any{"project_name": "a__b"}, 400, "invalid project name", nil},
			{"leading separator", "pa", map[string]any{"project_name": "-a"}, 400, "invalid project name", nil},
			{"trailing separator", "pa", map[string]any{"project_name": "a."}, 400, "invalid project name", nil},
			{"slash", "pa", map[string]any{"project_name": "a/b"}, 400, "invalid project name", nil},
			{"space", "pa", map[string]any{"project_name": "a b"}, 400, "invalid project name", nil},
			{"too long", "pa", map[string]any{"project_name": strings.Repeat("a", 256)}, 400, "longer than 255", nil},
			{"public not a bool string", "pa", map[string]any{"project_name": "x1", "metadata": map[string]any{"public": "yes"}}, 400, "'true' or 'false'", nil},
			{"public as a JSON bool", "pa", map[string]any{"project_name": "x2", "metadata": map[string]any{"public": true}}, 400, "metadata.public must be a string", nil},
			{"number metadata", "pa", map[string]any{"project_name": "x3", "metadata": map[string]any{"auto_scan": 1}}, 400, "metadata.auto_scan", nil},
			{"unknown metadata", "pa", map[string]any{"project_name": "x4", "metadata": map[string]any{"colour": "blue"}}, 400, "colour", nil},
			{"bad severity", "pa", map[string]any{"project_name": "x5", "metadata": map[string]any{"severity": "dire"}}, 400, "severity", nil},
			{"proxy cache", "admin", map[string]any{"project_name": "x6", "registry_id": 3}, 400, "proxy cache", nil},
			{"bad storage limit", "admin", map[string]any{"project_name": "x7", "storage_limit": -2}, 400, "storage_limit", nil},
			{"unknown field", "pa", map[string]any{"project_name": "x8", "owner": "pa"}, 400, "unknown field", nil},
			{"duplicate", "developer", map[string]any{"project_name": "priv"}, 409, "already exists", nil},
			{"malformed", "pa", `{"project_name":`, 400, "JSON", nil},
		}
		for _, c := range cases {
			r := e.do(e.as(c.caller), "POST", "/projects", c.body)
			if c.status != 201 {
				wantErr(t, r, c.status, c.msg, c.name)
				continue
			}
			want(t, r, 201, c.name)
			name := c.body.(map[string]any)["project_name"].(string)
			p := e.project(name)
			if got, w := r.header.Get("Location"), "/api/v2.0/projects/"+id(p.ID); got != w {
				t.Errorf("%s: Location = %q, want %q", c.name, got, w)
			}
			// The creator owns the project and is its Project Admin.
			creator := e.users[c.caller]
			if p.OwnerID != creator.ID {
				t.Errorf("%s: owner %d, want %d", c.name, p.OwnerID, creator.ID)
			}
			role, err := e.db.Q().MemberRole(e.ctx, p.ID, creator.ID)
			if err != nil || role != access.RoleProjectAdmin {
				t.Errorf("%s: creator's role %d (%v), want Project Admin", c.name, role, err)
			}
			if n := e.count(`SELECT count(*) FROM project_members WHERE project_id = ?`, p.ID); n != 1 {
				t.Errorf("%s: %d members, want 1", c.name, n)
			}
			if n := e.audits("project", "create", name); n != 1 {
				t.Errorf("%s: %d audit rows, want 1", c.name, n)
			}
			if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource = ? AND project_id = ? AND username = ?`, name, p.ID, creator.Username); n != 1 {
				t.Errorf("%s: audit row lacks project or user", c.name)
			}
			if c.check != nil {
				c.check(t, p)
			}
		}
		if n := e.count(`SELECT count(*) FROM projects`); n != 3+9 {
			t.Errorf("%d projects, want 12: failed requests must change nothing", n)
		}

		// The name in Location, on request.
		r := e.do(e.as("pa"), "POST", "/projects", map[string]any{"project_name": "named"}, "X-Resource-Name-In-Location", "true")
		want(t, r, 201, "name in location")
		if got := r.header.Get("Location"); got != "/api/v2.0/projects/named" {
			t.Errorf("Location = %q", got)
		}

		// Project creation restricted to administrators.
		_, srv := e.serve(access.WithProjectCreation(access.CreationAdminOnly))
		wantErr(t, e.doAt(srv, e.as("pa"), "POST", "/projects", map[string]any{"project_name": "nope"}), 403, "only system administrators", "adminonly user")
		want(t, e.doAt(srv, e.as("admin"), "POST", "/projects", map[string]any{"project_name": "yes"}), 201, "adminonly admin")

		// Robots: a system robot with project:create may, owned by the
		// administrator; one without may not.
		maker := e.robot("maker", `[{"kind":"system","namespace":"/","access":[{"resource":"project","action":"create"}]}]`)
		want(t, e.do(maker, "POST", "/projects", map[string]any{"project_name": "by-robot"}), 201, "robot with project:create")
		if p := e.project("by-robot"); p.OwnerID != 1 {
			t.Errorf("robot's project owned by %d, want the administrator", p.OwnerID)
		}
		puller := e.robot("puller", `[{"kind":"project","namespace":"priv","access":[{"resource":"repository","action":"pull"}]}]`)
		wantErr(t, e.do(puller, "POST", "/projects", map[string]any{"project_name": "by-puller"}), 403, "", "robot without project:create")
	})
}

func TestProjectHead(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		for _, c := range []struct {
			caller, query string
			status        int
		}{
			{"outsider", "project_name=priv", 200}, // Harbor tells any user, for the name check
			{"outsider", "project_name=pub", 200},
			{"outsider", "project_name=nothing", 404},
			{"admin", "project_name=nothing", 404},
			{"anonymous", "project_name=pub", 401},
			{"outsider", "", 400},
		} {
			r := e.do(e.as(c.caller), "HEAD", "/projects?"+c.query, nil)
			if r.status != c.status {
				t.Errorf("%s HEAD %s: %d, want %d", c.caller, c.query, r.status, c.status)
			}
			if len(r.body) != 0 {
				t.Errorf("HEAD has a body: %q", r.body)
			}
		}
	})
}

func TestProjectList(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		q := e.db.Q()
		// Another private project, and repositories to count.
		other, err := q.CreateProject(e.ctx, meta.Project{Name: "other", OwnerID: e.users["outsider"].ID, StorageLimit: -1}, access.RoleProjectAdmin)
		if err != nil {
			t.Fatal(err)
		}
		for _, repo := range []string{"priv/a", "priv/b/c", "privy/x", "pub/z"} {
			if _, err := q.EnsureRepo(e.ctx, repo); err != nil {
				t.Fatal(err)
			}
		}
		list := func(c cred, query string) (apiResp, []projectBody) {
			t.Helper()
			r := e.do(c, "GET", "/projects?"+query, nil)
			want(t, r, 200, "list "+query)
			var out []projectBody
			decodeInto(t, r, &out)
			return r, out
		}
		names := func(ps []projectBody) []string {
			out := []string{}
			for _, p := range ps {
				out = append(out, p.Name)
			}
			return out
		}
		for _, c := range []struct {
			caller, query string
			names         []string
		}{
			// "library" is the public project made at first start.
			{"anonymous", "", []string{"library", "pub"}},
			{"outsider", "", []string{"library", "other", "pub"}},
			{"developer", "", []string{"library", "priv", "pub"}},
			{"limited", "", []string{"library", "priv", "pub"}},
			{"admin", "", []string{"library", "other", "priv", "pub"}},
			{"admin", "public=false", []string{"other", "priv"}},
			{"admin", "public=true", []string{"library", "pub"}},
			{"developer", "public=false", []string{"priv"}},
			{"anonymous", "public=false", []string{}},
			{"admin", "name=ri", []string{"priv"}},
			{"admin", "name=P", []string{"priv", "pub"}},
			{"admin", "owner=outsider", []string{"other"}},
			{"admin", "owner=nobody", []string{}},
			{"admin", "q=" + qesc("name=pub"), []string{"pub"}},
			{"admin", "q=" + qesc("name=~o"), []string{"other"}},
			{"admin", "sort=-name", []string{"pub", "priv", "other", "library"}},
			{"admin", "sort=project_id", []string{"library", "priv", "pub", "other"}},
			{"admin", "page=2&page_size=3", []string{"pub"}},
			{"admin", "with_detail=false", []string{"library", "other", "priv", "pub"}},
		} {
			_, got := list(e.as(c.caller), c.query)
			if diff := cmp.Diff(c.names, names(got)); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", c.caller, c.query, diff)
			}
		}

		// A robot sees its namespaces and public projects.
		robot := e.robot("lister", `[{"kind":"project","namespace":"other","access":[{"resource":"repository","action":"pull"}]}]`)
		if _, got := list(robot, ""); !cmp.Equal(names(got), []string{"library", "other", "pub"}) {
			t.Errorf("robot sees %v", names(got))
		}
		star := e.robot("star", `[{"kind":"project","namespace":"*","access":[{"resource":"repository","action":"pull"}]}]`)
		if _, got := list(star, ""); !cmp.Equal(names(got), []string{"library", "other", "priv", "pub"}) {
			t.Errorf("robot with * sees %v", names(got))
		}

		// Paging headers.
		r, _ := list(e.as("admin"), "page=2&page_size=1")
		if got := r.header.Get("X-Total-Count"); got != "4" {
			t.Errorf("X-Total-Count = %q", got)
		}
		if got, w := r.header.Get("Link"), `</api/v2.0/projects?page=1&page_size=1>; rel="prev" , </api/v2.0/projects?page=3&page_size=1>; rel="next"`; got != w {
			t.Errorf("Link = %q, want %q", got, w)
		}

		// What one project looks like to its developer.
		_, got := list(e.as("developer"), "name=priv")
		if len(got) != 1 {
			t.Fatalf("got %v", got)
		}
		p := got[0]
		wantP := projectBody{
			ProjectID: e.priv.ID, Name: "priv", OwnerID: e.users["pa"].ID, OwnerName: "pa",
			CreationTime: e.priv.CreatedAt, UpdateTime: e.priv.UpdatedAt, RepoCount: 2,
			CurrentUserRoleID: access.RoleDeveloper, CurrentUserRoleIDs: []int{access.RoleDeveloper},
			RegistryID: p.RegistryID, Metadata: map[string]string{"public": "false"},
		}
		if diff := cmp.Diff(wantP, p); diff != "" {
			t.Errorf("priv as developer (-want +got):\n%s", diff)
		}
		if p.RegistryID == nil || *p.RegistryID != 0 {
			t.Errorf("registry_id = %v, want 0", p.RegistryID)
		}
		_, got = list(e.as("pa"), "name=priv")
		if !got[0].Togglable || got[0].CurrentUserRoleID != access.RoleProjectAdmin {
			t.Errorf("priv as its admin: %+v", got[0])
		}
		_, got = list(anon, "name=pub")
		if got[0].RepoCount != 1 || got[0].CurrentUserRoleID != 0 || len(got[0].CurrentUserRoleIDs) != 0 || got[0].Togglable {
			t.Errorf("pub as anonymous: %+v", got[0])
		}
		if got[0].Metadata["public"] != "true" {
			t.Errorf("pub metadata %v", got[0].Metadata)
		}
		_ = other

		for _, query := range []string{"public=maybe", "with_detail=2", "page=-1", "q=" + qesc("owner_name=pa"), "sort=owner"} {
			wantErr(t, e.do(e.as("admin"), "GET", "/projects?"+query, nil), 400, "", query)
		}
	})
}

func TestProjectGet(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		numeric, err := e.db.Q().CreateProject(e.ctx, meta.Project{Name: "123", OwnerID: e.users["pa"].ID, StorageLimit: -1}, access.RoleProjectAdmin)
		if err != nil {
			t.Fatal(err)
		}
		priv := id(e.priv.ID)
		for _, c := range []struct {
			caller, path string
			hdr          []string
			status       int
			name         string // of the project answered
		}{
			{"developer", "/projects/" + priv, nil, 200, "priv"},
			{"developer", "/projects/priv", nil, 200, "priv"},
			{"limited", "/projects/priv", nil, 200, "priv"},
			{"admin", "/projects/priv", nil, 200, "priv"},
			{"outsider", "/projects/priv", nil, 403, ""},
			{"outsider", "/projects/" + priv, nil, 403, ""},
			{"anonymous", "/projects/priv", nil, 401, ""},
			{"anonymous", "/projects/pub", nil, 200, "pub"},
			{"outsider", "/projects/pub", nil, 200, "pub"},
			// A missing project looks like a private one to all but admins.
			{"outsider", "/projects/missing", nil, 403, ""},
			{"developer", "/projects/999999", nil, 403, ""},
			{"anonymous", "/projects/missing", nil, 401, ""},
			{"admin", "/projects/missing", nil, 404, ""},
			{"admin", "/projects/999999", nil, 404, ""},
			{"admin", "/projects/0", nil, 404, ""},
			// An integer is an ID unless the header says it is a name.
			{"pa", "/projects/123", nil, 403, ""},
			{"admin", "/projects/123", nil, 404, ""},
			{"pa", "/projects/123", []string{"X-Is-Resource-Name", "true"}, 200, "123"},
			{"pa", "/projects/" + id(numeric.ID), []string{"X-Is-Resource-Name", "false"}, 200, "123"},
			{"pa", "/projects/priv", []string{"X-Is-Resource-Name", "true"}, 200, "priv"},
			{"pa", "/projects/priv", []string{"X-Is-Resource-Name", "maybe"}, 400, ""},
		} {
			r := e.do(e.as(c.caller), "GET", c.path, nil, c.hdr...)
			what := c.caller + " GET " + c.path + " " + strings.Join(c.hdr, " ")
			if c.status != 200 {
				wantErr(t, r, c.status, "", what)
				continue
			}
			want(t, r, 200, what)
			var p projectBody
			decodeInto(t, r, &p)
			if p.Name != c.name {
				t.Errorf("%s: got project %q, want %q", what, p.Name, c.name)
			}
		}
		// The refusal does not say whether the project exists.
		a := e.do(e.as("outsider"), "GET", "/projects/priv", nil)
		b := e.do(e.as("outsider"), "GET", "/projects/prix", nil)
		if strings.Replace(string(a.body), "priv", "prix", 1) != string(b.body) {
			t.Errorf("refusals differ: %s vs %s", a.body, b.body)
		}
	})
}

func TestProjectUpdate(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		for _, c := range []struct {
			name, caller string
			body         any
			status       int
			msg          string
		}{
			{"maintainer", "maintainer", map[string]any{"metadata": map[string]any{"public": "true"}}, 403, "not allowed"},
			{"developer", "developer", map[string]any{"metadata": map[string]any{"public": "true"}}, 403, "not allowed"},
			{"outsider", "outsider", map[string]any{"metadata": map[string]any{"public": "true"}}, 403, "not allowed"},
			{"anonymous", "anonymous", map[string]any{"metadata": map[string]any{"public": "true"}}, 401, ""},
			{"rename", "pa", map[string]any{"project_name": "renamed"}, 400, "renamed"},
			{"bad public", "pa", map[string]any{"metadata": map[string]any{"public": "1"}}, 400, "'true' or 'false'"},
			{"unknown field", "pa", map[string]any{"name": "x"}, 400, "unknown field"},
			{"bad body", "pa", `[]`, 400, "JSON"},
		} {
			wantErr(t, e.do(e.as(c.caller), "PUT", "/projects/priv", c.body), c.status, c.msg, c.name)
		}
		if p := e.project("priv"); p.Public || len(p.Metadata) > 1 {
			t.Fatalf("refused updates changed the project: %+v", p)
		}

		want(t, e.do(e.as("pa"), "PUT", "/projects/"+id(e.priv.ID), map[string]any{
			"project_name": "priv", "metadata": map[string]any{"public": "true", "auto_scan": "true"}}), 200, "update")
		p := e.project("priv")
		if !p.Public || p.Metadata["auto_scan"] != "true" || p.StorageLimit != -1 {
			t.Errorf("after update: %+v", p)
		}
		if e.audits("project", "update", "priv") != 1 {
			t.Error("update not audited")
		}
		// Keys not mentioned stay; the legacy flag still works; a user's
		// storage limit is ignored, an admin's is kept.
		want(t, e.do(e.as("pa"), "PUT", "/projects/priv", map[string]any{"public": false, "storage_limit": 5}), 200, "legacy")
		p = e.project("priv")
		if p.Public || p.Metadata["auto_scan"] != "true" || p.StorageLimit != -1 {
			t.Errorf("after legacy update: %+v", p)
		}
		want(t, e.do(e.as("admin"), "PUT", "/projects/priv", map[string]any{"storage_limit": 5 << 30}), 200, "admin limit")
		if p = e.project("priv"); p.StorageLimit != 5<<30 {
			t.Errorf("storage limit %d", p.StorageLimit)
		}
		wantErr(t, e.do(e.as("admin"), "PUT", "/projects/missing", map[string]any{}), 404, "", "admin missing")
	})
}

func TestProjectDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		repo, err := e.db.Q().EnsureRepo(e.ctx, "priv/app")
		if err != nil {
			t.Fatal(err)
		}
		type deletable struct {
			Deletable bool   `json:"deletable"`
			Message   string `json:"message"`
		}
		r := e.do(e.as("pa"), "GET", "/projects/priv/_deletable", nil)
		want(t, r, 200, "deletable")
		var d deletable
		decodeInto(t, r, &d)
		if d.Deletable || !strings.Contains(d.Message, "repositories") {
			t.Errorf("deletable with a repository: %+v", d)
		}
		for _, c := range []struct {
			caller, path string
			status       int
		}{
			{"maintainer", "/projects/priv/_deletable", 403},
			{"anonymous", "/projects/pub/_deletable", 401},
			{"maintainer", "/projects/priv", 403},
			{"developer", "/projects/priv", 403},
			{"outsider", "/projects/priv", 403},
			{"anonymous", "/projects/pub", 401},
			{"outsider", "/projects/pub", 403},
			{"outsider", "/projects/missing", 403},
			{"admin", "/projects/missing", 404},
		} {
			method := "DELETE"
			if strings.HasSuffix(c.path, "_deletable") {
				method = "GET"
			}
			wantErr(t, e.do(e.as(c.caller), method, c.path, nil), c.status, "", c.caller+" "+method+" "+c.path)
		}
		wantErr(t, e.do(e.as("pa"), "DELETE", "/projects/priv", nil), 412, "repositories", "with a repository")
		if e.count(`SELECT count(*) FROM projects WHERE name = 'priv'`) != 1 {
			t.Fatal("refused deletion deleted")
		}

		if err := e.db.Q().DeleteRepo(e.ctx, repo.ID); err != nil {
			t.Fatal(err)
		}
		r = e.do(e.as("pa"), "GET", "/projects/priv/_deletable", nil)
		want(t, r, 200, "deletable")
		decodeInto(t, r, &d)
		if !d.Deletable || d.Message != "" {
			t.Errorf("deletable when empty: %+v", d)
		}
		want(t, e.do(e.as("pa"), "DELETE", "/projects/"+id(e.priv.ID), nil), 200, "delete")
		for _, c := range []struct{ what, query string }{
			{"project", `SELECT count(*) FROM projects WHERE id = ?`},
			{"members", `SELECT count(*) FROM project_members WHERE project_id = ?`},
		} {
			if n := e.count(c.query, e.priv.ID); n != 0 {
				t.Errorf("%d %s left", n, c.what)
			}
		}
		if e.audits("project", "delete", "priv") != 1 {
			t.Error("deletion not audited")
		}
		// Gone now: admins learn so, others are refused as before.
		wantErr(t, e.do(e.as("admin"), "DELETE", "/projects/priv", nil), 404, "", "again as admin")
		wantErr(t, e.do(e.as("pa"), "DELETE", "/projects/priv", nil), 403, "", "again as its former admin")
	})
}

type summaryBody struct {
	RepoCount         int  `json:"repo_count"`
	ProjectAdminCount *int `json:"project_admin_count"`
	MaintainerCount   *int `json:"maintainer_count"`
	DeveloperCount    *int `json:"developer_count"`
	GuestCount        *int `json:"guest_count"`
	LimitedGuestCount *int `json:"limited_guest_count"`
	Quota             *struct {
		Hard map[string]int64 `json:"hard"`
		Used map[string]int64 `json:"used"`
	} `json:"quota"`
}

func TestProjectSummary(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		for _, repo := range []string{"priv/a", "priv/b", "pub/c"} {
			if _, err := e.db.Q().EnsureRepo(e.ctx, repo); err != nil {
				t.Fatal(err)
			}
		}
		get := func(c cred, path string) summaryBody {
			t.Helper()
			r := e.do(c, "GET", path, nil)
			want(t, r, 200, path)
			var s summaryBody
			decodeInto(t, r, &s)
			return s
		}
		n := func(i int) *int { return &i }
		s := get(e.as("guest"), "/projects/priv/summary")
		if s.RepoCount != 2 {
			t.Errorf("repo_count %d", s.RepoCount)
		}
		counts := []*int{s.ProjectAdminCount, s.MaintainerCount, s.DeveloperCount, s.GuestCount, s.LimitedGuestCount}
		if diff := cmp.Diff([]*int{n(1), n(1), n(1), n(1), n(1)}, counts); diff != "" {
			t.Errorf("member counts (-want +got):\n%s", diff)
		}
		if s.Quota == nil || s.Quota.Hard["storage"] != -1 || s.Quota.Used["storage"] != 0 {
			t.Errorf("quota %+v", s.Quota)
		}
		// A Limited Guest may not list members: no counts, but the quota.
		s = get(e.as("limited"), "/projects/priv/summary")
		if s.ProjectAdminCount != nil || s.Quota == nil {
			t.Errorf("limited guest's summary: %+v", s)
		}
		// Anyone reads a public project's summary, without counts or quota.
		s = get(anon, "/projects/pub/summary")
		if s.RepoCount != 1 || s.ProjectAdminCount != nil || s.Quota != nil {
			t.Errorf("anonymous summary of pub: %+v", s)
		}
		wantErr(t, e.do(e.as("outsider"), "GET", "/projects/priv/summary", nil), 403, "", "outsider")
		wantErr(t, e.do(anon, "GET", "/projects/priv/summary", nil), 401, "", "anonymous")
		wantErr(t, e.do(e.as("admin"), "GET", "/projects/missing/summary", nil), 404, "", "missing")
	})
}

func TestProjectMetadata(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		get := func(c cred, path string) map[string]string {
			t.Helper()
			r := e.do(c, "GET", path, nil)
			want(t, r, 200, path)
			var md map[string]string
			decodeInto(t, r, &md)
			return md
		}
		base := "/projects/priv/metadatas"
		if md := get(e.as("maintainer"), base); !cmp.Equal(md, map[string]string{"public": "false"}) {
			t.Errorf("metadata %v", md)
		}
		want(t, e.do(e.as("pa"), "POST", base+"/", map[string]string{"auto_scan": "true"}), 200, "add")
		if md := get(e.as("pa"), base+"/"); !cmp.Equal(md, map[string]string{"public": "false", "auto_scan": "true"}) {
			t.Errorf("metadata %v", md)
		}
		if md := get(e.as("pa"), base+"/auto_scan"); !cmp.Equal(md, map[string]string{"auto_scan": "true"}) {
			t.Errorf("one entry %v", md)
		}
		want(t, e.do(e.as("pa"), "PUT", base+"/auto_scan", map[string]string{"auto_scan": "false"}), 200, "update")
		if p := e.project("priv"); p.Metadata["auto_scan"] != "false" {
			t.Errorf("stored %v", p.Metadata)
		}
		want(t, e.do(e.as("pa"), "PUT", base+"/public", map[string]string{"public": "true"}), 200, "publish")
		if p := e.project("priv"); !p.Public {
			t.Error("public through metadata did not publish")
		}
		want(t, e.do(e.as("pa"), "DELETE", base+"/auto_scan", nil), 200, "delete")
		if p := e.project("priv"); !cmp.Equal(p.Metadata, map[string]string{"public": "true"}) {
			t.Errorf("after delete %v", p.Metadata)
		}
		if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource = 'priv' AND resource_type = 'project' AND operation = 'update'`); n != 4 {
			t.Errorf("%d metadata changes audited, want 4", n)
		}

		for _, c := range []struct {
			name, caller, method, path string
			body                       any
			status                     int
			msg                        string
		}{
			{"developer reads", "developer", "GET", base, nil, 403, ""},
			{"anonymous reads public", "anonymous", "GET", "/projects/pub/metadatas", nil, 401, ""},
			{"maintainer adds", "maintainer", "POST", base, map[string]string{"severity": "low"}, 403, ""},
			{"missing entry", "pa", "GET", base + "/auto_scan", nil, 404, "auto_scan"},
			{"add existing", "pa", "POST", base, map[string]string{"public": "false", "auto_sbom_generation": "x"}, 400, "'true' or 'false'"},
			{"add nothing", "pa", "POST", base, map[string]string{}, 400, "no metadata"},
			{"add unknown", "pa", "POST", base, map[string]string{"colour": "red"}, 400, "colour"},
			{"add proxy", "pa", "POST", base, map[string]string{"proxy_speed_kb": "5"}, 400, "proxy cache"},
			{"add non-string", "pa", "POST", base, map[string]any{"auto_scan": true}, 400, "auto_scan must be a string"},
			{"update missing", "pa", "PUT", base + "/severity", map[string]string{"severity": "low"}, 404, "severity"},
			{"update other key", "pa", "PUT", base + "/public", map[string]string{"auto_scan": "true"}, 400, "exactly"},
			{"update two keys", "pa", "PUT", base + "/public", map[string]string{"public": "true", "auto_scan": "true"}, 400, "exactly"},
			{"delete missing", "pa", "DELETE", base + "/auto_scan", nil, 404, ""},
			{"delete public", "pa", "DELETE", base + "/public", nil, 400, "public"},
			{"maintainer deletes", "maintainer", "DELETE", base + "/public", nil, 403, ""},
			{"admin, missing project", "admin", "GET", "/projects/missing/metadatas", nil, 404, ""},
		} {
			wantErr(t, e.do(e.as(c.caller), c.method, c.path, c.body), c.status, c.msg, c.name)
		}
		want(t, e.do(e.as("pa"), "POST", base, map[string]string{"severity": "critical"}), 200, "add severity")
		wantErr(t, e.do(e.as("pa"), "POST", base, map[string]string{"severity": "low"}), 409, "already", "add existing")
	})
}

// TestProjectPermissions checks every role against every project endpoint
// on a private and a public project, by the HTTP answer.
func TestProjectPermissions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		// Make every role a member of pub as well.
		for name, role := range roles {
			if _, err := e.db.Q().AddMember(e.ctx, meta.Member{ProjectID: e.pub.ID, EntityType: meta.MemberUser,
				EntityID: e.users[name].ID, RoleID: role}); err != nil {
				t.Fatal(err)
			}
		}
		type call struct {
			name, method, path string
			body               any
		}
		calls := func(p string) []call {
			return []call{
				{"read project", "GET", "/projects/" + p, nil},
				{"summary", "GET", "/projects/" + p + "/summary", nil},
				{"update project", "PUT", "/projects/" + p, map[string]any{}},
				{"deletable", "GET", "/projects/" + p + "/_deletable", nil},
				{"read metadata", "GET", "/projects/" + p + "/metadatas", nil},
				{"add metadata", "POST", "/projects/" + p + "/metadatas", map[string]string{"public": strconv.FormatBool(p == "pub")}},
				{"list members", "GET", "/projects/" + p + "/members", nil},
				{"add member", "POST", "/projects/" + p + "/members", map[string]any{"role_id": 9, "member_user": map[string]any{"username": "nobody"}}},
				{"read logs", "GET", "/projects/" + p + "/logs", nil},
			}
		}
		// allowed lists, per caller, the calls it may make in a private
		// project; "bad" calls (400) are allowed calls with a bad body.
		readers := []string{"read project", "summary"}
		allowed := map[string][]string{
			"admin":      {"read project", "summary", "update project", "deletable", "read metadata", "add metadata", "list members", "add member", "read logs"},
			"pa":         {"read project", "summary", "update project", "deletable", "read metadata", "add metadata", "list members", "add member", "read logs"},
			"maintainer": {"read project", "summary", "read metadata", "list members"},
			"developer":  {"read project", "summary", "list members"},
			"guest":      {"read project", "summary", "list members"},
			"limited":    readers,
			"outsider":   {},
			"anonymous":  {},
		}
		// In a public project everyone may also read the project.
		publicExtra := readers
		for _, project := range []string{"priv", "pub"} {
			for caller, ok := range allowed {
				if project == "pub" && (caller == "outsider" || caller == "anonymous") {
					ok = publicExtra
				}
				for _, c := range calls(project) {
					r := e.do(e.as(caller), c.method, c.path, c.body)
					var wantStatus int
					switch {
					case slices.Contains(ok, c.name) && c.name == "add member":
						wantStatus = http.StatusBadRequest // the role is invalid: checked after the permission
					case slices.Contains(ok, c.name):
						wantStatus = http.StatusOK
					case caller == "anonymous":
						wantStatus = http.StatusUnauthorized
					default:
						wantStatus = http.StatusForbidden
					}
					if r.status != wantStatus {
						t.Errorf("%s, %s in %s: got %s, want %d", caller, c.name, project, r, wantStatus)
					}
				}
			}
		}
	})
}
