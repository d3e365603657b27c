package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/meta"
)

// userBody is Harbor's UserResp as the tests read it.
type userBody struct {
	UserID          int64     `json:"user_id"`
	Username        string    `json:"username"`
	Email           string    `json:"email"`
	Realname        string    `json:"realname"`
	Comment         string    `json:"comment"`
	SysadminFlag    bool      `json:"sysadmin_flag"`
	AdminRoleInAuth bool      `json:"admin_role_in_auth"`
	CreationTime    time.Time `json:"creation_time"`
	UpdateTime      time.Time `json:"update_time"`
}

func newUser(name string) map[string]any {
	return map[string]any{"username": name, "email": name + "@example.org", "realname": "Real " + name,
		"password": "Good1password", "comment": "made by a test"}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestUserCreate(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		cases := []struct {
			name   string
			caller string
			body   any
			status int
			msg    string // part of the error message
		}{
			{"admin creates", "admin", newUser("carol"), 201, ""},
			{"anonymous, self-registration off", "anonymous", newUser("dave"), 401, "self-registration"},
			{"not an admin", "pa", newUser("erin"), 403, "create users"},
			{"empty username", "admin", newUser(""), 400, "empty"},
			{"comma", "admin", newUser("a,b"), 400, "illegal characters"},
			{"tilde", "admin", newUser("a~b"), 400, "illegal characters"},
			{"hash", "admin", newUser("a#b"), 400, "illegal characters"},
			{"dollar", "admin", newUser("a$b"), 400, "illegal characters"},
			{"percent", "admin", newUser("a%b"), 400, "illegal characters"},
			{"control character", "admin", newUser("a\x01b"), 400, "illegal characters"},
			{"robot prefix", "admin", with(newUser("x"), "username", "robot$ci"), 400, "robot prefix"},
			{"too long", "admin", newUser(strings.Repeat("u", 256)), 400, "longer than 255"},
			{"255 is fine", "admin", with(newUser(strings.Repeat("u", 255)), "email", "", "realname", "long"), 201, ""},
			{"bad email", "admin", with(newUser("frank"), "email", "not-an-email"), 400, "email"},
			{"email with name", "admin", with(newUser("frank"), "email", "Frank <f@example.org>"), 400, "email"},
			{"no email is fine", "admin", with(newUser("gina"), "email", ""), 201, ""},
			{"short password", "admin", with(newUser("hank"), "password", "Ab1"), 400, "8 to 128"},
			{"password without digit", "admin", with(newUser("hank"), "password", "Abcdefghij"), 400, "digit"},
			{"no password", "admin", with(newUser("hank"), "password", ""), 400, "password"},
			{"realname with illegal char", "admin", with(newUser("hank"), "realname", "a#b"), 400, "real name"},
			{"duplicate username", "admin", newUser("pa"), 409, "already exists"},
			{"duplicate in other case", "admin", newUser("PA"), 409, "already exists"},
			{"duplicate email", "admin", with(newUser("ivan"), "email", "developer@example.com"), 409, "email"},
			{"unknown field", "admin", with(newUser("judy"), "sysadmin_flag", true), 400, "unknown field"},
			{"malformed JSON", "admin", `{"username":`, 400, "JSON"},
			{"empty body", "admin", "", 400, "empty"},
			{"wrong type", "admin", with(newUser("kim"), "username", 5), 400, "JSON"},
		}
		for _, c := range cases {
			r := e.do(e.as(c.caller), "POST", "/users", c.body)
			if c.status != 201 {
				wantErr(t, r, c.status, c.msg, c.name)
				continue
			}
			want(t, r, 201, c.name)
			name := c.body.(map[string]any)["username"].(string)
			u, err := e.db.Q().GetUserByName(e.ctx, name)
			if err != nil {
				t.Fatalf("%s: user not stored: %v", c.name, err)
			}
			if got, w := r.header.Get("Location"), "/api/v2.0/users/"+id(u.ID); got != w {
				t.Errorf("%s: Location = %q, want %q", c.name, got, w)
			}
			if u.SysAdmin || !access.VerifySecret(u.PasswordHash, "Good1password") {
				t.Errorf("%s: stored user %+v: not a plain user with the password", c.name, u)
			}
			if n := e.audits("user", "create", name); n != 1 {
				t.Errorf("%s: %d audit rows, want 1", c.name, n)
			}
		}
		// Failed attempts changed nothing.
		if n := e.count(`SELECT count(*) FROM users`); n != 7+3 {
			t.Errorf("%d users, want 10", n)
		}

		// Self-registration, when turned on, lets anonymous callers
		// create a plain account for themselves.
		if err := e.acc.SetSelfRegistration(e.ctx, true); err != nil {
			t.Fatal(err)
		}
		want(t, e.do(anon, "POST", "/users", newUser("selfmade")), 201, "self-registration")
		r := e.do(cred{"selfmade", "Good1password"}, "GET", "/users/current", nil)
		want(t, r, 200, "self-registered user logs in")
		var u userBody
		decodeInto(t, r, &u)
		if u.SysadminFlag {
			t.Error("a self-registered user is an administrator")
		}
		if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource = 'selfmade' AND username = 'selfmade'`); n != 1 {
			t.Errorf("self-registration audited %d times as the user itself, want 1", n)
		}
		wantErr(t, e.do(anon, "POST", "/users", with(newUser("selfadmin"), "sysadmin_flag", true)), 400, "unknown field", "self-registration cannot ask for admin")
	})
}

func TestUserList(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		r := e.do(e.as("admin"), "GET", "/users?page_size=3", nil)
		want(t, r, 200, "list")
		if got := r.header.Get("X-Total-Count"); got != "7" {
			t.Errorf("X-Total-Count = %q, want 7", got)
		}
		if got, w := r.header.Get("Link"), `</api/v2.0/users?page=2&page_size=3>; rel="next"`; got != w {
			t.Errorf("Link = %q, want %q", got, w)
		}
		var page []userBody
		decodeInto(t, r, &page)
		var names []string
		for _, u := range page {
			names = append(names, u.Username)
		}
		if diff := cmp.Diff([]string{"admin", "developer", "guest"}, names); diff != "" {
			t.Errorf("first page (-want +got):\n%s", diff)
		}
		if strings.Contains(string(r.body), "password") || strings.Contains(string(r.body), "pbkdf2") {
			t.Errorf("the listing shows password material: %s", r.body)
		}

		r = e.do(e.as("admin"), "GET", "/users?page=3&page_size=3", nil)
		want(t, r, 200, "last page")
		if got, w := r.header.Get("Link"), `</api/v2.0/users?page=2&page_size=3>; rel="prev"`; got != w {
			t.Errorf("Link = %q, want %q", got, w)
		}

		cases := []struct {
			query string
			names []string
		}{
			{"q=" + qesc("username=~dev"), []string{"developer"}},
			{"q=" + qesc("username=PA"), []string{"pa"}},
			{"q=" + qesc("email=~example.com") + "&sort=-username&page_size=2", []string{"pa", "outsider"}},
			{"q=" + qesc("username={guest limited}"), []string{"guest", "limited"}},
		}
		for _, c := range cases {
			r := e.do(e.as("admin"), "GET", "/users?"+c.query, nil)
			want(t, r, 200, c.query)
			var got []userBody
			decodeInto(t, r, &got)
			var names []string
			for _, u := range got {
				names = append(names, u.Username)
			}
			if diff := cmp.Diff(c.names, names); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.query, diff)
			}
		}

		for _, c := range []struct {
			caller, query string
			status        int
		}{
			{"pa", "", 403},
			{"anonymous", "", 401},
			{"admin", "page=0", 400},
			{"admin", "page_size=101", 400},
			{"admin", "page=x", 400},
			{"admin", "q=" + qesc("password=x"), 400},
			{"admin", "q=username", 400},
			{"admin", "sort=password", 400},
		} {
			wantErr(t, e.do(e.as(c.caller), "GET", "/users?"+c.query, nil), c.status, "", c.caller+" "+c.query)
		}
	})
}

func TestUserCurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		r := e.do(e.as("developer"), "GET", "/users/current", nil)
		want(t, r, 200, "current")
		var u userBody
		decodeInto(t, r, &u)
		dev := e.users["developer"]
		wantUser := userBody{UserID: dev.ID, Username: "developer", Email: "developer@example.com",
			Realname: "The developer", CreationTime: dev.CreatedAt, UpdateTime: dev.UpdatedAt}
		if diff := cmp.Diff(wantUser, u); diff != "" {
			t.Errorf("current user (-want +got):\n%s", diff)
		}
		r = e.do(e.as("admin"), "GET", "/users/current", nil)
		want(t, r, 200, "admin")
		decodeInto(t, r, &u)
		if !u.SysadminFlag || u.UserID != 1 {
			t.Errorf("admin: %+v", u)
		}
		wantErr(t, e.do(anon, "GET", "/users/current", nil), 401, "authentication required", "anonymous")
		wantErr(t, e.do(cred{"developer", "Wrong1password"}, "GET", "/users/current", nil), 401, "invalid username or password", "bad password")

		// A disabled account does not authenticate.
		dis := e.users["limited"]
		dis.Disabled = true
		if err := e.db.Q().UpdateUser(e.ctx, dis); err != nil {
			t.Fatal(err)
		}
		wantErr(t, e.do(e.as("limited"), "GET", "/users/current", nil), 401, "invalid username or password", "disabled")

		// Robots have no user profile: 412, which harbor-cli expects.
		robot := e.robot("ci", `[{"kind":"project","namespace":"priv","access":[{"resource":"repository","action":"pull"}]}]`)
		wantErr(t, e.do(robot, "GET", "/users/current", nil), 412, "robot", "robot")
	})
}

// robot creates a system robot with permissions (JSON) in the store and
// returns its credentials.
func (e *apiEnv) robot(name, permissions string) cred {
	e.t.Helper()
	const secret = "Robot1secret"
	hash, err := access.HashSecret(secret)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = e.db.Q().CreateRobot(e.ctx, meta.Robot{Name: name, Level: meta.RobotSystem, SecretHash: hash,
		Duration: -1, ExpiresAt: -1, Permissions: []byte(permissions), CreatorType: "local", CreatorRef: 1})
	if err != nil {
		e.t.Fatalf("create robot %s: %v", name, err)
	}
	return cred{e.acc.RobotPrefix() + name, secret}
}

type permBody struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
}

func TestUserPermissions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		perms := func(c cred, query string) []permBody {
			t.Helper()
			r := e.do(c, "GET", "/users/current/permissions?"+query, nil)
			want(t, r, 200, query)
			var out []permBody
			decodeInto(t, r, &out)
			return out
		}
		has := func(ps []permBody, res, act string) bool {
			for _, p := range ps {
				if p.Resource == res && p.Action == act {
					return true
				}
			}
			return false
		}
		priv, pub := "/project/"+id(e.priv.ID), "/project/"+id(e.pub.ID)
		cases := []struct {
			caller, query, res, act string
			has                     bool
		}{
			{"developer", "scope=" + priv + "&relative=true", "repository", "push", true},
			{"developer", "scope=" + priv + "&relative=true", "repository", "delete", false},
			{"developer", "scope=" + priv + "&relative=true", ".", "read", true},
			{"developer", "scope=" + priv + "&relative=true", "member", "create", false},
			{"developer", "scope=" + priv, priv + "/repository", "push", true},
			{"developer", "scope=" + priv, priv, "read", true},
			{"pa", "scope=" + priv + "&relative=true", "member", "create", true},
			{"pa", "scope=" + priv + "&relative=true", "log", "list", true},
			{"maintainer", "scope=" + priv + "&relative=true", "log", "list", false},
			{"limited", "scope=" + priv + "&relative=true", "member", "list", false},
			{"limited", "scope=" + priv + "&relative=true", "repository", "pull", true},
			{"outsider", "scope=" + priv + "&relative=true", "repository", "pull", false},
			{"outsider", "scope=" + pub + "&relative=true", "repository", "pull", true},
			{"outsider", "scope=" + pub + "&relative=true", "repository", "push", false},
			{"admin", "scope=" + priv + "&relative=true", "member", "delete", true},
			{"admin", "scope=/system&relative=true", "user", "create", true},
			{"admin", "scope=/system", "/system/user", "create", true},
			{"developer", "scope=/system&relative=true", "project", "create", true},
			{"developer", "scope=/system&relative=true", "user", "create", false},
		}
		for _, c := range cases {
			if got := has(perms(e.as(c.caller), c.query), c.res, c.act); got != c.has {
				t.Errorf("%s %s: has %s:%s = %v, want %v", c.caller, c.query, c.res, c.act, got, c.has)
			}
		}
		// The whole list of a role is the matrix's.
		got := perms(e.as("guest"), "scope="+priv+"&relative=true")
		var wantPerms []permBody
		for _, p := range access.RolePerms(access.RoleGuest) {
			res := p.Resource
			if res == "" {
				res = "."
			}
			wantPerms = append(wantPerms, permBody{res, p.Action})
		}
		if diff := cmp.Diff(wantPerms, got); diff != "" {
			t.Errorf("guest permissions (-matrix +got):\n%s", diff)
		}
		if got := perms(e.as("outsider"), "scope="+priv); len(got) != 0 {
			t.Errorf("outsider holds %v in a private project", got)
		}
		if got := perms(e.as("pa"), "scope=/project/999999"); len(got) != 0 {
			t.Errorf("permissions in a missing project: %v", got)
		}
		wantErr(t, e.do(anon, "GET", "/users/current/permissions?scope="+pub, nil), 401, "", "anonymous")
		wantErr(t, e.do(e.as("pa"), "GET", "/users/current/permissions?scope=/repository/1", nil), 400, "scope", "bad scope")
		wantErr(t, e.do(e.as("pa"), "GET", "/users/current/permissions?scope=/project/x", nil), 400, "scope", "bad project id")
		wantErr(t, e.do(e.as("pa"), "GET", "/users/current/permissions?relative=maybe", nil), 400, "relative", "bad relative")
	})
}

func TestUserSearch(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		r := e.do(e.as("limited"), "GET", "/users/search?username=e", nil)
		want(t, r, 200, "search")
		var got []map[string]any
		decodeInto(t, r, &got)
		var names []string
		for _, u := range got {
			if len(u) != 2 {
				t.Errorf("search result %v has more than user_id and username", u)
			}
			names = append(names, u["username"].(string))
		}
		if diff := cmp.Diff([]string{"developer", "guest", "limited", "maintainer", "outsider"}, names); diff != "" {
			t.Errorf("search (-want +got):\n%s", diff)
		}
		if r.header.Get("X-Total-Count") != "5" {
			t.Errorf("X-Total-Count = %q", r.header.Get("X-Total-Count"))
		}
		r = e.do(e.as("limited"), "GET", "/users/search?username=e&page_size=1&page=2", nil)
		want(t, r, 200, "page")
		if !strings.Contains(r.header.Get("Link"), `rel="prev"`) || !strings.Contains(r.header.Get("Link"), `rel="next"`) {
			t.Errorf("Link = %q", r.header.Get("Link"))
		}
		wantErr(t, e.do(anon, "GET", "/users/search?username=a", nil), 401, "", "anonymous")
		wantErr(t, e.do(e.as("pa"), "GET", "/users/search", nil), 400, "username", "no username")
	})
}

func TestUserGetUpdateDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		dev, guest := id(e.users["developer"].ID), id(e.users["guest"].ID)
		for _, c := range []struct {
			caller, method, path string
			body                 any
			status               int
		}{
			{"developer", "GET", "/users/" + dev, nil, 200},
			{"admin", "GET", "/users/" + dev, nil, 200},
			{"guest", "GET", "/users/" + dev, nil, 403},
			{"anonymous", "GET", "/users/" + dev, nil, 401},
			{"guest", "GET", "/users/999999", nil, 403}, // no hint whether it exists
			{"admin", "GET", "/users/999999", nil, 404},
			{"admin", "GET", "/users/abc", nil, 400},
			{"admin", "GET", "/users/0", nil, 400},
			{"admin", "GET", "/users/-3", nil, 400},
			{"guest", "PUT", "/users/" + dev, map[string]any{"comment": "x"}, 403},
			{"anonymous", "PUT", "/users/" + dev, map[string]any{"comment": "x"}, 401},
			{"developer", "PUT", "/users/" + dev, map[string]any{"email": "bad"}, 400},
			{"developer", "PUT", "/users/" + dev, map[string]any{"username": "renamed"}, 400},
			{"developer", "PUT", "/users/" + dev, map[string]any{"email": "guest@example.com"}, 409},
			{"admin", "PUT", "/users/999999", map[string]any{"comment": "x"}, 404},
			{"admin", "PUT", "/users/x", map[string]any{"comment": "x"}, 400},
			{"developer", "DELETE", "/users/" + guest, nil, 403},
			{"anonymous", "DELETE", "/users/" + guest, nil, 401},
			{"admin", "DELETE", "/users/1", nil, 403},
			{"admin", "DELETE", "/users/999999", nil, 404},
			{"admin", "DELETE", "/users/x", nil, 400},
		} {
			r := e.do(e.as(c.caller), c.method, c.path, c.body)
			if c.status == 200 {
				want(t, r, 200, c.caller+" "+c.method+" "+c.path)
			} else {
				wantErr(t, r, c.status, "", c.caller+" "+c.method+" "+c.path)
			}
		}

		// Users change their own profile; fields left out stay.
		want(t, e.do(e.as("developer"), "PUT", "/users/"+dev, map[string]any{"email": "dev@example.net", "comment": "hi"}), 200, "self update")
		u, err := e.db.Q().GetUser(e.ctx, e.users["developer"].ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "dev@example.net" || u.Comment != "hi" || u.Realname != "The developer" {
			t.Errorf("after update: %+v", u)
		}
		if e.audits("user", "update", "developer") != 1 {
			t.Error("profile update not audited")
		}
		// Administrators change anyone's.
		want(t, e.do(e.as("admin"), "PUT", "/users/"+dev, map[string]any{"realname": "Dev Eloper"}), 200, "admin update")
		r := e.do(e.as("developer"), "GET", "/users/"+dev, nil)
		want(t, r, 200, "get")
		var got userBody
		decodeInto(t, r, &got)
		if got.Realname != "Dev Eloper" || got.Email != "dev@example.net" {
			t.Errorf("after admin update: %+v", got)
		}

		// An administrator deletes a user, its memberships and sessions.
		second := e.makeAdmin("second")
		if err := e.db.Q().CreateSession(e.ctx, meta.Session{TokenHash: "h", UserID: e.users["guest"].ID, CSRFToken: "c",
			ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		want(t, e.do(e.as("admin"), "DELETE", "/users/"+guest, nil), 200, "delete")
		for _, c := range []struct{ what, query string }{
			{"user", `SELECT count(*) FROM users WHERE id = ?`},
			{"memberships", `SELECT count(*) FROM project_members WHERE entity_type = 'u' AND entity_id = ?`},
			{"sessions", `SELECT count(*) FROM sessions WHERE user_id = ?`},
		} {
			if n := e.count(c.query, e.users["guest"].ID); n != 0 {
				t.Errorf("%d %s left after deleting the user", n, c.what)
			}
		}
		if e.audits("user", "delete", "guest") != 1 {
			t.Error("deletion not audited")
		}
		want(t, e.do(e.as("admin"), "DELETE", "/users/"+guest, nil), 404, "delete again")
		// Nobody deletes itself, and user 1 stays.
		wantErr(t, e.do(second, "DELETE", "/users/"+id(e.users["second"].ID), nil), 403, "your own", "delete self")
		wantErr(t, e.do(second, "DELETE", "/users/1", nil), 403, "first administrator", "delete user 1")
	})
}

// makeAdmin creates a system administrator called name.
func (e *apiEnv) makeAdmin(name string) cred {
	e.t.Helper()
	hash, err := access.HashSecret(userPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.db.Q().CreateUser(e.ctx, meta.User{Username: name, PasswordHash: hash, SysAdmin: true})
	if err != nil {
		e.t.Fatal(err)
	}
	e.users[name] = u
	return cred{name, userPassword}
}

func TestUserSysAdmin(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		dev := id(e.users["developer"].ID)
		path := "/users/" + dev + "/sysadmin"
		wantErr(t, e.do(e.as("developer"), "GET", "/users", nil), 403, "", "before")
		wantErr(t, e.do(e.as("pa"), "PUT", path, map[string]any{"sysadmin_flag": true}), 403, "", "not an admin")
		wantErr(t, e.do(e.as("developer"), "PUT", path, map[string]any{"sysadmin_flag": true}), 403, "", "self-promotion")
		wantErr(t, e.do(anon, "PUT", path, map[string]any{"sysadmin_flag": true}), 401, "", "anonymous")
		wantErr(t, e.do(e.as("admin"), "PUT", path, map[string]any{}), 400, "sysadmin_flag", "no flag")
		wantErr(t, e.do(e.as("admin"), "PUT", path, map[string]any{"sysadmin_flag": "yes"}), 400, "", "bad flag")
		wantErr(t, e.do(e.as("admin"), "PUT", "/users/999999/sysadmin", map[string]any{"sysadmin_flag": true}), 404, "", "missing")

		want(t, e.do(e.as("admin"), "PUT", path, map[string]any{"sysadmin_flag": true}), 200, "grant")
		want(t, e.do(e.as("developer"), "GET", "/users", nil), 200, "now an admin")
		if e.audits("user", "update", "developer") != 1 {
			t.Error("grant not audited")
		}
		// The new admin cannot demote user 1, nor itself.
		wantErr(t, e.do(e.as("developer"), "PUT", "/users/1/sysadmin", map[string]any{"sysadmin_flag": false}), 403, "first administrator", "demote user 1")
		wantErr(t, e.do(e.as("developer"), "PUT", path, map[string]any{"sysadmin_flag": false}), 403, "your own", "demote self")
		want(t, e.do(e.as("admin"), "PUT", path, map[string]any{"sysadmin_flag": false}), 200, "revoke")
		wantErr(t, e.do(e.as("developer"), "GET", "/users", nil), 403, "", "after")
	})
}

func TestUserPassword(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		dev := e.users["developer"]
		path := "/users/" + id(dev.ID) + "/password"
		pw := func(old, new string) map[string]any {
			return map[string]any{"old_password": old, "new_password": new}
		}
		for _, c := range []struct {
			name   string
			caller cred
			path   string
			body   any
			status int
			msg    string
		}{
			{"wrong old password", e.as("developer"), path, pw("Wrong1password", "Newpass123"), 403, "current password"},
			{"no old password", e.as("developer"), path, pw("", "Newpass123"), 403, "current password"},
			{"weak new password", e.as("developer"), path, pw(userPassword, "short"), 400, "8 to 128"},
			{"no upper case", e.as("developer"), path, pw(userPassword, "newpass123"), 400, "upper-case"},
			{"same as the old", e.as("developer"), path, pw(userPassword, userPassword), 400, "same"},
			{"someone else's", e.as("pa"), path, pw(userPassword, "Newpass123"), 403, ""},
			{"anonymous", anon, path, pw(userPassword, "Newpass123"), 401, ""},
			{"unknown field", e.as("developer"), path, map[string]any{"password": "Newpass123"}, 400, "unknown field"},
			{"bad id", e.as("admin"), "/users/x/password", pw("", "Newpass123"), 400, "user_id"},
			{"missing user", e.as("admin"), "/users/999999/password", pw("", "Newpass123"), 404, ""},
		} {
			wantErr(t, e.do(c.caller, "PUT", c.path, c.body), c.status, c.msg, c.name)
		}

		// A UI session of the developer, to see it end.
		login := e.do(anon, "POST", "/c/login", map[string]string{"principal": "developer", "password": userPassword})
		want(t, login, 200, "login")
		if n := e.count(`SELECT count(*) FROM sessions WHERE user_id = ?`, dev.ID); n != 1 {
			t.Fatalf("%d sessions after login", n)
		}

		want(t, e.do(e.as("developer"), "PUT", path, pw(userPassword, "Newpass123")), 200, "change own")
		wantErr(t, e.do(e.as("developer"), "GET", "/users/current", nil), 401, "", "old password after change")
		want(t, e.do(cred{"developer", "Newpass123"}, "GET", "/users/current", nil), 200, "new password")
		if n := e.count(`SELECT count(*) FROM sessions WHERE user_id = ?`, dev.ID); n != 0 {
			t.Errorf("%d sessions survived the password change", n)
		}
		var detail string
		if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource = 'developer' AND operation = 'update' AND detail = 'password changed'`); n != 1 {
			t.Errorf("password change audited %d times %s", n, detail)
		}
		if strings.Contains(e.auditText(), "Newpass123") {
			t.Error("the audit log holds the password")
		}

		// An administrator resets someone else's password without the old one.
		want(t, e.do(e.as("admin"), "PUT", path, pw("", "Reset1234")), 200, "admin reset")
		want(t, e.do(cred{"developer", "Reset1234"}, "GET", "/users/current", nil), 200, "reset password")
		// But an administrator changing its own needs the old one.
		wantErr(t, e.do(e.as("admin"), "PUT", "/users/1/password", pw("", "Admin99999")), 403, "current password", "admin self")
		want(t, e.do(e.as("admin"), "PUT", "/users/1/password", pw(adminPassword, "Admin99999")), 200, "admin self with old")
	})
}

// auditText is every audit row's text, to look for leaked secrets.
func (e *apiEnv) auditText() string {
	e.t.Helper()
	rows, _, err := e.db.Q().ListAudit(e.ctx, meta.ListOptions{PageSize: 100}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

func TestUserBadInput(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		admin := e.as("admin")
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/users", `[]`},
			{"POST", "/users", `{"username":"a"} trailing`},
			{"POST", "/users", strings.Repeat(" ", 2<<20)},
			{"PUT", "/users/2", `{"email": 5}`},
			{"PUT", "/users/2/sysadmin", `null`},
			{"PUT", "/users/2/password", `{"new_password": ["x"]}`},
			{"PUT", "/users/99999999999999999999", `{}`},
		} {
			r := e.do(admin, c.method, c.path, c.body)
			if r.status != http.StatusBadRequest && r.status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s %.40q: got %s, want 400", c.method, c.path, c.body, r)
			}
		}
	})
}
