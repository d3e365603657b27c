package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Trust keys: the cosign public keys and Notation root certificates a
// project trusts for content trust (internal/signature verifies with
// them). Rows are only stored and listed here; parsing is the caller's.

// Types of trust keys.
const (
	TrustCosign   = "cosign"
	TrustNotation = "notation"
)

// TrustKey is one trusted key or certificate of a project.
type TrustKey struct {
	ID          int64
	ProjectID   int64
	Type        string // TrustCosign or TrustNotation
	Name        string
	PEM         string
	Fingerprint string
	CreatedAt   time.Time
}

const trustKeyCols = `id, project_id, type, name, pem, fingerprint, created_at`

func scanTrustKey(row interface{ Scan(...any) error }) (TrustKey, error) {
	var k TrustKey
	err := row.Scan(&k.ID, &k.ProjectID, &k.Type, &k.Name, &k.PEM, &k.Fingerprint, timeCol{&k.CreatedAt})
	return k, err
}

// AddTrustKey stores k. Conflict if the project has one of that type and
// name; NotFound if the project does not exist.
func (q *Q) AddTrustKey(ctx context.Context, k TrustKey) (TrustKey, error) {
	if k.Type != TrustCosign && k.Type != TrustNotation {
		return TrustKey{}, errs.Invalidf("trust key type must be %q or %q, got %q", TrustCosign, TrustNotation, k.Type)
	}
	k.CreatedAt = now()
	id, ok, err := q.insertID(ctx, `INSERT INTO trust_keys (project_id, type, name, pem, fingerprint, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		k.ProjectID, k.Type, k.Name, k.PEM, k.Fingerprint, q.ts(k.CreatedAt))
	if isFKViolation(err) {
		return TrustKey{}, errs.Wrap(errs.NotFound, err, "project %d not found", k.ProjectID)
	}
	if err != nil {
		return TrustKey{}, fmt.Errorf("add trust key %s: %w", k.Name, err)
	}
	if !ok {
		return TrustKey{}, errs.New(errs.Conflict, "", "the project already trusts a %s key named %s", k.Type, k.Name)
	}
	k.ID = id
	return k, nil
}

// ListTrustKeys returns the project's trust keys, by type and name.
func (q *Q) ListTrustKeys(ctx context.Context, projectID int64) ([]TrustKey, error) {
	rows, err := q.query(ctx, `SELECT `+trustKeyCols+` FROM trust_keys WHERE project_id = ? ORDER BY type, name`, projectID)
	if err != nil {
		return nil, fmt.Errorf("list trust keys of project %d: %w", projectID, err)
	}
	defer rows.Close()
	out := []TrustKey{}
	for rows.Next() {
		k, err := scanTrustKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list trust keys of project %d: %w", projectID, err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// GetTrustKey returns the project's trust key id.
func (q *Q) GetTrustKey(ctx context.Context, projectID, id int64) (TrustKey, error) {
	k, err := scanTrustKey(q.queryRow(ctx, `SELECT `+trustKeyCols+` FROM trust_keys WHERE project_id = ? AND id = ?`, projectID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return TrustKey{}, errs.New(errs.NotFound, "", "trust key %d not found", id)
	}
	if err != nil {
		return TrustKey{}, fmt.Errorf("get trust key %d: %w", id, err)
	}
	return k, nil
}

// DeleteTrustKey deletes the project's trust key id.
func (q *Q) DeleteTrustKey(ctx context.Context, projectID, id int64) error {
	n, err := q.execN(ctx, `DELETE FROM trust_keys WHERE project_id = ? AND id = ?`, projectID, id)
	if err != nil {
		return fmt.Errorf("delete trust key %d: %w", id, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "trust key %d not found", id)
	}
	return nil
}
