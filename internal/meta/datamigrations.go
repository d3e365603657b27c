package meta

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/ldapdn"
)

// dataMigrations are the steps SQL cannot do, run in the migration
// transaction right after the file of the same version, once.
var dataMigrations = map[int64]func(ctx context.Context, q *Q) error{
	13: rekeyLDAPGroupDNs,
}

// rekeyLDAPGroupDNs rewrites the dn_key of LDAP groups stored before
// keys were canonical DNs (0007 stored them only lower-cased), so that
// "cn=devs, ou=x" typed by an administrator matches the directory's
// "cn=devs,ou=x". A group whose canonical key another group already has
// keeps its old key (it can still be deleted; nothing merges them).
func rekeyLDAPGroupDNs(ctx context.Context, q *Q) error {
	rows, err := q.query(ctx, `SELECT id, ldap_group_dn, dn_key FROM user_groups WHERE group_type = 1 ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read LDAP groups: %w", err)
	}
	type group struct {
		id      int64
		dn, key string
		newKey  string
	}
	var gs []group
	for rows.Next() {
		var g group
		if err := rows.Scan(&g.id, &g.dn, &g.key); err != nil {
			rows.Close()
			return fmt.Errorf("read LDAP groups: %w", err)
		}
		gs = append(gs, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read LDAP groups: %w", err)
	}
	taken := map[string]bool{}
	for _, g := range gs {
		taken[g.key] = true
	}
	for _, g := range gs {
		k := ldapdn.Key(g.dn)
		if k == g.key || taken[k] {
			continue
		}
		if _, err := q.exec(ctx, `UPDATE user_groups SET dn_key = ? WHERE id = ?`, k, g.id); err != nil {
			return fmt.Errorf("rekey LDAP group %d: %w", g.id, err)
		}
		delete(taken, g.key)
		taken[k] = true
	}
	return nil
}
