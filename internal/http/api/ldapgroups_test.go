package api_test

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/testutil/ldaptest"
)

// An LDAP group DN typed by an administrator in another spelling than
// the directory's ("CN=developers, ou=groups, …") is the same group:
// the members of the directory group get the role. A DN the directory
// does not have is refused when it is added, not silently kept.
func TestLDAPGroupDNSpelling(t *testing.T) {
	forEachLDAPDB(t, func(t *testing.T, e *ldapEnv) {
		admin, alice := e.as("admin"), cred{"alice", "alice-pw"}
		typed := "CN=Developers, " + strings.ReplaceAll(ldaptest.GroupsDN, ",", " , ")
		want(t, e.do(admin, "POST", "/projects", map[string]any{"project_name": "team", "metadata": map[string]string{"public": "false"}}), 201, "create team")
		want(t, e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleDeveloper,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": typed}}), 201, "add "+typed)

		// alice's login finds the group by the directory's spelling.
		if st, acts := e.tokenActions(alice, "repository:team/app:pull,push"); st != 200 || strings.Join(acts, ",") != "pull,push" {
			t.Errorf("alice's token for team/app: %d %q, want pull and push", st, acts)
		}
		if n := e.count(`SELECT count(*) FROM user_groups WHERE group_type = 1`); n != 1 {
			t.Errorf("%d LDAP groups after alice's login, want 1 (developers)", n)
		}
		// The group takes the directory's name, as Harbor's does.
		var groups []map[string]any
		r := e.do(admin, "GET", "/usergroups?ldap_group_dn="+strings.ReplaceAll(strings.ToUpper(ldaptest.GroupDN("developers")), ",", ",%20"), nil)
		want(t, r, 200, "list by DN")
		decodeInto(t, r, &groups)
		if len(groups) != 1 || groups[0]["group_name"] != "developers" {
			t.Errorf("groups by another spelling of the DN: %v, want developers", groups)
		}

		// The same group again, spelled a third way, is a conflict.
		wantErr(t, e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleGuest,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": strings.ToUpper(ldaptest.GroupDN("developers"))}}),
			409, "already a member", "the same group again")

		// DNs the directory lacks, or that are no DNs, are refused.
		wantErr(t, e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleGuest,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": ldaptest.GroupDN("nobody")}}),
			404, "not found in the LDAP directory", "a group the directory lacks")
		wantErr(t, e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleGuest,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": "cn=outside,dc=elsewhere"}}),
			404, "not found in the LDAP directory", "a DN outside the group base DN")
		wantErr(t, e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleGuest,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": "developers"}}),
			400, "is not a DN", "a name instead of a DN")
		wantErr(t, e.do(admin, "POST", "/usergroups", map[string]any{"group_type": 1, "group_name": "ghosts",
			"ldap_group_dn": ldaptest.GroupDN("nobody")}), 400, "not found in the LDAP directory", "create a group the directory lacks")
		if n := e.count(`SELECT count(*) FROM user_groups WHERE group_type = 1`); n != 1 {
			t.Errorf("%d LDAP groups after the refusals, want 1", n)
		}

		// With the directory down, nothing is added on trust.
		e.dir.Stop()
		r = e.do(admin, "POST", "/projects/team/members", map[string]any{"role_id": access.RoleGuest,
			"member_group": map[string]any{"group_type": 1, "ldap_group_dn": ldaptest.GroupDN("admins")}})
		want(t, r, 503, "add a group with the directory down")
	})
}
