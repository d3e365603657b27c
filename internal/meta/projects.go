package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
)

// ProjectFilter limits ListProjects to the projects a caller may see.
type ProjectFilter struct {
	All        bool    // every project (system administrators)
	UserID     int64   // otherwise: public projects, plus those this user is a direct member of
	GroupIDs   []int64 // or one of these groups is
	ExtraIDs   []int64 // and these (a robot's namespaces, group memberships)
	PublicOnly bool    // then keep only public projects
}

const projectCols = `id, name, owner_id, public, storage_limit, metadata, created_at, updated_at`

func scanProject(row interface{ Scan(...any) error }) (Project, error) {
	var p Project
	var md string
	err := row.Scan(&p.ID, &p.Name, &p.OwnerID, &p.Public, &p.StorageLimit, &md,
		timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	if err != nil {
		return Project{}, err
	}
	if err := json.Unmarshal([]byte(md), &p.Metadata); err != nil {
		return Project{}, fmt.Errorf("project %d metadata: %w", p.ID, err)
	}
	return p, nil
}

func projectMetadata(md map[string]string) (string, error) {
	if md == nil {
		return "{}", nil
	}
	b, err := json.Marshal(md)
	return string(b), err
}

var projectsListing = &listing{
	what: "projects",
	fields: map[string]field{
		"name":       {col: "name"},
		"public":     {col: "public", kind: boolField},
		"owner_id":   {col: "owner_id", kind: intField},
		"project_id": {col: "id", kind: intField},
	},
	sorts: map[string]string{
		"name":          "name",
		"creation_time": "created_at",
		"update_time":   "updated_at",
		"project_id":    "id",
	},
	order: []SortKey{{Key: "name"}},
	id:    "id",
}

// CreateProject stores a new project owned by p.OwnerID and makes the
// owner a member with ownerRole, both or neither: inside the caller's
// transaction when q is transactional, else in a transaction of its own.
// Conflict if the name is taken (without aborting a surrounding
// PostgreSQL transaction); NotFound if the owner does not exist.
func (q *Q) CreateProject(ctx context.Context, p Project, ownerRole int) (Project, error) {
	defer q.projectChanged() // generations.go
	if p.Name == "" {
		return Project{}, errs.New(errs.Invalid, "", "project name is empty")
	}
	md, err := projectMetadata(p.Metadata)
	if err != nil {
		return Project{}, fmt.Errorf("create project %s: %w", p.Name, err)
	}
	t := now()
	p.CreatedAt, p.UpdatedAt = t, t
	err = q.atomic(ctx, func(q *Q) error {
		owner, err := q.GetUser(ctx, p.OwnerID)
		if err != nil {
			return err
		}
		id, ok, err := q.insertID(ctx, `INSERT INTO projects (name, owner_id, public, storage_limit, metadata,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
			p.Name, p.OwnerID, p.Public, p.StorageLimit, md, q.ts(t), q.ts(t))
		if err != nil {
			return fmt.Errorf("create project %s: %w", p.Name, err)
		}
		if !ok {
			return errs.New(errs.Conflict, "", "project %s already exists", p.Name)
		}
		p.ID = id
		_, err = q.insertMember(ctx, Member{ProjectID: id, EntityType: MemberUser, EntityID: owner.ID,
			EntityName: owner.Username, RoleID: ownerRole}, t)
		return err
	})
	if err != nil {
		return Project{}, err
	}
	return p, nil
}

// GetProject returns the project with id.
func (q *Q) GetProject(ctx context.Context, id int64) (Project, error) {
	p, err := scanProject(q.queryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, errs.New(errs.NotFound, "", "project %d not found", id)
	}
	if err != nil {
		return Project{}, fmt.Errorf("get project %d: %w", id, err)
	}
	return p, nil
}

// GetProjectByName returns the project called name (exactly).
func (q *Q) GetProjectByName(ctx context.Context, name string) (Project, error) {
	p, err := scanProject(q.queryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Project{}, errs.New(errs.NotFound, "", "project %s not found", name)
	}
	if err != nil {
		return Project{}, fmt.Errorf("get project %s: %w", name, err)
	}
	return p, nil
}

// UpdateProject stores p's public flag, storage limit and metadata, and
// sets its update time; name and owner never change.
func (q *Q) UpdateProject(ctx context.Context, p Project) error {
	defer q.projectChanged() // generations.go
	md, err := projectMetadata(p.Metadata)
	if err != nil {
		return fmt.Errorf("update project %d: %w", p.ID, err)
	}
	n, err := q.execN(ctx, `UPDATE projects SET public = ?, storage_limit = ?, metadata = ?, updated_at = ?
		WHERE id = ?`, p.Public, p.StorageLimit, md, q.ts(now()), p.ID)
	if err != nil {
		return fmt.Errorf("update project %d: %w", p.ID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "project %d not found", p.ID)
	}
	return nil
}

// DeleteProject deletes the project and, by cascade, its members,
// project robots, scanner choice and trust keys, and its CVE allowlist.
// Scan reports are by digest: GC removes those of digests no repository
// holds (DeleteOrphanScanReports). It does not look at repositories: refusing to delete a
// project that still has some (CountReposInProject) is the caller's rule.
func (q *Q) DeleteProject(ctx context.Context, id int64) error {
	defer q.projectChanged()  // generations.go
	defer q.identityChanged() // generations.go
	return q.atomic(ctx, func(q *Q) error {
		n, err := q.execN(ctx, `DELETE FROM projects WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete project %d: %w", id, err)
		}
		if n == 0 {
			return errs.New(errs.NotFound, "", "project %d not found", id)
		}
		// Foreign keys take members, robots, the scanner choice and trust
		// keys; the CVE allowlist has none (project 0 is the system's).
		if _, err := q.exec(ctx, `DELETE FROM cve_allowlists WHERE project_id = ?`, id); err != nil {
			return fmt.Errorf("delete the CVE allowlist of project %d: %w", id, err)
		}
		return nil
	})
}

// ListProjects returns a page of the projects f lets the caller see that
// match o, and how many there are. q keys: name (= or ~), public
// ("true"/"false"), owner_id, project_id. Sort fields: name,
// creation_time, update_time, project_id; the default is name.
func (q *Q) ListProjects(ctx context.Context, o ListOptions, f ProjectFilter) ([]Project, int, error) {
	w := &where{}
	if !f.All {
		cond, args := "public = ?", []any{true}
		if f.UserID > 0 {
			cond += ` OR id IN (SELECT project_id FROM project_members WHERE entity_type = 'u' AND entity_id = ?)`
			args = append(args, f.UserID)
		}
		if ids := uniq(f.GroupIDs); len(ids) > 0 {
			cond += ` OR id IN (SELECT project_id FROM project_members WHERE entity_type = 'g' AND entity_id IN (` +
				placeholders(len(ids)) + `))`
			for _, id := range ids {
				args = append(args, id)
			}
		}
		if ids := uniq(f.ExtraIDs); len(ids) > 0 {
			cond += " OR id IN (" + placeholders(len(ids)) + ")"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		w.add(cond, args...)
	}
	if f.PublicOnly {
		w.add("public = ?", true)
	}
	out := []Project{}
	total, err := q.list(ctx, projectsListing, o, projectCols, "projects", w, func(rows *sql.Rows) error {
		p, err := scanProject(rows)
		out = append(out, p)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// CountReposInProject returns the number of repositories named
// "<projectName>/…". It compares bytes rather than using LIKE, which
// needs no escaping of "_" and is case-sensitive on SQLite too: names
// from "p/" up to, not including, "p0" ('0' follows '/') are exactly those
// with the prefix "p/".
func (q *Q) CountReposInProject(ctx context.Context, projectName string) (int, error) {
	if projectName == "" {
		return 0, errs.New(errs.Invalid, "", "project name is empty")
	}
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM repositories WHERE name >= ? AND name < ?`,
		projectName+"/", projectName+"0").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count repositories of project %s: %w", projectName, err)
	}
	return n, nil
}
