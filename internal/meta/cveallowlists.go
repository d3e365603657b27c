package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// CVEAllowlist is Harbor's CVE allowlist: the system's (ProjectID 0) or a
// project's. ExpiresAt is unix seconds; 0 means never.
type CVEAllowlist struct {
	ProjectID int64
	ExpiresAt int64
	Items     []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Expired reports whether the list no longer applies at t.
func (l CVEAllowlist) Expired(t time.Time) bool {
	return l.ExpiresAt > 0 && t.Unix() >= l.ExpiresAt
}

// GetCVEAllowlist returns the allowlist of project id (0: the system's);
// one never set is empty, never expiring, with zero times.
func (q *Q) GetCVEAllowlist(ctx context.Context, projectID int64) (CVEAllowlist, error) {
	l := CVEAllowlist{ProjectID: projectID}
	var exp sql.NullInt64
	var items string
	err := q.queryRow(ctx, `SELECT expires_at, items, created_at, updated_at FROM cve_allowlists WHERE project_id = ?`,
		projectID).Scan(&exp, &items, timeCol{&l.CreatedAt}, timeCol{&l.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		l.Items = []string{}
		return l, nil
	}
	if err != nil {
		return CVEAllowlist{}, fmt.Errorf("get cve allowlist of project %d: %w", projectID, err)
	}
	l.ExpiresAt = exp.Int64
	if err := json.Unmarshal([]byte(items), &l.Items); err != nil {
		return CVEAllowlist{}, fmt.Errorf("cve allowlist of project %d: %w", projectID, err)
	}
	return l, nil
}

// PutCVEAllowlist replaces the allowlist of l.ProjectID.
func (q *Q) PutCVEAllowlist(ctx context.Context, l CVEAllowlist) error {
	if l.Items == nil {
		l.Items = []string{}
	}
	items, err := json.Marshal(l.Items)
	if err != nil {
		return err
	}
	var exp any
	if l.ExpiresAt > 0 {
		exp = l.ExpiresAt
	}
	t := q.ts(now())
	_, err = q.exec(ctx, `INSERT INTO cve_allowlists (project_id, expires_at, items, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET expires_at = excluded.expires_at,
		items = excluded.items, updated_at = excluded.updated_at`, l.ProjectID, exp, string(items), t, t)
	if err != nil {
		return fmt.Errorf("put cve allowlist of project %d: %w", l.ProjectID, err)
	}
	return nil
}
