package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
)

const robotCols = `id, name, description, level, project_id, secret_hash, disabled, duration, expires_at,
	permissions, creator_type, creator_ref, created_at, updated_at`

func scanRobot(row interface{ Scan(...any) error }) (Robot, error) {
	var r Robot
	var project sql.NullInt64
	err := row.Scan(&r.ID, &r.Name, &r.Description, &r.Level, &project, &r.SecretHash, &r.Disabled,
		&r.Duration, &r.ExpiresAt, &r.Permissions, &r.CreatorType, &r.CreatorRef,
		timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	r.ProjectID = project.Int64
	return r, err
}

// The q keys "Level" and "ProjectID" are the spellings Harbor's own UI
// sends (q=Level=project,ProjectID=3).
var robotsListing = func() *listing {
	level := field{col: "level"}
	project := field{col: "COALESCE(project_id, 0)", kind: intField}
	return &listing{
		what: "robots",
		fields: map[string]field{
			"name":       {col: "name"},
			"level":      level,
			"Level":      level,
			"project_id": project,
			"ProjectID":  project,
		},
		sorts: map[string]string{
			"name":          "name",
			"creation_time": "created_at",
			"id":            "id",
		},
		order: []SortKey{{Key: "name"}},
		id:    "id",
	}
}()

// robotPermissions checks the robot's permissions JSON; nil or empty is
// stored as "[]".
func robotPermissions(r *Robot) error {
	if len(r.Permissions) == 0 {
		r.Permissions = []byte("[]")
	}
	if !json.Valid(r.Permissions) {
		return errs.New(errs.Invalid, "", "robot %s: permissions are not JSON", r.Name)
	}
	return nil
}

// projectArg is the project_id column value: NULL for system robots.
func (r Robot) projectArg() any {
	if r.ProjectID == 0 {
		return nil
	}
	return r.ProjectID
}

// CreateRobot stores a new robot and returns it with its ID and times
// (and Permissions "[]" if it had none). A project robot needs an
// existing project (NotFound otherwise); a system robot has ProjectID 0.
// Conflict if the name is taken, without aborting a surrounding
// PostgreSQL transaction.
func (q *Q) CreateRobot(ctx context.Context, r Robot) (Robot, error) {
	if r.Name == "" {
		return Robot{}, errs.New(errs.Invalid, "", "robot name is empty")
	}
	switch {
	case r.Level == RobotProject && r.ProjectID <= 0:
		return Robot{}, errs.New(errs.Invalid, "", "project robot %s has no project", r.Name)
	case r.Level == RobotSystem && r.ProjectID != 0:
		return Robot{}, errs.New(errs.Invalid, "", "system robot %s cannot belong to project %d", r.Name, r.ProjectID)
	case r.Level != RobotProject && r.Level != RobotSystem:
		return Robot{}, errs.New(errs.Invalid, "", "robot level %q is neither %q nor %q", r.Level, RobotSystem, RobotProject)
	}
	if err := robotPermissions(&r); err != nil {
		return Robot{}, err
	}
	if r.Level == RobotProject {
		if _, err := q.GetProject(ctx, r.ProjectID); err != nil {
			return Robot{}, err
		}
	}
	t := now()
	r.CreatedAt, r.UpdatedAt = t, t
	id, ok, err := q.insertID(ctx, `INSERT INTO robots (name, description, level, project_id, secret_hash,
		disabled, duration, expires_at, permissions, creator_type, creator_ref, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		r.Name, r.Description, r.Level, r.projectArg(), r.SecretHash, r.Disabled, r.Duration, r.ExpiresAt,
		string(r.Permissions), r.CreatorType, r.CreatorRef, q.ts(t), q.ts(t))
	if isFKViolation(err) {
		return Robot{}, errs.Wrap(errs.NotFound, err, "project %d not found", r.ProjectID)
	}
	if err != nil {
		return Robot{}, fmt.Errorf("create robot %s: %w", r.Name, err)
	}
	if !ok {
		return Robot{}, errs.New(errs.Conflict, "", "robot %s already exists", r.Name)
	}
	r.ID = id
	return r, nil
}

// GetRobot returns the robot with id.
func (q *Q) GetRobot(ctx context.Context, id int64) (Robot, error) {
	r, err := scanRobot(q.queryRow(ctx, `SELECT `+robotCols+` FROM robots WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Robot{}, errs.New(errs.NotFound, "", "robot %d not found", id)
	}
	if err != nil {
		return Robot{}, fmt.Errorf("get robot %d: %w", id, err)
	}
	return r, nil
}

// GetRobotByName returns the robot stored as name (without the prefix:
// "<project>+<name>" or "<name>").
func (q *Q) GetRobotByName(ctx context.Context, name string) (Robot, error) {
	r, err := scanRobot(q.queryRow(ctx, `SELECT `+robotCols+` FROM robots WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Robot{}, errs.New(errs.NotFound, "", "robot %s not found", name)
	}
	if err != nil {
		return Robot{}, fmt.Errorf("get robot %s: %w", name, err)
	}
	return r, nil
}

// UpdateRobot stores r's description, disabled flag, duration, expiry,
// permissions and secret hash, and sets its update time; name, level,
// project and creator never change.
func (q *Q) UpdateRobot(ctx context.Context, r Robot) error {
	defer q.identityChanged() // generations.go
	if err := robotPermissions(&r); err != nil {
		return err
	}
	n, err := q.execN(ctx, `UPDATE robots SET description = ?, disabled = ?, duration = ?, expires_at = ?,
		permissions = ?, secret_hash = ?, updated_at = ? WHERE id = ?`,
		r.Description, r.Disabled, r.Duration, r.ExpiresAt, string(r.Permissions), r.SecretHash,
		q.ts(now()), r.ID)
	if err != nil {
		return fmt.Errorf("update robot %d: %w", r.ID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "robot %d not found", r.ID)
	}
	return nil
}

// DeleteRobot deletes the robot with id.
func (q *Q) DeleteRobot(ctx context.Context, id int64) error {
	defer q.identityChanged() // generations.go
	n, err := q.execN(ctx, `DELETE FROM robots WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete robot %d: %w", id, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "robot %d not found", id)
	}
	return nil
}

// ListRobots returns a page of the robots matching o, and how many there
// are; without q it lists every robot, system and project. q keys: name
// (= or ~), level (or Level), project_id (or ProjectID; 0 for system
// robots). Sort fields: name (the default), creation_time, id.
func (q *Q) ListRobots(ctx context.Context, o ListOptions) ([]Robot, int, error) {
	out := []Robot{}
	total, err := q.list(ctx, robotsListing, o, robotCols, "robots", &where{}, func(rows *sql.Rows) error {
		r, err := scanRobot(rows)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
