package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/ldapdn"
)

// User groups and who belongs to them. A user's groups are replaced as a
// whole at each login (SetUserGroups): the identity provider is the
// source of truth, the table a copy for authentication without it.

const groupCols = `id, group_name, group_type, ldap_group_dn, created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (UserGroup, error) {
	var g UserGroup
	err := row.Scan(&g.ID, &g.Name, &g.Type, &g.LDAPDN, timeCol{&g.CreatedAt}, timeCol{&g.UpdatedAt})
	return g, err
}

var groupsListing = &listing{
	what: "user groups",
	fields: map[string]field{
		"group_name":    {col: "group_name"},
		"group_type":    {col: "group_type", kind: intField},
		"ldap_group_dn": {col: "ldap_group_dn", folded: "dn_key", fold: ldapdn.Key},
	},
	sorts: map[string]string{
		"group_name":    "group_name",
		"group_type":    "group_type",
		"creation_time": "created_at",
		"id":            "id",
	},
	order: []SortKey{{Key: "group_name"}},
	id:    "id",
}

// dnKey is the unique form of an LDAP DN (ldapdn.Key: parsed, lower-cased,
// one spelling), so that the directory's "cn=devs,ou=x" and an
// administrator's "CN=Devs, ou=x" are one group.
func dnKey(g UserGroup) any {
	if g.Type != GroupLDAP {
		return nil
	}
	return ldapdn.Key(g.LDAPDN)
}

func checkGroup(g UserGroup) error {
	switch {
	case g.Type != GroupLDAP && g.Type != GroupHTTP && g.Type != GroupOIDC:
		return errs.New(errs.Invalid, "", "group type %d is not 1 (LDAP), 2 (HTTP) or 3 (OIDC)", g.Type)
	case g.Name == "":
		return errs.New(errs.Invalid, "", "group name is empty")
	case g.Type == GroupLDAP && g.LDAPDN == "":
		return errs.New(errs.Invalid, "", "an LDAP group needs its DN")
	case g.Type != GroupLDAP && g.LDAPDN != "":
		return errs.New(errs.Invalid, "", "only LDAP groups have a DN")
	}
	return nil
}

// CreateUserGroup stores a new group and returns it with its ID and
// times. Conflict if a group of the same type has the same name (LDAP:
// the same DN, in any letter case); that does not abort a surrounding
// PostgreSQL transaction.
func (q *Q) CreateUserGroup(ctx context.Context, g UserGroup) (UserGroup, error) {
	if err := checkGroup(g); err != nil {
		return UserGroup{}, err
	}
	t := now()
	g.CreatedAt, g.UpdatedAt = t, t
	id, ok, err := q.insertID(ctx, `INSERT INTO user_groups (group_name, group_type, ldap_group_dn, dn_key,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		g.Name, g.Type, g.LDAPDN, dnKey(g), q.ts(t), q.ts(t))
	if err != nil {
		return UserGroup{}, fmt.Errorf("create user group %s: %w", g.Name, err)
	}
	if !ok {
		if g.Type == GroupLDAP {
			return UserGroup{}, errs.New(errs.Conflict, "", "an LDAP group with DN %s already exists", g.LDAPDN)
		}
		return UserGroup{}, errs.New(errs.Conflict, "", "group %s already exists", g.Name)
	}
	g.ID = id
	return g, nil
}

// EnsureUserGroup returns the group of g's type with g's name (LDAP: DN),
// creating it from g when there is none. Concurrent callers get the same
// group.
func (q *Q) EnsureUserGroup(ctx context.Context, g UserGroup) (UserGroup, error) {
	if err := checkGroup(g); err != nil {
		return UserGroup{}, err
	}
	find := func() (UserGroup, error) {
		if g.Type == GroupLDAP {
			return q.GetUserGroupByDN(ctx, g.LDAPDN)
		}
		return q.GetUserGroupByName(ctx, g.Type, g.Name)
	}
	found, err := find()
	if !errs.Is(err, errs.NotFound) {
		return found, err
	}
	created, err := q.CreateUserGroup(ctx, g)
	if errs.Is(err, errs.Conflict) {
		// Another caller created it meanwhile. Its row is committed (the
		// insert waited for it), so a new statement sees it.
		cond, args := groupWhere(g)
		return q.getGroupWhere(ctx, q.w, cond, args)
	}
	return created, err
}

func groupWhere(g UserGroup) (string, []any) {
	if g.Type == GroupLDAP {
		return `group_type = 1 AND dn_key = ?`, []any{dnKey(g)}
	}
	return `group_type = ? AND group_name = ?`, []any{g.Type, g.Name}
}

func (q *Q) getGroupWhere(ctx context.Context, qr queryer, cond string, args []any) (UserGroup, error) {
	g, err := scanGroup(qr.QueryRowContext(ctx, q.rebind(`SELECT `+groupCols+` FROM user_groups WHERE `+cond), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return UserGroup{}, errs.New(errs.NotFound, "", "user group not found")
	}
	if err != nil {
		return UserGroup{}, fmt.Errorf("get user group: %w", err)
	}
	return g, nil
}

// GetUserGroup returns group id.
func (q *Q) GetUserGroup(ctx context.Context, id int64) (UserGroup, error) {
	g, err := q.getGroupWhere(ctx, q.r, `id = ?`, []any{id})
	if errs.Is(err, errs.NotFound) {
		return UserGroup{}, errs.New(errs.NotFound, "", "user group %d not found", id)
	}
	return g, err
}

// GetUserGroupByName returns the group of type typ (HTTP or OIDC) called
// name, exactly.
func (q *Q) GetUserGroupByName(ctx context.Context, typ int, name string) (UserGroup, error) {
	g, err := q.getGroupWhere(ctx, q.r, `group_type = ? AND group_name = ?`, []any{typ, name})
	if errs.Is(err, errs.NotFound) {
		return UserGroup{}, errs.New(errs.NotFound, "", "user group %s not found", name)
	}
	return g, err
}

// GetUserGroupByDN returns the LDAP group with dn, in any letter case
// and spelling of the same DN.
func (q *Q) GetUserGroupByDN(ctx context.Context, dn string) (UserGroup, error) {
	g, err := q.getGroupWhere(ctx, q.r, `group_type = 1 AND dn_key = ?`, []any{ldapdn.Key(dn)})
	if errs.Is(err, errs.NotFound) {
		return UserGroup{}, errs.New(errs.NotFound, "", "LDAP group %s not found", dn)
	}
	return g, err
}

// RenameUserGroup changes group id's name (Harbor lets only the name
// change). Conflict if another group of its type has that name.
func (q *Q) RenameUserGroup(ctx context.Context, id int64, name string) error {
	if name == "" {
		return errs.New(errs.Invalid, "", "group name is empty")
	}
	n, err := q.execN(ctx, `UPDATE user_groups SET group_name = ?, updated_at = ? WHERE id = ?`, name, q.ts(now()), id)
	if isUniqueViolation(err) {
		return errs.Wrap(errs.Conflict, err, "group %s already exists", name)
	}
	if err != nil {
		return fmt.Errorf("rename user group %d: %w", id, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "user group %d not found", id)
	}
	return nil
}

// DeleteUserGroup deletes the group, its project memberships and the
// record of who belongs to it.
func (q *Q) DeleteUserGroup(ctx context.Context, id int64) error {
	defer q.identityChanged() // generations.go
	return q.atomic(ctx, func(q *Q) error {
		if _, err := q.exec(ctx, `DELETE FROM project_members WHERE entity_type = 'g' AND entity_id = ?`, id); err != nil {
			return fmt.Errorf("delete memberships of group %d: %w", id, err)
		}
		n, err := q.execN(ctx, `DELETE FROM user_groups WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete user group %d: %w", id, err)
		}
		if n == 0 {
			return errs.New(errs.NotFound, "", "user group %d not found", id)
		}
		return nil
	})
}

// ListUserGroups returns a page of groups matching o and how many there
// are. q keys: group_name (= exact, ~ substring), group_type,
// ldap_group_dn (case-insensitive). Sort fields: group_name (the
// default), group_type, creation_time, id.
func (q *Q) ListUserGroups(ctx context.Context, o ListOptions) ([]UserGroup, int, error) {
	out := []UserGroup{}
	total, err := q.list(ctx, groupsListing, o, groupCols, "user_groups", &where{}, func(rows *sql.Rows) error {
		g, err := scanGroup(rows)
		out = append(out, g)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// SetUserGroups makes groupIDs the user's groups, replacing those it had.
// NotFound if the user or a group does not exist.
func (q *Q) SetUserGroups(ctx context.Context, userID int64, groupIDs []int64) error {
	defer q.identityChanged() // generations.go
	ids := uniq(groupIDs)
	return q.atomic(ctx, func(q *Q) error {
		if _, err := q.exec(ctx, `DELETE FROM user_group_members WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("set groups of user %d: %w", userID, err)
		}
		for _, g := range ids {
			_, err := q.exec(ctx, `INSERT INTO user_group_members (user_id, group_id) VALUES (?, ?)`, userID, g)
			if isFKViolation(err) {
				return errs.Wrap(errs.NotFound, err, "user %d or group %d not found", userID, g)
			}
			if err != nil {
				return fmt.Errorf("set groups of user %d: %w", userID, err)
			}
		}
		return nil
	})
}

// UserGroupIDs returns the IDs of the user's groups, ascending.
func (q *Q) UserGroupIDs(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := q.query(ctx, `SELECT group_id FROM user_group_members WHERE user_id = ? ORDER BY group_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("groups of user %d: %w", userID, err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("groups of user %d: %w", userID, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("groups of user %d: %w", userID, err)
	}
	slices.Sort(out)
	return out, nil
}
