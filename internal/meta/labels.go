package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// Label scopes, as Harbor names them.
const (
	LabelGlobal  = "g"
	LabelProject = "p"
)

// Label is a global label (Scope LabelGlobal, ProjectID 0) or a label of
// one project (LabelProject). Names are unique within a scope.
type Label struct {
	ID          int64
	Name        string
	Description string
	Color       string
	Scope       string
	ProjectID   int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const labelCols = `id, name, description, color, scope, coalesce(project_id, 0), created_at, updated_at`

func scanLabel(row interface{ Scan(...any) error }) (Label, error) {
	var l Label
	err := row.Scan(&l.ID, &l.Name, &l.Description, &l.Color, &l.Scope, &l.ProjectID,
		timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt})
	return l, err
}

func labelNotFound(id int64) error {
	return errs.New(errs.NotFound, "", "label %d not found", id)
}

// labelOwner is the project_id column's value: NULL for global labels.
func labelOwner(l Label) any {
	if l.Scope == LabelGlobal {
		return nil
	}
	return l.ProjectID
}

func labelConflict(l Label) error {
	if l.Scope == LabelGlobal {
		return errs.New(errs.Conflict, "", "a global label named %s already exists", l.Name)
	}
	return errs.New(errs.Conflict, "", "project %d already has a label named %s", l.ProjectID, l.Name)
}

// CreateLabel stores a new label. Conflict if its scope already has one of
// that name; NotFound if its project does not exist.
func (q *Q) CreateLabel(ctx context.Context, l Label) (Label, error) {
	if l.Scope != LabelGlobal && l.Scope != LabelProject {
		return Label{}, errs.Invalidf("label scope must be %q or %q, got %q", LabelGlobal, LabelProject, l.Scope)
	}
	if l.Scope == LabelGlobal {
		l.ProjectID = 0
	}
	t := now()
	l.CreatedAt, l.UpdatedAt = t, t
	id, ok, err := q.insertID(ctx, `INSERT INTO labels (name, description, color, scope, project_id, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		l.Name, l.Description, l.Color, l.Scope, labelOwner(l), q.ts(t), q.ts(t))
	if isFKViolation(err) {
		return Label{}, errs.Wrap(errs.NotFound, err, "project %d not found", l.ProjectID)
	}
	if err != nil {
		return Label{}, fmt.Errorf("create label %s: %w", l.Name, err)
	}
	if !ok {
		return Label{}, labelConflict(l)
	}
	l.ID = id
	return l, nil
}

// GetLabel returns the label with id.
func (q *Q) GetLabel(ctx context.Context, id int64) (Label, error) {
	l, err := scanLabel(q.queryRow(ctx, `SELECT `+labelCols+` FROM labels WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Label{}, labelNotFound(id)
	}
	if err != nil {
		return Label{}, fmt.Errorf("get label %d: %w", id, err)
	}
	return l, nil
}

// UpdateLabel stores l's name, description and color; its scope and
// project never change. Conflict if the new name is taken in its scope.
func (q *Q) UpdateLabel(ctx context.Context, l Label) error {
	return q.atomic(ctx, func(q *Q) error {
		cur, err := q.GetLabel(ctx, l.ID)
		if err != nil {
			return err
		}
		var taken bool
		err = q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM labels WHERE name = ? AND scope = ? AND id <> ?
			AND coalesce(project_id, 0) = ?)`, l.Name, cur.Scope, l.ID, cur.ProjectID).Scan(&taken)
		if err != nil {
			return fmt.Errorf("update label %d: %w", l.ID, err)
		}
		if taken {
			cur.Name = l.Name
			return labelConflict(cur)
		}
		n, err := q.execN(ctx, `UPDATE labels SET name = ?, description = ?, color = ?, updated_at = ? WHERE id = ?`,
			l.Name, l.Description, l.Color, q.ts(now()), l.ID)
		if err != nil {
			return fmt.Errorf("update label %d: %w", l.ID, err)
		}
		if n == 0 {
			return labelNotFound(l.ID)
		}
		return nil
	})
}

// DeleteLabel deletes the label and, by cascade, its attachments to
// artifacts.
func (q *Q) DeleteLabel(ctx context.Context, id int64) error {
	n, err := q.execN(ctx, `DELETE FROM labels WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete label %d: %w", id, err)
	}
	if n == 0 {
		return labelNotFound(id)
	}
	return nil
}

var labelsListing = &listing{
	what: "labels",
	fields: map[string]field{
		"name":       {col: "name"},
		"scope":      {col: "scope"},
		"project_id": {col: "coalesce(project_id, 0)", kind: intField},
		"id":         {col: "id", kind: intField},
	},
	sorts: map[string]string{
		"name":          "name",
		"creation_time": "created_at",
		"update_time":   "updated_at",
		"id":            "id",
	},
	order: []SortKey{{Key: "id"}},
	id:    "id",
}

// ListLabels returns a page of the labels of one scope (global, or the
// labels of projectID) that match o, and how many there are. q keys:
// name (= or ~), id. Sort fields: name, creation_time, update_time, id
// (the default).
func (q *Q) ListLabels(ctx context.Context, o ListOptions, scope string, projectID int64) ([]Label, int, error) {
	w := &where{}
	switch scope {
	case LabelGlobal:
		w.add("scope = ?", LabelGlobal)
	case LabelProject:
		w.add("scope = ? AND project_id = ?", LabelProject, projectID)
	default:
		return nil, 0, errs.Invalidf("label scope must be %q or %q, got %q", LabelGlobal, LabelProject, scope)
	}
	out := []Label{}
	total, err := q.list(ctx, labelsListing, o, labelCols, "labels", w, func(rows *sql.Rows) error {
		l, err := scanLabel(rows)
		out = append(out, l)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// AddArtifactLabel attaches label labelID to the artifact d of the
// repository. Conflict if it is attached already; NotFound if the
// artifact or the label does not exist.
func (q *Q) AddArtifactLabel(ctx context.Context, repoID int64, d oci.Digest, labelID int64) error {
	n, err := q.execN(ctx, `INSERT INTO artifact_labels (repo_id, digest, label_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, repoID, d, labelID, q.ts(now()))
	if isFKViolation(err) {
		return errs.Wrap(errs.NotFound, err, "artifact %s or label %d not found", d, labelID)
	}
	if err != nil {
		return fmt.Errorf("add label %d to %s: %w", labelID, d, err)
	}
	if n == 0 {
		return errs.New(errs.Conflict, "", "label %d is already added to artifact %s", labelID, d)
	}
	return nil
}

// RemoveArtifactLabel detaches label labelID from the artifact; NotFound
// if it was not attached.
func (q *Q) RemoveArtifactLabel(ctx context.Context, repoID int64, d oci.Digest, labelID int64) error {
	n, err := q.execN(ctx, `DELETE FROM artifact_labels WHERE repo_id = ? AND digest = ? AND label_id = ?`, repoID, d, labelID)
	if err != nil {
		return fmt.Errorf("remove label %d from %s: %w", labelID, d, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "label %d is not added to artifact %s", labelID, d)
	}
	return nil
}

// LabelsOf returns the labels attached to each of the repository's
// artifacts ds, in the order they were attached. Artifacts without labels
// are absent from the map. One query per chunkSize digests.
func (q *Q) LabelsOf(ctx context.Context, repoID int64, ds []oci.Digest) (map[oci.Digest][]Label, error) {
	out := map[oci.Digest][]Label{}
	err := chunks(uniq(ds), chunkSize, func(part []oci.Digest) error {
		args := []any{repoID}
		for _, d := range part {
			args = append(args, d)
		}
		rows, err := q.query(ctx, `SELECT a.digest, l.id, l.name, l.description, l.color, l.scope,
			coalesce(l.project_id, 0), l.created_at, l.updated_at
			FROM artifact_labels a JOIN labels l ON l.id = a.label_id
			WHERE a.repo_id = ? AND a.digest IN (`+placeholders(len(part))+`)
			ORDER BY a.digest, a.created_at, l.id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				d oci.Digest
				l Label
			)
			if err := rows.Scan(&d, &l.ID, &l.Name, &l.Description, &l.Color, &l.Scope, &l.ProjectID,
				timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt}); err != nil {
				return err
			}
			out[d] = append(out[d], l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("labels of artifacts in repository %d: %w", repoID, err)
	}
	return out, nil
}
