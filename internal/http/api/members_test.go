package api_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/access"
)

// memberBody is Harbor's ProjectMemberEntity as the tests read it.
type memberBody struct {
	ID         int64  `json:"id"`
	ProjectID  int64  `json:"project_id"`
	EntityName string `json:"entity_name"`
	EntityType string `json:"entity_type"`
	EntityID   int64  `json:"entity_id"`
	RoleID     int    `json:"role_id"`
	RoleName   string `json:"role_name"`
}

func addBody(role int, user map[string]any) map[string]any {
	return map[string]any{"role_id": role, "member_user": user}
}

func TestMemberList(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		list := func(c cred, query string) (apiResp, []memberBody) {
			t.Helper()
			r := e.do(c, "GET", "/projects/priv/members?"+query, nil)
			want(t, r, 200, "members "+query)
			var out []memberBody
			decodeInto(t, r, &out)
			return r, out
		}
		r, got := list(e.as("guest"), "")
		if r.header.Get("X-Total-Count") != "5" || len(got) != 5 {
			t.Fatalf("X-Total-Count %q, %d members", r.header.Get("X-Total-Count"), len(got))
		}
		dev := e.users["developer"]
		wantDev := memberBody{ID: e.memberID(e.priv, "developer"), ProjectID: e.priv.ID, EntityName: "developer",
			EntityType: "u", EntityID: dev.ID, RoleID: access.RoleDeveloper, RoleName: "developer"}
		if diff := cmp.Diff(wantDev, got[0]); diff != "" {
			t.Errorf("first member (-want +got):\n%s", diff)
		}
		var names, roleNames []string
		for _, m := range got {
			names = append(names, m.EntityName)
			roleNames = append(roleNames, m.RoleName)
		}
		if diff := cmp.Diff([]string{"developer", "guest", "limited", "maintainer", "pa"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"developer", "guest", "limitedGuest", "maintainer", "projectAdmin"}, roleNames); diff != "" {
			t.Errorf("role names (-want +got):\n%s", diff)
		}
		if _, got := list(e.as("pa"), "entityname=MAIN"); len(got) != 1 || got[0].EntityName != "maintainer" {
			t.Errorf("entityname=MAIN: %v", got)
		}
		r, got = list(e.as("pa"), "page=2&page_size=2")
		if len(got) != 2 || got[0].EntityName != "limited" || !strings.Contains(r.header.Get("Link"), `rel="next"`) {
			t.Errorf("page 2: %v, Link %q", got, r.header.Get("Link"))
		}
		if _, got := list(e.as("admin"), "q="+qesc("role_id=1")); len(got) != 1 || got[0].EntityName != "pa" {
			t.Errorf("q role_id=1: %v", got)
		}
		for _, c := range []struct {
			caller, path string
			status       int
		}{
			{"limited", "/projects/priv/members", 403},
			{"outsider", "/projects/priv/members", 403},
			{"anonymous", "/projects/priv/members", 401},
			{"anonymous", "/projects/pub/members", 401}, // public projects do not show members
			{"outsider", "/projects/pub/members", 403},
			{"outsider", "/projects/missing/members", 403},
			{"admin", "/projects/missing/members", 404},
			{"pa", "/projects/priv/members?page_size=1000", 400},
			{"pa", "/projects/priv/members?q=" + qesc("password=x"), 400},
		} {
			wantErr(t, e.do(e.as(c.caller), "GET", c.path, nil), c.status, "", c.caller+" "+c.path)
		}
	})
}

func TestMemberAdd(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		out := e.users["outsider"]
		r := e.do(e.as("pa"), "POST", "/projects/priv/members", addBody(access.RoleDeveloper, map[string]any{"username": "outsider"}))
		want(t, r, 201, "add by name")
		mid := e.memberID(e.priv, "outsider")
		if got, w := r.header.Get("Location"), "/api/v2.0/projects/priv/members/"+id(mid); got != w {
			t.Errorf("Location = %q, want %q", got, w)
		}
		if role, err := e.db.Q().MemberRole(e.ctx, e.priv.ID, out.ID); err != nil || role != access.RoleDeveloper {
			t.Errorf("stored role %d (%v)", role, err)
		}
		if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource_type = 'member' AND operation = 'create'
			AND resource = 'outsider' AND project_id = ? AND username = 'pa'`, e.priv.ID); n != 1 {
			t.Errorf("%d audit rows for the addition", n)
		}
		// Now the outsider sees the project.
		want(t, e.do(e.as("outsider"), "GET", "/projects/priv", nil), 200, "member reads")

		// By id, into the public project, by the admin, with the id in the path.
		r = e.do(e.as("admin"), "POST", "/projects/"+id(e.pub.ID)+"/members", addBody(access.RoleLimitedGuest, map[string]any{"user_id": out.ID}))
		want(t, r, 201, "add by id")
		if got, w := r.header.Get("Location"), "/api/v2.0/projects/"+id(e.pub.ID)+"/members/"+id(e.memberID(e.pub, "outsider")); got != w {
			t.Errorf("Location = %q, want %q", got, w)
		}

		before := e.count(`SELECT count(*) FROM project_members`)
		for _, c := range []struct {
			name, caller string
			body         any
			status       int
			msg          string
		}{
			{"duplicate", "pa", addBody(access.RoleGuest, map[string]any{"username": "developer"}), 409, "already a member"},
			{"role 0", "pa", addBody(0, map[string]any{"username": "admin"}), 400, "role_id"},
			{"role 6", "pa", addBody(6, map[string]any{"username": "admin"}), 400, "role_id"},
			{"no role", "pa", map[string]any{"member_user": map[string]any{"username": "admin"}}, 400, "role_id"},
			{"unknown user", "pa", addBody(2, map[string]any{"username": "nobody"}), 400, "does not exist"},
			{"unknown user id", "pa", addBody(2, map[string]any{"user_id": 999999}), 400, "does not exist"},
			{"no user", "pa", addBody(2, map[string]any{}), 400, "user_id or a username"},
			{"nobody", "pa", map[string]any{"role_id": 2}, 400, "user_id or a username"},
			{"group", "pa", map[string]any{"role_id": 2, "member_group": map[string]any{"group_name": "devs", "group_type": 1}}, 400, "does not match the auth mode db_auth"},
			{"unknown field", "pa", map[string]any{"role_id": 2, "member_user": map[string]any{"username": "admin"}, "extra": 1}, 400, "unknown field"},
			{"unknown user field", "pa", addBody(2, map[string]any{"name": "admin"}), 400, "unknown field"},
			{"maintainer", "maintainer", addBody(2, map[string]any{"username": "admin"}), 403, "not allowed"},
			{"developer", "developer", addBody(2, map[string]any{"username": "admin"}), 403, "not allowed"},
			{"anonymous", "anonymous", addBody(2, map[string]any{"username": "admin"}), 401, ""},
		} {
			wantErr(t, e.do(e.as(c.caller), "POST", "/projects/priv/members", c.body), c.status, c.msg, c.name)
		}
		if n := e.count(`SELECT count(*) FROM project_members`); n != before {
			t.Errorf("refused additions changed the members: %d, was %d", n, before)
		}
	})
}

func TestMemberGetUpdateDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		dev := id(e.memberID(e.priv, "developer"))
		paID := id(e.memberID(e.priv, "pa"))
		pubAdmin := id(e.memberID(e.pub, "admin"))
		base := "/projects/priv/members/"

		r := e.do(e.as("guest"), "GET", base+dev, nil)
		want(t, r, 200, "get")
		var m memberBody
		decodeInto(t, r, &m)
		if m.EntityName != "developer" || m.RoleID != access.RoleDeveloper || m.RoleName != "developer" || m.EntityType != "u" {
			t.Errorf("member %+v", m)
		}
		for _, c := range []struct {
			name, caller, method, path string
			body                       any
			status                     int
			msg                        string
		}{
			{"limited reads", "limited", "GET", base + dev, nil, 403, ""},
			{"member of another project", "admin", "GET", base + pubAdmin, nil, 404, ""},
			{"missing member", "pa", "GET", base + "999999", nil, 404, ""},
			{"bad member id", "pa", "GET", base + "x", nil, 400, "mid"},
			{"zero member id", "pa", "GET", base + "0", nil, 400, "mid"},
			{"maintainer updates", "maintainer", "PUT", base + dev, map[string]any{"role_id": 4}, 403, ""},
			{"anonymous updates", "anonymous", "PUT", base + dev, map[string]any{"role_id": 4}, 401, ""},
			{"invalid role", "pa", "PUT", base + dev, map[string]any{"role_id": 7}, 400, "role_id"},
			{"no role", "pa", "PUT", base + dev, map[string]any{}, 400, "role_id"},
			{"unknown field", "pa", "PUT", base + dev, map[string]any{"role_id": 4, "x": 1}, 400, "unknown field"},
			{"update missing", "pa", "PUT", base + "999999", map[string]any{"role_id": 4}, 404, ""},
			{"update elsewhere", "pa", "PUT", "/projects/pub/members/" + pubAdmin, map[string]any{"role_id": 4}, 403, ""},
			{"developer deletes", "developer", "DELETE", base + dev, nil, 403, ""},
			{"delete missing", "pa", "DELETE", base + "999999", nil, 404, ""},
			{"delete bad id", "pa", "DELETE", base + "-1", nil, 400, ""},
			// The last Project Admin neither leaves nor steps down.
			{"last admin steps down", "pa", "PUT", base + paID, map[string]any{"role_id": 2}, 412, "last Project Admin"},
			{"last admin leaves", "pa", "DELETE", base + paID, nil, 412, "last Project Admin"},
		} {
			wantErr(t, e.do(e.as(c.caller), c.method, c.path, c.body), c.status, c.msg, c.name)
		}

		want(t, e.do(e.as("pa"), "PUT", base+dev, map[string]any{"role_id": access.RoleMaintainer}), 200, "promote")
		if role, _ := e.db.Q().MemberRole(e.ctx, e.priv.ID, e.users["developer"].ID); role != access.RoleMaintainer {
			t.Errorf("role after update %d", role)
		}
		want(t, e.do(e.as("developer"), "GET", "/projects/priv/metadatas", nil), 200, "now a maintainer")
		if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource_type = 'member' AND operation = 'update' AND resource = 'developer'`); n != 1 {
			t.Errorf("%d audit rows for the update", n)
		}

		// With a second Project Admin, the first may step down and leave.
		want(t, e.do(e.as("pa"), "PUT", base+dev, map[string]any{"role_id": access.RoleProjectAdmin}), 200, "second admin")
		want(t, e.do(e.as("pa"), "PUT", base+paID, map[string]any{"role_id": access.RoleGuest}), 200, "step down")
		want(t, e.do(e.as("developer"), "DELETE", base+paID, nil), 200, "remove the former admin")
		if n := e.count(`SELECT count(*) FROM project_members WHERE project_id = ? AND entity_id = ?`, e.priv.ID, e.users["pa"].ID); n != 0 {
			t.Error("member not removed")
		}
		if n := e.count(`SELECT count(*) FROM audit_logs WHERE resource_type = 'member' AND operation = 'delete' AND resource = 'pa' AND username = 'developer'`); n != 1 {
			t.Errorf("%d audit rows for the removal", n)
		}
		wantErr(t, e.do(e.as("pa"), "GET", "/projects/priv", nil), 403, "", "removed member")
		// A system administrator may remove the last Project Admin: the
		// project stays manageable by administrators.
		want(t, e.do(e.as("admin"), "DELETE", base+dev, nil), 200, "admin removes the last admin")
	})
}

// TestMemberUserDeleted checks that deleting a user leaves no member row
// behind that the API would show.
func TestMemberUserDeleted(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		want(t, e.do(e.as("admin"), "DELETE", "/users/"+id(e.users["guest"].ID), nil), 200, "delete guest")
		r := e.do(e.as("pa"), "GET", "/projects/priv/members", nil)
		want(t, r, 200, "list")
		var got []memberBody
		decodeInto(t, r, &got)
		for _, m := range got {
			if m.EntityName == "guest" || m.EntityName == "" {
				t.Errorf("deleted user still listed: %+v", m)
			}
		}
	})
}
