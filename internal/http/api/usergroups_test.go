package api_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
)

// oidcMode switches the environment to oidc_auth behind the API's back
// (the API refuses once users exist) and serves a fresh API over it.
func (e *apiEnv) oidcMode() {
	e.t.Helper()
	if err := e.db.Q().PutSetting(e.ctx, "config.auth_mode", []byte("oidc_auth")); err != nil {
		e.t.Fatal(err)
	}
	e.acc, e.srv = e.serve()
}

// TestUserGroups drives Harbor's /usergroups API: who may do what, the
// checks, and groups as project members.
func TestUserGroups(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		// In db_auth there are no groups to create.
		r := e.do(e.as("admin"), "POST", "/usergroups", map[string]any{"group_name": "devs", "group_type": 3})
		wantErr(t, r, 400, "does not match the auth mode", "POST /usergroups in db_auth")
		validateBoth(t, "POST", "/usergroups", r)

		// Who may: administrators manage, anyone signed in searches. (In
		// oidc_auth below, local users other than the admin cannot sign in.)
		wantErr(t, e.do(e.as("pa"), "POST", "/usergroups", map[string]any{"group_name": "x", "group_type": 3}), 403, "not allowed", "create as pa")
		wantErr(t, e.do(e.as("anonymous"), "POST", "/usergroups", map[string]any{"group_name": "x", "group_type": 3}), 401, "", "create as anonymous")
		wantErr(t, e.do(e.as("developer"), "GET", "/usergroups", nil), 403, "not allowed", "list as developer")
		wantErr(t, e.do(e.as("pa"), "GET", "/usergroups/1", nil), 403, "not allowed", "get as pa")
		wantErr(t, e.do(e.as("pa"), "PUT", "/usergroups/1", map[string]any{"group_name": "y"}), 403, "not allowed", "rename as pa")
		wantErr(t, e.do(e.as("pa"), "DELETE", "/usergroups/1", nil), 403, "not allowed", "delete as pa")
		r = e.do(e.as("developer"), "GET", "/usergroups/search?groupname=o", nil)
		want(t, r, 200, "search as developer")
		validateBoth(t, "GET", "/usergroups/search", r)
		wantErr(t, e.do(e.as("anonymous"), "GET", "/usergroups/search?groupname=o", nil), 401, "", "anonymous search")

		e.oidcMode()
		r = e.do(e.as("admin"), "POST", "/usergroups", map[string]any{"group_name": "devs", "group_type": 3})
		want(t, r, 201, "create devs")
		validateBoth(t, "POST", "/usergroups", r)
		loc := r.header.Get("Location")
		id, err := strconv.ParseInt(loc[strings.LastIndexByte(loc, '/')+1:], 10, 64)
		if err != nil || !strings.HasPrefix(loc, "/api/v2.0/usergroups/") {
			t.Fatalf("Location %q", loc)
		}
		for _, c := range []struct {
			who    string
			body   any
			status int
			msg    string
		}{
			{"admin", map[string]any{"group_name": "devs", "group_type": 3}, 409, "already exists"},
			{"admin", map[string]any{"group_name": "x", "group_type": 1, "ldap_group_dn": "cn=x"}, 400, "does not match the auth mode"},
			{"admin", map[string]any{"group_name": "", "group_type": 3}, 400, "group_name is required"},
			{"admin", map[string]any{"group_name": "x", "group_type": 9}, 400, "group_type"},
			{"admin", map[string]any{"group_name": "x", "group_type": 3, "ldap_group_dn": "cn=x"}, 400, "ldap_group_dn"},
			{"admin", map[string]any{"group_name": "x", "group_type": 3, "extra": 1}, 400, "unknown field"},
		} {
			r := e.do(e.as(c.who), "POST", "/usergroups", c.body)
			wantErr(t, r, c.status, c.msg, "POST /usergroups as "+c.who)
			validateBoth(t, "POST", "/usergroups", r)
		}
		want(t, e.do(e.as("admin"), "POST", "/usergroups", map[string]any{"group_name": "ops", "group_type": 3}), 201, "create ops")

		// Listing (administrators) and search (anyone signed in).
		r = e.do(e.as("admin"), "GET", "/usergroups?group_name=ev", nil)
		want(t, r, 200, "list")
		validateBoth(t, "GET", "/usergroups", r)
		var groups []struct {
			ID        int64  `json:"id"`
			GroupName string `json:"group_name"`
			GroupType int    `json:"group_type"`
		}
		decodeInto(t, r, &groups)
		if len(groups) != 1 || groups[0].GroupName != "devs" || groups[0].ID != id || r.header.Get("X-Total-Count") != "1" {
			t.Fatalf("list: %s", r)
		}
		r = e.do(e.as("admin"), "GET", "/usergroups/search?groupname=o", nil)
		want(t, r, 200, "search")
		validateBoth(t, "GET", "/usergroups/search", r)
		decodeInto(t, r, &groups)
		if len(groups) != 1 || groups[0].GroupName != "ops" {
			t.Fatalf("search: %s", r)
		}
		wantErr(t, e.do(e.as("admin"), "GET", "/usergroups/search", nil), 400, "groupname", "search without a name")

		// One group: read, rename, and the errors.
		path := "/usergroups/" + strconv.FormatInt(id, 10)
		r = e.do(e.as("admin"), "GET", path, nil)
		want(t, r, 200, "get")
		validateBoth(t, "GET", "/usergroups/{group_id}", r)
		wantErr(t, e.do(e.as("admin"), "GET", "/usergroups/99999", nil), 404, "not found", "get unknown")
		wantErr(t, e.do(e.as("admin"), "GET", "/usergroups/x", nil), 400, "", "get bad id")
		r = e.do(e.as("admin"), "PUT", path, map[string]any{"group_name": "developers"})
		want(t, r, 200, "rename")
		validateBoth(t, "PUT", "/usergroups/{group_id}", r)
		wantErr(t, e.do(e.as("admin"), "PUT", path, map[string]any{"group_name": "ops"}), 409, "already exists", "rename onto ops")
		wantErr(t, e.do(e.as("admin"), "PUT", path, map[string]any{"group_name": ""}), 400, "group_name", "empty rename")

		// As a project member, by id or by name (created when new).
		r = e.do(e.as("admin"), "POST", "/projects/priv/members", map[string]any{"role_id": 2, "member_group": map[string]any{"id": id}})
		want(t, r, 201, "add group by id")
		r = e.do(e.as("admin"), "POST", "/projects/priv/members", map[string]any{"role_id": 3,
			"member_group": map[string]any{"group_name": "newcomers", "group_type": 3}})
		want(t, r, 201, "add group by name")
		wantErr(t, e.do(e.as("admin"), "POST", "/projects/priv/members", map[string]any{"role_id": 2, "member_group": map[string]any{"id": id}}),
			409, "already a member", "add twice")
		wantErr(t, e.do(e.as("admin"), "POST", "/projects/priv/members", map[string]any{"role_id": 2, "member_group": map[string]any{"id": 99999}}),
			400, "does not exist", "unknown group")
		r = e.do(e.as("admin"), "GET", "/projects/priv/members?entityname=dev", nil)
		validateBoth(t, "GET", "/projects/{project_name_or_id}/members", r)
		if !strings.Contains(string(r.body), `"entity_name":"developers"`) || !strings.Contains(string(r.body), `"entity_type":"g"`) {
			t.Fatalf("members: %s", r)
		}

		// Delete takes the memberships along.
		r = e.do(e.as("admin"), "DELETE", path, nil)
		want(t, r, 200, "delete")
		validateBoth(t, "DELETE", "/usergroups/{group_id}", r)
		wantErr(t, e.do(e.as("admin"), "DELETE", path, nil), 404, "not found", "delete again")
		if n := e.count(`SELECT count(*) FROM project_members WHERE entity_type = 'g' AND entity_id = ?`, id); n != 0 {
			t.Errorf("memberships of the deleted group: %d", n)
		}
		if n := e.audits("user-group", "create", "devs"); n != 1 {
			t.Errorf("audit records of creating devs: %d", n)
		}
		_ = meta.GroupOIDC
	})
}

// TestCLISecretPreconditions: local users and db_auth have no CLI
// secret (412, as in Harbor); the profile shows none.
func TestCLISecretPreconditions(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		path := "/users/" + strconv.FormatInt(e.users["developer"].ID, 10) + "/cli_secret"
		r := e.do(e.as("developer"), "PUT", path, map[string]any{"secret": ""})
		wantErr(t, r, 412, "oidc_auth", "db_auth")
		validateBoth(t, "PUT", "/users/{user_id}/cli_secret", r)
		e.oidcMode()
		wantErr(t, e.do(e.as("admin"), "PUT", path, map[string]any{"secret": ""}), 412, "not onboarded through OIDC", "local user")
		wantErr(t, e.do(e.as("admin"), "DELETE", path, nil), 412, "not onboarded through OIDC", "revoke for a local user")
		wantErr(t, e.do(e.as("admin"), "PUT", "/users/99999/cli_secret", map[string]any{"secret": ""}), 404, "not found", "unknown user")
		r = e.do(e.as("admin"), "GET", "/users/current", nil)
		if strings.Contains(string(r.body), "oidc_user_meta") {
			t.Errorf("the admin's profile shows OIDC data: %s", r)
		}
	})
}
