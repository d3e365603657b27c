package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
)

// Repositories as Harbor's API lists them: with their description, pull
// count, artifact count and project. A project's repositories are the
// names from "p/" up to, not including, "p0" (see CountReposInProject),
// so a project's page is a range of the repositories' name index.

// RepoInfo is a repository with what Harbor's API shows about it.
type RepoInfo struct {
	Repo
	Description   string
	PullCount     int64
	ArtifactCount int64 // artifacts that stand on their own (see rootCond)
	// The repository's project, filled by ListVisibleRepos.
	ProjectID     int64
	ProjectName   string
	ProjectPublic bool
}

// repoInfoCols reads a repository r. The artifact count is a correlated
// subquery in the select list, so it runs for the rows of the page only
// (the listing reads the name index in order and stops at the page).
const repoInfoCols = `r.id, r.name, r.created_at, r.updated_at, r.description, r.pull_count,
	(SELECT count(*) FROM manifests m WHERE m.repo_id = r.id AND ` + rootCond + `)`

func scanRepoInfo(row interface{ Scan(...any) error }, project bool) (RepoInfo, error) {
	var r RepoInfo
	dest := []any{&r.ID, &r.Name, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, &r.Description, &r.PullCount,
		&r.ArtifactCount}
	if project {
		dest = append(dest, &r.ProjectID, &r.ProjectName, &r.ProjectPublic)
	}
	err := row.Scan(dest...)
	return r, err
}

var reposListing = &listing{
	what: "repositories",
	fields: map[string]field{
		"id":            {col: "r.id", kind: intField},
		"name":          {col: "r.name"},
		"creation_time": {col: "r.created_at", kind: timeField},
		"update_time":   {col: "r.updated_at", kind: timeField},
	},
	sorts: map[string]string{
		"id":            "r.id",
		"name":          "r.name",
		"creation_time": "r.created_at",
		"update_time":   "r.updated_at",
		"pull_count":    "r.pull_count",
	},
	order: []SortKey{{Key: "name"}},
	id:    "r.id",
}

// ListProjectRepos returns a page of the repositories of project
// projectName matching o, and how many there are. q keys: id, name (the
// full "project/repo" name; = or ~), creation_time, update_time. Sort
// fields: id, name, creation_time, update_time, pull_count; the default
// is name. ProjectID and the other project fields are left zero.
func (q *Q) ListProjectRepos(ctx context.Context, projectName string, o ListOptions) ([]RepoInfo, int, error) {
	if projectName == "" {
		return nil, 0, errs.New(errs.Invalid, "", "project name is empty")
	}
	w := &where{}
	w.add("r.name >= ? AND r.name < ?", projectName+"/", projectName+"0")
	out := []RepoInfo{}
	total, err := q.list(ctx, reposListing, o, repoInfoCols, "repositories r", w, func(rows *sql.Rows) error {
		r, err := scanRepoInfo(rows, false)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// ListVisibleRepos returns a page of the repositories, across projects,
// of the projects f lets the caller see, matching o (as for
// ListProjectRepos), with their projects, and how many there are.
func (q *Q) ListVisibleRepos(ctx context.Context, o ListOptions, f ProjectFilter) ([]RepoInfo, int, error) {
	w := &where{}
	// The same rule as ListProjects, over the projects alias p.
	if !f.All {
		cond, args := "p.public = ?", []any{true}
		if f.UserID > 0 {
			cond += ` OR p.id IN (SELECT project_id FROM project_members WHERE entity_type = 'u' AND entity_id = ?)`
			args = append(args, f.UserID)
		}
		if ids := uniq(f.ExtraIDs); len(ids) > 0 {
			cond += " OR p.id IN (" + placeholders(len(ids)) + ")"
			for _, id := range ids {
				args = append(args, id)
			}
		}
		w.add(cond, args...)
	}
	if f.PublicOnly {
		w.add("p.public = ?", true)
	}
	from := `repositories r JOIN projects p ON r.name >= (p.name || '/') AND r.name < (p.name || '0')`
	out := []RepoInfo{}
	total, err := q.list(ctx, reposListing, o, repoInfoCols+`, p.id, p.name, p.public`, from, w, func(rows *sql.Rows) error {
		r, err := scanRepoInfo(rows, true)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// GetRepoInfo returns the repository called name.
func (q *Q) GetRepoInfo(ctx context.Context, name string) (RepoInfo, error) {
	r, err := scanRepoInfo(q.queryRow(ctx, `SELECT `+repoInfoCols+` FROM repositories r WHERE r.name = ?`, name), false)
	if errors.Is(err, sql.ErrNoRows) {
		return RepoInfo{}, errs.New(errs.NotFound, "", "repository %s not found", name)
	}
	if err != nil {
		return RepoInfo{}, fmt.Errorf("get repository %s: %w", name, err)
	}
	return r, nil
}

// SetRepoDescription stores the repository's description and sets its
// update time.
func (q *Q) SetRepoDescription(ctx context.Context, id int64, description string) error {
	n, err := q.execN(ctx, `UPDATE repositories SET description = ?, updated_at = ? WHERE id = ?`,
		description, q.ts(now()), id)
	if err != nil {
		return fmt.Errorf("update repository %d: %w", id, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "repository %d not found", id)
	}
	return nil
}
