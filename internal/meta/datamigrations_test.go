package meta

import (
	"context"
	"testing"
)

// TestRekeyLDAPGroupDNs: groups stored with 0007's lower-cased keys are
// found by any spelling of their DN after migration 0013's data step;
// one whose canonical key another group has keeps its old key.
func TestRekeyLDAPGroupDNs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		old := func(name, dn string) UserGroup {
			g := must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: name, Type: GroupLDAP, LDAPDN: "cn=" + name}))
			// As 0007's store wrote it: the DN only lower-cased.
			must1[int64](t)(q.execN(ctx, `UPDATE user_groups SET ldap_group_dn = ?, dn_key = lower(?) WHERE id = ?`, dn, dn, g.ID))
			return g
		}
		devs := old("devs", "CN=Devs, OU=X")
		ops := must1[UserGroup](t)(q.CreateUserGroup(ctx, UserGroup{Name: "ops", Type: GroupLDAP, LDAPDN: "cn=ops,ou=x"}))
		opsAgain := old("ops again", "cn=ops, ou=x")
		if _, err := q.GetUserGroupByDN(ctx, "cn=devs,ou=x"); err == nil {
			t.Fatal("the old key matched the canonical DN before the data step")
		}
		must(t, rekeyLDAPGroupDNs(ctx, q))
		for dn, want := range map[string]int64{"cn=devs,ou=x": devs.ID, "CN=Devs , ou=X": devs.ID, "cn=ops, ou=x": ops.ID} {
			g, err := q.GetUserGroupByDN(ctx, dn)
			if err != nil || g.ID != want {
				t.Errorf("GetUserGroupByDN(%q) = %d, %v; want %d", dn, g.ID, err, want)
			}
		}
		if n := count(t, db, `SELECT count(*) FROM user_groups WHERE id = ? AND dn_key = 'cn=ops, ou=x'`, opsAgain.ID); n != 1 {
			t.Error("the conflicting group's key changed")
		}
		must(t, rekeyLDAPGroupDNs(ctx, q)) // idempotent
	})
}
