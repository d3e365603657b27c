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

// Scanner is a scanner registration: the built-in scanner (URL empty,
// Builtin set) or a Harbor pluggable scanner adapter at URL. At most one
// registration is the default.
type Scanner struct {
	ID               int64
	UUID             string
	Name             string
	Description      string
	URL              string
	Auth             string // "", "Basic", "Bearer" or "X-ScannerAdapter-API-Key"
	AccessCredential string
	SkipCertVerify   bool
	UseInternalAddr  bool
	Disabled         bool
	IsDefault        bool
	Builtin          bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

const scannerCols = `id, uuid, name, description, url, auth, access_credential, skip_cert_verify,
	use_internal_addr, disabled, is_default, builtin, created_at, updated_at`

func scanScanner(row interface{ Scan(...any) error }) (Scanner, error) {
	var s Scanner
	err := row.Scan(&s.ID, &s.UUID, &s.Name, &s.Description, &s.URL, &s.Auth, &s.AccessCredential,
		&s.SkipCertVerify, &s.UseInternalAddr, &s.Disabled, &s.IsDefault, &s.Builtin,
		timeCol{&s.CreatedAt}, timeCol{&s.UpdatedAt})
	return s, err
}

func scannerNotFound(what string) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "scanner %s not found", what)
}

// CreateScanner stores a registration; Conflict when the name or UUID is
// taken.
func (q *Q) CreateScanner(ctx context.Context, s Scanner) (Scanner, error) {
	t := now()
	s.CreatedAt, s.UpdatedAt = t, t
	id, ok, err := q.insertID(ctx, `INSERT INTO scanners (uuid, name, description, url, auth, access_credential,
		skip_cert_verify, use_internal_addr, disabled, is_default, builtin, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		s.UUID, s.Name, s.Description, s.URL, s.Auth, s.AccessCredential, s.SkipCertVerify, s.UseInternalAddr,
		s.Disabled, s.IsDefault, s.Builtin, q.ts(t), q.ts(t))
	if err != nil {
		return Scanner{}, fmt.Errorf("create scanner %s: %w", s.Name, err)
	}
	if !ok {
		return Scanner{}, errs.New(errs.Conflict, "CONFLICT", "a scanner named %q already exists", s.Name)
	}
	s.ID = id
	return s, nil
}

// GetScanner returns the registration with uuid.
func (q *Q) GetScanner(ctx context.Context, uuid string) (Scanner, error) {
	s, err := scanScanner(q.queryRow(ctx, `SELECT `+scannerCols+` FROM scanners WHERE uuid = ?`, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return Scanner{}, scannerNotFound(uuid)
	}
	if err != nil {
		return Scanner{}, fmt.Errorf("get scanner %s: %w", uuid, err)
	}
	return s, nil
}

// ListScanners returns every registration, the built-in one first.
func (q *Q) ListScanners(ctx context.Context) ([]Scanner, error) {
	rows, err := q.query(ctx, `SELECT `+scannerCols+` FROM scanners ORDER BY builtin DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list scanners: %w", err)
	}
	defer rows.Close()
	out := []Scanner{}
	for rows.Next() {
		s, err := scanScanner(rows)
		if err != nil {
			return nil, fmt.Errorf("list scanners: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// UpdateScanner stores s's editable fields (not UUID, default or
// built-in); Conflict when the new name is taken.
func (q *Q) UpdateScanner(ctx context.Context, s Scanner) error {
	n, err := q.execN(ctx, `UPDATE scanners SET name = ?, description = ?, url = ?, auth = ?, access_credential = ?,
		skip_cert_verify = ?, use_internal_addr = ?, disabled = ?, updated_at = ? WHERE uuid = ?`,
		s.Name, s.Description, s.URL, s.Auth, s.AccessCredential, s.SkipCertVerify, s.UseInternalAddr, s.Disabled,
		q.ts(now()), s.UUID)
	if isUniqueViolation(err) {
		return errs.New(errs.Conflict, "CONFLICT", "a scanner named %q already exists", s.Name)
	}
	if err != nil {
		return fmt.Errorf("update scanner %s: %w", s.UUID, err)
	}
	if n == 0 {
		return scannerNotFound(s.UUID)
	}
	return nil
}

// DeleteScanner removes a registration and the projects' choice of it.
func (q *Q) DeleteScanner(ctx context.Context, uuid string) error {
	n, err := q.execN(ctx, `DELETE FROM scanners WHERE uuid = ?`, uuid)
	if err != nil {
		return fmt.Errorf("delete scanner %s: %w", uuid, err)
	}
	if n == 0 {
		return scannerNotFound(uuid)
	}
	return nil
}

// SetDefaultScanner makes uuid the only default registration.
func (q *Q) SetDefaultScanner(ctx context.Context, uuid string) error {
	return q.atomic(ctx, func(q *Q) error {
		if _, err := q.GetScanner(ctx, uuid); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `UPDATE scanners SET is_default = (uuid = ?), updated_at = ?`, uuid, q.ts(now())); err != nil {
			return fmt.Errorf("set default scanner %s: %w", uuid, err)
		}
		return nil
	})
}

// DefaultScanner returns the default registration; NotFound when none is.
func (q *Q) DefaultScanner(ctx context.Context) (Scanner, error) {
	s, err := scanScanner(q.queryRow(ctx, `SELECT `+scannerCols+` FROM scanners WHERE is_default = ? ORDER BY id LIMIT 1`, true))
	if errors.Is(err, sql.ErrNoRows) {
		return Scanner{}, scannerNotFound("(default)")
	}
	if err != nil {
		return Scanner{}, fmt.Errorf("get default scanner: %w", err)
	}
	return s, nil
}

// ProjectScanner returns the registration project id chose; NotFound when
// it chose none.
func (q *Q) ProjectScanner(ctx context.Context, projectID int64) (Scanner, error) {
	s, err := scanScanner(q.queryRow(ctx, `SELECT `+prefixCols("s.", scannerCols)+` FROM scanners s
		JOIN project_scanners p ON p.scanner_id = s.id WHERE p.project_id = ?`, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return Scanner{}, scannerNotFound(fmt.Sprintf("of project %d", projectID))
	}
	if err != nil {
		return Scanner{}, fmt.Errorf("get scanner of project %d: %w", projectID, err)
	}
	return s, nil
}

// SetProjectScanner makes project id use the registration scannerID.
func (q *Q) SetProjectScanner(ctx context.Context, projectID, scannerID int64) error {
	_, err := q.exec(ctx, `INSERT INTO project_scanners (project_id, scanner_id) VALUES (?, ?)
		ON CONFLICT (project_id) DO UPDATE SET scanner_id = excluded.scanner_id`, projectID, scannerID)
	if err != nil {
		return fmt.Errorf("set scanner of project %d: %w", projectID, err)
	}
	return nil
}

// prefixCols qualifies each column of a comma-separated list with p.
func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
