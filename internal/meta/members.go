package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Members join users and user groups for their names.
const (
	memberFrom = `project_members m LEFT JOIN users u ON m.entity_type = 'u' AND u.id = m.entity_id
		LEFT JOIN user_groups g ON m.entity_type = 'g' AND g.id = m.entity_id`
	memberCols = `m.id, m.project_id, m.entity_type, m.entity_id, COALESCE(u.username, g.group_name, ''), m.role_id,
		m.created_at, m.updated_at`
	// memberNameKey is the lower-cased name used to search and sort.
	memberNameKey = `COALESCE(u.username_key, lower(g.group_name), '')`
)

func scanMember(row interface{ Scan(...any) error }) (Member, error) {
	var m Member
	err := row.Scan(&m.ID, &m.ProjectID, &m.EntityType, &m.EntityID, &m.EntityName, &m.RoleID,
		timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt})
	return m, err
}

var membersListing = &listing{
	what: "members",
	fields: map[string]field{
		"entity_name": {col: "COALESCE(u.username, g.group_name)", folded: memberNameKey},
		"entity_type": {col: "m.entity_type"},
		"entity_id":   {col: "m.entity_id", kind: intField},
		"role_id":     {col: "m.role_id", kind: intField},
	},
	sorts: map[string]string{
		"entity_name":   memberNameKey,
		"role_id":       "m.role_id",
		"creation_time": "m.created_at",
		"id":            "m.id",
	},
	order: []SortKey{{Key: "entity_name"}},
	id:    "m.id",
}

// AddMember gives m.EntityID, a user or a user group, m.RoleID in
// m.ProjectID and returns the member with its ID, times and EntityName.
// NotFound if the project, the user or the group does not exist,
// Conflict if it already is a member (neither aborts a surrounding
// PostgreSQL transaction).
func (q *Q) AddMember(ctx context.Context, m Member) (Member, error) {
	if m.EntityType != MemberUser && m.EntityType != MemberGroup {
		return Member{}, errs.New(errs.Invalid, "", "member entity type %q is neither %q nor %q",
			m.EntityType, MemberUser, MemberGroup)
	}
	if _, err := q.GetProject(ctx, m.ProjectID); err != nil {
		return Member{}, err
	}
	if m.EntityType == MemberGroup {
		g, err := q.GetUserGroup(ctx, m.EntityID)
		if err != nil {
			return Member{}, err
		}
		m.EntityName = g.Name
	} else {
		u, err := q.GetUser(ctx, m.EntityID)
		if err != nil {
			return Member{}, err
		}
		m.EntityName = u.Username
	}
	return q.insertMember(ctx, m, now())
}

// insertMember stores m, whose project and entity are known to exist,
// as created at t.
func (q *Q) insertMember(ctx context.Context, m Member, t time.Time) (Member, error) {
	if m.RoleID <= 0 {
		return Member{}, errs.New(errs.Invalid, "", "role id %d is not a role", m.RoleID)
	}
	m.CreatedAt, m.UpdatedAt = t, t
	id, ok, err := q.insertID(ctx, `INSERT INTO project_members (project_id, entity_type, entity_id, role_id,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		m.ProjectID, m.EntityType, m.EntityID, m.RoleID, q.ts(t), q.ts(t))
	if isFKViolation(err) {
		return Member{}, errs.Wrap(errs.NotFound, err, "project %d not found", m.ProjectID)
	}
	if err != nil {
		return Member{}, fmt.Errorf("add member %s%d to project %d: %w", m.EntityType, m.EntityID, m.ProjectID, err)
	}
	if !ok {
		return Member{}, errs.New(errs.Conflict, "", "%s is already a member of project %d",
			memberLabel(m), m.ProjectID)
	}
	m.ID = id
	return m, nil
}

func memberLabel(m Member) string {
	if m.EntityName != "" {
		return m.EntityName
	}
	if m.EntityType == MemberGroup {
		return fmt.Sprintf("group %d", m.EntityID)
	}
	return fmt.Sprintf("user %d", m.EntityID)
}

// GetMember returns member memberID of project projectID.
func (q *Q) GetMember(ctx context.Context, projectID, memberID int64) (Member, error) {
	m, err := scanMember(q.queryRow(ctx, `SELECT `+memberCols+` FROM `+memberFrom+`
		WHERE m.project_id = ? AND m.id = ?`, projectID, memberID))
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, errs.New(errs.NotFound, "", "member %d not found in project %d", memberID, projectID)
	}
	if err != nil {
		return Member{}, fmt.Errorf("get member %d of project %d: %w", memberID, projectID, err)
	}
	return m, nil
}

// UpdateMemberRole changes the role of member memberID of projectID.
func (q *Q) UpdateMemberRole(ctx context.Context, projectID, memberID int64, role int) error {
	n, err := q.execN(ctx, `UPDATE project_members SET role_id = ?, updated_at = ? WHERE project_id = ? AND id = ?`,
		role, q.ts(now()), projectID, memberID)
	if err != nil {
		return fmt.Errorf("update member %d of project %d: %w", memberID, projectID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "member %d not found in project %d", memberID, projectID)
	}
	return nil
}

// DeleteMember removes member memberID from projectID.
func (q *Q) DeleteMember(ctx context.Context, projectID, memberID int64) error {
	n, err := q.execN(ctx, `DELETE FROM project_members WHERE project_id = ? AND id = ?`, projectID, memberID)
	if err != nil {
		return fmt.Errorf("delete member %d of project %d: %w", memberID, projectID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "member %d not found in project %d", memberID, projectID)
	}
	return nil
}

// ListMembers returns a page of projectID's members whose name contains
// entityName (case-insensitively; "" for all) and match o, and how many
// there are. q keys: entity_name, entity_type, entity_id, role_id. Sort
// fields: entity_name (the default), role_id, creation_time, id.
func (q *Q) ListMembers(ctx context.Context, projectID int64, entityName string, o ListOptions) ([]Member, int, error) {
	w := &where{}
	w.add("m.project_id = ?", projectID)
	if entityName != "" {
		w.add(memberNameKey+` LIKE ? ESCAPE '\'`, "%"+escapeLike(strings.ToLower(entityName))+"%")
	}
	out := []Member{}
	total, err := q.list(ctx, membersListing, o, memberCols, memberFrom, w, func(rows *sql.Rows) error {
		m, err := scanMember(rows)
		out = append(out, m)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// MemberRole returns the role the user holds in projectID as a direct
// member; NotFound if it holds none.
func (q *Q) MemberRole(ctx context.Context, projectID, userID int64) (int, error) {
	var role int
	err := q.queryRow(ctx, `SELECT role_id FROM project_members
		WHERE project_id = ? AND entity_type = 'u' AND entity_id = ?`, projectID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errs.New(errs.NotFound, "", "user %d is not a member of project %d", userID, projectID)
	}
	if err != nil {
		return 0, fmt.Errorf("role of user %d in project %d: %w", userID, projectID, err)
	}
	return role, nil
}

// UserRoles returns the user's direct memberships: project ID -> role.
func (q *Q) UserRoles(ctx context.Context, userID int64) (map[int64]int, error) {
	out := map[int64]int{}
	err := q.eachRole(ctx, userID, nil, 0, func(p int64, r int) { out[p] = r })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PrincipalRoles returns every role the user holds, directly or through
// one of groupIDs: project ID -> roles (several when memberships
// overlap; the caller takes their union).
func (q *Q) PrincipalRoles(ctx context.Context, userID int64, groupIDs []int64) (map[int64][]int, error) {
	out := map[int64][]int{}
	err := q.eachRole(ctx, userID, groupIDs, 0, func(p int64, r int) { out[p] = append(out[p], r) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MemberRoles returns the roles the user holds in projectID, directly or
// through one of groupIDs; none when it is not a member.
func (q *Q) MemberRoles(ctx context.Context, projectID, userID int64, groupIDs []int64) ([]int, error) {
	out := []int{}
	err := q.eachRole(ctx, userID, groupIDs, projectID, func(_ int64, r int) { out = append(out, r) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachRole calls fn with each (project, role) membership of the user or
// its groups, in projectID only when it is not 0.
func (q *Q) eachRole(ctx context.Context, userID int64, groupIDs []int64, projectID int64, fn func(int64, int)) error {
	cond, args := `(entity_type = 'u' AND entity_id = ?)`, []any{userID}
	if ids := uniq(groupIDs); len(ids) > 0 {
		cond += ` OR (entity_type = 'g' AND entity_id IN (` + placeholders(len(ids)) + `))`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	cond = "(" + cond + ")"
	if projectID != 0 {
		cond += ` AND project_id = ?`
		args = append(args, projectID)
	}
	rows, err := q.query(ctx, `SELECT project_id, role_id FROM project_members WHERE `+cond+
		` ORDER BY project_id, entity_type DESC, role_id`, args...)
	if err != nil {
		return fmt.Errorf("roles of user %d: %w", userID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p int64
		var r int
		if err := rows.Scan(&p, &r); err != nil {
			return fmt.Errorf("roles of user %d: %w", userID, err)
		}
		fn(p, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("roles of user %d: %w", userID, err)
	}
	return nil
}

// CountMembersByRole returns, for projectID, role -> number of members.
func (q *Q) CountMembersByRole(ctx context.Context, projectID int64) (map[int]int, error) {
	rows, err := q.query(ctx, `SELECT role_id, count(*) FROM project_members WHERE project_id = ? GROUP BY role_id`,
		projectID)
	if err != nil {
		return nil, fmt.Errorf("count members of project %d: %w", projectID, err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var r, n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("count members of project %d: %w", projectID, err)
		}
		out[r] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count members of project %d: %w", projectID, err)
	}
	return out, nil
}
