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

// Members join users for their names. Group members would join a groups
// table; until one exists, AddMember refuses them.
const (
	memberFrom = `project_members m LEFT JOIN users u ON m.entity_type = 'u' AND u.id = m.entity_id`
	memberCols = `m.id, m.project_id, m.entity_type, m.entity_id, COALESCE(u.username, ''), m.role_id,
		m.created_at, m.updated_at`
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
		"entity_name": {col: "u.username", folded: "u.username_key"},
		"entity_type": {col: "m.entity_type"},
		"entity_id":   {col: "m.entity_id", kind: intField},
		"role_id":     {col: "m.role_id", kind: intField},
	},
	sorts: map[string]string{
		"entity_name":   "COALESCE(u.username_key, '')",
		"role_id":       "m.role_id",
		"creation_time": "m.created_at",
		"id":            "m.id",
	},
	order: []SortKey{{Key: "entity_name"}},
	id:    "m.id",
}

// AddMember gives m.EntityID m.RoleID in m.ProjectID and returns the
// member with its ID, times and EntityName. NotFound if the project or
// the user does not exist, Conflict if the user already is a member
// (neither aborts a surrounding PostgreSQL transaction), Unsupported for
// group members.
func (q *Q) AddMember(ctx context.Context, m Member) (Member, error) {
	switch m.EntityType {
	case MemberUser:
	case MemberGroup:
		return Member{}, errs.New(errs.Unsupported, "", "group members are not supported")
	default:
		return Member{}, errs.New(errs.Invalid, "", "member entity type %q is neither %q nor %q",
			m.EntityType, MemberUser, MemberGroup)
	}
	if _, err := q.GetProject(ctx, m.ProjectID); err != nil {
		return Member{}, err
	}
	u, err := q.GetUser(ctx, m.EntityID)
	if err != nil {
		return Member{}, err
	}
	m.EntityName = u.Username
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
		w.add(`u.username_key LIKE ? ESCAPE '\'`, "%"+escapeLike(strings.ToLower(entityName))+"%")
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
	rows, err := q.query(ctx, `SELECT project_id, role_id FROM project_members
		WHERE entity_type = 'u' AND entity_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("roles of user %d: %w", userID, err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var p int64
		var r int
		if err := rows.Scan(&p, &r); err != nil {
			return nil, fmt.Errorf("roles of user %d: %w", userID, err)
		}
		out[p] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("roles of user %d: %w", userID, err)
	}
	return out, nil
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
