package meta

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// User groups, group members of projects, external identities.

func TestUserGroups(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		dev := must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "dev", Type: GroupOIDC}))
		if dev.ID <= 0 || dev.CreatedAt.IsZero() {
			t.Fatalf("CreateUserGroup = %+v", dev)
		}
		diff(t, "GetUserGroup", dev, must1[UserGroup](t)(q.GetUserGroup(ctx, dev.ID)))
		diff(t, "GetUserGroupByName", dev, must1[UserGroup](t)(q.GetUserGroupByName(ctx, GroupOIDC, "dev")))
		_, err := q.GetUserGroupByName(ctx, GroupOIDC, "DEV") // names are exact
		wantKind(t, err, errs.NotFound)
		_, err = q.GetUserGroupByName(ctx, GroupHTTP, "dev")
		wantKind(t, err, errs.NotFound)

		// Unique per type and name; the same name in another type is fine.
		_, err = q.CreateUserGroup(ctx, UserGroup{Name: "dev", Type: GroupOIDC})
		wantKind(t, err, errs.Conflict)
		must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "dev", Type: GroupHTTP}))

		// LDAP groups are unique by DN in any case; names may repeat.
		dn := "cn=dev,ou=groups,dc=example,dc=org"
		ldap := must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "dev", Type: GroupLDAP, LDAPDN: dn}))
		_, err = q.CreateUserGroup(ctx, UserGroup{Name: "other", Type: GroupLDAP, LDAPDN: "CN=Dev,ou=groups,dc=example,dc=org"})
		wantKind(t, err, errs.Conflict)
		must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "dev", Type: GroupLDAP, LDAPDN: "cn=dev,ou=other,dc=example,dc=org"}))
		diff(t, "GetUserGroupByDN", ldap, must1[UserGroup](t)(q.GetUserGroupByDN(ctx, "CN=DEV,OU=groups,DC=example,DC=org")))
		// … and in any spelling of the same DN (spaces, escapes).
		diff(t, "GetUserGroupByDN, spaced", ldap, must1[UserGroup](t)(q.GetUserGroupByDN(ctx, "CN=DEV, OU=groups , DC=example,DC=org")))
		_, err = q.CreateUserGroup(ctx, UserGroup{Name: "other", Type: GroupLDAP, LDAPDN: `cn=\64ev, ou=groups, dc=example, dc=org`})
		wantKind(t, err, errs.Conflict)
		diff(t, "EnsureUserGroup, spaced", ldap, must1[UserGroup](t)(q.EnsureUserGroup(ctx, UserGroup{Name: "x", Type: GroupLDAP, LDAPDN: "cn=dev, ou=groups, dc=example, dc=org"})))
		byDN, _, err := q.ListUserGroups(ctx, ListOptions{Query: []Cond{{Key: "ldap_group_dn", Op: "=", Values: []string{"cn=Dev, ou=Groups, dc=example, dc=org"}}}})
		if err != nil || len(byDN) != 1 || byDN[0].ID != ldap.ID {
			t.Errorf("ListUserGroups by a spaced DN = %+v, want the dev group", byDN)
		}

		for _, bad := range []UserGroup{
			{Name: "x", Type: 4}, {Name: "", Type: GroupOIDC}, {Name: "x", Type: GroupLDAP},
			{Name: "x", Type: GroupOIDC, LDAPDN: "cn=x"},
		} {
			_, err := q.CreateUserGroup(ctx, bad)
			wantKind(t, err, errs.Invalid)
		}

		// Ensure finds or creates.
		diff(t, "EnsureUserGroup existing", dev, must1[UserGroup](t)(q.EnsureUserGroup(ctx, UserGroup{Name: "dev", Type: GroupOIDC})))
		diff(t, "EnsureUserGroup existing LDAP", ldap.ID,
			must1[UserGroup](t)(q.EnsureUserGroup(ctx, UserGroup{Name: "renamed?", Type: GroupLDAP, LDAPDN: "CN=dev,ou=groups,dc=example,dc=org"})).ID)
		ops := must1[UserGroup](t)(q.EnsureUserGroup(ctx, UserGroup{Name: "ops", Type: GroupOIDC}))
		diff(t, "groups", 5, count(t, db, `SELECT count(*) FROM user_groups`))

		// Listing: q by fuzzy name and type; default order by name.
		list, total := groups2(t)(q.ListUserGroups(ctx, ListOptions{Query: []Cond{
			{Key: "group_name", Op: "~", Values: []string{"e"}}, {Key: "group_type", Op: "=", Values: []string{"3"}},
		}}))
		diff(t, "total", 1, total)
		diff(t, "list", []UserGroup{dev}, list)
		list, _ = groups2(t)(q.ListUserGroups(ctx, ListOptions{Query: []Cond{
			{Key: "ldap_group_dn", Op: "=", Values: []string{"CN=DEV,OU=GROUPS,DC=EXAMPLE,DC=ORG"}},
		}}))
		diff(t, "by dn", []UserGroup{ldap}, list)
		_, total = groups2(t)(q.ListUserGroups(ctx, ListOptions{}))
		diff(t, "all", 5, total)

		// Rename.
		must(t, q.RenameUserGroup(ctx, ops.ID, "operations"))
		diff(t, "renamed", "operations", must1[UserGroup](t)(q.GetUserGroup(ctx, ops.ID)).Name)
		wantKind(t, q.RenameUserGroup(ctx, ops.ID, "dev"), errs.Conflict)
		wantKind(t, q.RenameUserGroup(ctx, 9999, "x"), errs.NotFound)

		// Delete takes its memberships along.
		u := mkUser(t, q, "u")
		pr := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p", OwnerID: u.ID}, 1))
		must1[Member](t)(q.AddMember(ctx, Member{ProjectID: pr.ID, EntityType: MemberGroup, EntityID: ops.ID, RoleID: 2}))
		must(t, q.SetUserGroups(ctx, u.ID, []int64{ops.ID, dev.ID}))
		must(t, q.DeleteUserGroup(ctx, ops.ID))
		wantKind(t, q.DeleteUserGroup(ctx, ops.ID), errs.NotFound)
		diff(t, "group members", 0, count(t, db, `SELECT count(*) FROM project_members WHERE entity_type = 'g'`))
		diff(t, "user's groups", []int64{dev.ID}, must1[[]int64](t)(q.UserGroupIDs(ctx, u.ID)))
	})
}

func groups2(t testing.TB) func([]UserGroup, int, error) ([]UserGroup, int) {
	return func(l []UserGroup, n int, err error) ([]UserGroup, int) {
		t.Helper()
		must(t, err)
		return l, n
	}
}

func TestEnsureUserGroupRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		const n = 6
		ids := make([]int64, n)
		errc := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				g, err := db.Q().EnsureUserGroup(ctx, UserGroup{Name: "racers", Type: GroupOIDC})
				ids[i], errc[i] = g.ID, err
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			must(t, errc[i])
			if ids[i] != ids[0] {
				t.Fatalf("EnsureUserGroup gave ids %v, want one", ids)
			}
		}
		diff(t, "groups", 1, count(t, db, `SELECT count(*) FROM user_groups`))
	})
}

func TestGroupMembershipRoles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		owner := mkUser(t, q, "owner")
		u := mkUser(t, q, "u")
		g1 := must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "g1", Type: GroupOIDC}))
		g2 := must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "G2", Type: GroupOIDC}))
		p1 := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p1", OwnerID: owner.ID}, 1))
		p2 := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p2", OwnerID: owner.ID}, 1))
		p3 := must1[Project](t)(q.CreateProject(ctx, Project{Name: "p3", OwnerID: owner.ID}, 1))

		m := must1[Member](t)(q.AddMember(ctx, Member{ProjectID: p1.ID, EntityType: MemberGroup, EntityID: g1.ID, RoleID: 3}))
		diff(t, "member name", "g1", m.EntityName)
		must1[Member](t)(q.AddMember(ctx, Member{ProjectID: p1.ID, EntityType: MemberUser, EntityID: u.ID, RoleID: 2}))
		must1[Member](t)(q.AddMember(ctx, Member{ProjectID: p2.ID, EntityType: MemberGroup, EntityID: g2.ID, RoleID: 4}))
		_, err := q.AddMember(ctx, Member{ProjectID: p1.ID, EntityType: MemberGroup, EntityID: g1.ID, RoleID: 1})
		wantKind(t, err, errs.Conflict)
		_, err = q.AddMember(ctx, Member{ProjectID: p1.ID, EntityType: MemberGroup, EntityID: 9999, RoleID: 1})
		wantKind(t, err, errs.NotFound)

		// Reads name groups; search and sort cover both kinds.
		diff(t, "GetMember", m, must1[Member](t)(q.GetMember(ctx, p1.ID, m.ID)))
		list, total, err := q.ListMembers(ctx, p2.ID, "g2", ListOptions{})
		must(t, err)
		diff(t, "search group member", 1, total)
		diff(t, "found", "G2", list[0].EntityName)
		list, _, err = q.ListMembers(ctx, p1.ID, "", ListOptions{})
		must(t, err)
		var names []string
		for _, m := range list {
			names = append(names, m.EntityType+":"+m.EntityName)
		}
		diff(t, "p1 members by name", []string{"g:g1", "u:owner", "u:u"}, names)

		// Roles: direct only, or through groups too.
		diff(t, "UserRoles", map[int64]int{p1.ID: 2}, must1[map[int64]int](t)(q.UserRoles(ctx, u.ID)))
		diff(t, "PrincipalRoles", map[int64][]int{p1.ID: {2, 3}, p2.ID: {4}},
			must1[map[int64][]int](t)(q.PrincipalRoles(ctx, u.ID, []int64{g1.ID, g2.ID, g2.ID})))
		diff(t, "MemberRoles p1", []int{2, 3}, must1[[]int](t)(q.MemberRoles(ctx, p1.ID, u.ID, []int64{g1.ID})))
		diff(t, "MemberRoles p3", []int{}, must1[[]int](t)(q.MemberRoles(ctx, p3.ID, u.ID, []int64{g1.ID, g2.ID})))

		// Project visibility through groups.
		_, total, err = q.ListProjects(ctx, ListOptions{}, ProjectFilter{UserID: u.ID})
		must(t, err)
		diff(t, "projects of u alone", 1, total)
		_, total, err = q.ListProjects(ctx, ListOptions{}, ProjectFilter{UserID: u.ID, GroupIDs: []int64{g2.ID}})
		must(t, err)
		diff(t, "projects of u with g2", 2, total)

		// A user's group record.
		must(t, q.SetUserGroups(ctx, u.ID, []int64{g2.ID, g1.ID, g1.ID}))
		diff(t, "UserGroupIDs", []int64{g1.ID, g2.ID}, must1[[]int64](t)(q.UserGroupIDs(ctx, u.ID)))
		must(t, q.SetUserGroups(ctx, u.ID, []int64{g2.ID}))
		diff(t, "replaced", []int64{g2.ID}, must1[[]int64](t)(q.UserGroupIDs(ctx, u.ID)))
		wantKind(t, q.SetUserGroups(ctx, u.ID, []int64{9999}), errs.NotFound)
		diff(t, "kept after a failed set", []int64{g2.ID}, must1[[]int64](t)(q.UserGroupIDs(ctx, u.ID)))
		must(t, q.DeleteUser(ctx, u.ID))
		diff(t, "memberships after user deletion", 0, count(t, db, `SELECT count(*) FROM user_group_members`))
	})
}

func TestExternalIdentities(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		verified := at(7)
		u := must1[User](t)(q.CreateExternalUser(ctx, User{Username: "oidc-user", Email: "o@example.com"}, UserIdentity{
			Source: SourceOIDC, Issuer: "https://idp.example", Subject: "sub-1",
			RefreshToken: []byte("sealed-rt"), VerifiedAt: verified, CLISecret: []byte("sealed"), CLISecretHash: "abc",
		}))
		id := must1[UserIdentity](t)(q.GetUserIdentity(ctx, u.ID))
		diff(t, "identity", UserIdentity{
			UserID: u.ID, Source: SourceOIDC, Issuer: "https://idp.example", Subject: "sub-1",
			RefreshToken: []byte("sealed-rt"), VerifiedAt: normTime(verified), CLISecret: []byte("sealed"),
			CLISecretHash: "abc", CreatedAt: u.CreatedAt, UpdatedAt: u.CreatedAt,
		}, id)
		fu, fid, err := q.FindUserByIdentity(ctx, SourceOIDC, "https://idp.example", "sub-1")
		must(t, err)
		diff(t, "found user", u, fu)
		diff(t, "found identity", id, fid)
		_, _, err = q.FindUserByIdentity(ctx, SourceOIDC, "https://other.example", "sub-1")
		wantKind(t, err, errs.NotFound)

		// The same identity cannot be linked twice; nothing is left behind.
		_, err = q.CreateExternalUser(ctx, User{Username: "again"}, UserIdentity{
			Source: SourceOIDC, Issuer: "https://idp.example", Subject: "sub-1"})
		wantKind(t, err, errs.Conflict)
		_, err = q.GetUserByName(ctx, "again")
		wantKind(t, err, errs.NotFound)
		// A taken username neither.
		_, err = q.CreateExternalUser(ctx, User{Username: "OIDC-user"}, UserIdentity{
			Source: SourceOIDC, Issuer: "https://idp.example", Subject: "sub-2"})
		wantKind(t, err, errs.Conflict)
		diff(t, "identities", 1, count(t, db, `SELECT count(*) FROM user_identities`))
		_, err = q.CreateExternalUser(ctx, User{Username: "x"}, UserIdentity{Source: "saml", Subject: "s"})
		wantKind(t, err, errs.Invalid)

		// An LDAP user; a zero verified time means now.
		before := now()
		l := must1[User](t)(q.CreateExternalUser(ctx, User{Username: "ldap-user"}, UserIdentity{
			Source: SourceLDAP, Subject: "uid=l,ou=people,dc=example,dc=org"}))
		lid := must1[UserIdentity](t)(q.GetUserIdentity(ctx, l.ID))
		if lid.VerifiedAt.Before(before) || len(lid.RefreshToken) != 0 || lid.CLISecretHash != "" {
			t.Errorf("LDAP identity = %+v", lid)
		}

		// Verification and refresh token updates.
		later := at(30)
		must(t, q.UpdateIdentityVerified(ctx, u.ID, nil, later))
		id = must1[UserIdentity](t)(q.GetUserIdentity(ctx, u.ID))
		diff(t, "verified", normTime(later), id.VerifiedAt)
		diff(t, "refresh token kept", []byte("sealed-rt"), id.RefreshToken)
		must(t, q.UpdateIdentityVerified(ctx, u.ID, []byte("rt2"), later.Add(time.Second)))
		diff(t, "refresh token replaced", []byte("rt2"), must1[UserIdentity](t)(q.GetUserIdentity(ctx, u.ID)).RefreshToken)
		wantKind(t, q.UpdateIdentityVerified(ctx, 9999, nil, later), errs.NotFound)

		// CLI secret replace and revoke.
		must(t, q.SetCLISecret(ctx, u.ID, []byte("s2"), "h2"))
		id = must1[UserIdentity](t)(q.GetUserIdentity(ctx, u.ID))
		diff(t, "secret", []any{[]byte("s2"), "h2"}, []any{id.CLISecret, id.CLISecretHash})
		must(t, q.SetCLISecret(ctx, u.ID, nil, ""))
		id = must1[UserIdentity](t)(q.GetUserIdentity(ctx, u.ID))
		diff(t, "revoked", []any{[]byte{}, ""}, []any{id.CLISecret, id.CLISecretHash})
		wantKind(t, q.SetCLISecret(ctx, 9999, nil, ""), errs.NotFound)

		// Local users have none; deletion takes the identity along.
		local := mkUser(t, q, "local")
		_, err = q.GetUserIdentity(ctx, local.ID)
		wantKind(t, err, errs.NotFound)
		must(t, q.DeleteUser(ctx, u.ID))
		diff(t, "identities after deletion", 1, count(t, db, `SELECT count(*) FROM user_identities`))
	})
}

func TestOIDCStates(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		future := time.Now().Add(time.Minute)
		must(t, q.PutOIDCState(ctx, "a", future))
		wantKind(t, q.PutOIDCState(ctx, "a", future), errs.Conflict)
		must(t, q.PutOIDCState(ctx, "old", time.Now().Add(-time.Second)))
		// Taken once only.
		diff(t, "first take", true, must1[bool](t)(q.TakeOIDCState(ctx, "a", time.Now())))
		diff(t, "second take", false, must1[bool](t)(q.TakeOIDCState(ctx, "a", time.Now())))
		diff(t, "expired", false, must1[bool](t)(q.TakeOIDCState(ctx, "old", time.Now())))
		// A new state sweeps expired ones.
		must(t, q.PutOIDCState(ctx, "b", future))
		diff(t, "rows", 1, count(t, db, `SELECT count(*) FROM oidc_states`))
	})
}
