package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// Project storage quotas. The limit is projects.storage_limit; the usage,
// the total size of the distinct blobs linked into the project's
// repositories, is kept exact by triggers on repo_blobs in the
// transaction that changes a link (migration 0006 explains how). A quota
// is identified by its project's ID.

// Quota is a project's storage limit and usage, in bytes.
type Quota struct {
	ProjectID   int64
	ProjectName string
	OwnerID     int64
	OwnerName   string // "" when the owner no longer exists
	Hard        int64  // -1: unlimited
	Used        int64
	CreatedAt   time.Time // the project's
	UpdatedAt   time.Time // when the project (and so its limit) last changed
}

const quotaCols = `p.id, p.name, p.owner_id, coalesce(o.username, ''), p.storage_limit, coalesce(u.used, 0),
	p.created_at, p.updated_at`

const quotaFrom = `projects p LEFT JOIN project_usage u ON u.project_id = p.id LEFT JOIN users o ON o.id = p.owner_id`

func scanQuota(row interface{ Scan(...any) error }) (Quota, error) {
	var x Quota
	err := row.Scan(&x.ProjectID, &x.ProjectName, &x.OwnerID, &x.OwnerName, &x.Hard, &x.Used,
		timeCol{&x.CreatedAt}, timeCol{&x.UpdatedAt})
	return x, err
}

var quotasListing = &listing{
	what: "quotas",
	fields: map[string]field{
		"reference_id": {col: "p.id", kind: intField},
	},
	sorts: map[string]string{
		"hard.storage":  "p.storage_limit",
		"used.storage":  "coalesce(u.used, 0)",
		"creation_time": "p.created_at",
		"update_time":   "p.updated_at",
		"id":            "p.id",
	},
	order: []SortKey{{Key: "id"}},
	id:    "p.id",
}

// ListQuotas returns a page of the projects' quotas and how many there
// are. q keys: reference_id (the project ID). Sort fields: hard.storage,
// used.storage, creation_time, update_time, id (the default).
func (q *Q) ListQuotas(ctx context.Context, o ListOptions) ([]Quota, int, error) {
	out := []Quota{}
	total, err := q.list(ctx, quotasListing, o, quotaCols, quotaFrom, &where{}, func(rows *sql.Rows) error {
		x, err := scanQuota(rows)
		out = append(out, x)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// GetQuota returns the quota of project id.
func (q *Q) GetQuota(ctx context.Context, projectID int64) (Quota, error) {
	x, err := scanQuota(q.queryRow(ctx, `SELECT `+quotaCols+` FROM `+quotaFrom+` WHERE p.id = ?`, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return Quota{}, errs.New(errs.NotFound, "", "quota %d not found", projectID)
	}
	if err != nil {
		return Quota{}, fmt.Errorf("get quota %d: %w", projectID, err)
	}
	return x, nil
}

// ProjectUsage returns the bytes project id uses.
func (q *Q) ProjectUsage(ctx context.Context, projectID int64) (int64, error) {
	var used int64
	err := q.queryRow(ctx, `SELECT coalesce((SELECT used FROM project_usage WHERE project_id = ?), 0)`, projectID).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("usage of project %d: %w", projectID, err)
	}
	return used, nil
}

// SetStorageLimit sets project id's hard limit in bytes (-1: unlimited).
func (q *Q) SetStorageLimit(ctx context.Context, projectID, limit int64) error {
	defer q.projectChanged() // generations.go
	if limit < -1 {
		return errs.Invalidf("storage limit must be -1 (unlimited) or a number of bytes, got %d", limit)
	}
	n, err := q.execN(ctx, `UPDATE projects SET storage_limit = ?, updated_at = ? WHERE id = ?`, limit, q.ts(now()), projectID)
	if err != nil {
		return fmt.Errorf("set storage limit of project %d: %w", projectID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "project %d not found", projectID)
	}
	return nil
}

// ProjectQuotas enforces project storage quotas when the registry links a
// blob into a repository (registry.WithQuota).
type ProjectQuotas struct{}

// CheckLink refuses, with a Denied error coded DENIED, to link blob d of
// size bytes into repository repo when that would take the repository's
// project over its limit. It must run inside the transaction that then
// links the blob: it locks the project's usage row (PostgreSQL FOR
// UPDATE; SQLite's transaction owns the write lock already), so that
// concurrent pushes into one project are checked one after the other
// against a total that includes every link committed before.
func (ProjectQuotas) CheckLink(ctx context.Context, q *Q, repo string, d oci.Digest, size int64) error {
	name, _, ok := strings.Cut(repo, "/")
	if !ok {
		return nil
	}
	var (
		id    int64
		limit int64
	)
	err := q.queryRow(ctx, `SELECT id, storage_limit FROM projects WHERE name = ?`, name).Scan(&id, &limit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no project, no quota (an open registry)
	}
	if err != nil {
		return fmt.Errorf("quota of project %s: %w", name, err)
	}
	if limit < 0 {
		return nil
	}
	lock := ""
	if q.pg() {
		lock = " FOR UPDATE"
	}
	var used int64
	err = q.queryRow(ctx, `SELECT used FROM project_usage WHERE project_id = ?`+lock, id).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the project was deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("usage of project %s: %w", name, err)
	}
	// A new statement: on PostgreSQL it sees every link committed before
	// the lock was granted.
	var held bool
	err = q.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM project_blobs WHERE project_id = ? AND digest = ?)`, id, d).Scan(&held)
	if err != nil {
		return fmt.Errorf("usage of project %s: %w", name, err)
	}
	if held || used+size <= limit {
		return nil
	}
	return errs.New(errs.Denied, "DENIED",
		"quota exceeded: project %q would use %s of its %s limit (%s used, this blob is %s)",
		name, FormatBytes(used+size), FormatBytes(limit), FormatBytes(used), FormatBytes(size))
}

// FormatBytes writes n bytes in binary units, as "1.2 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n), 0
	for v >= unit*unit || v <= -unit*unit {
		v /= unit
		exp++
	}
	v /= unit
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
}
