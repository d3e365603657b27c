package access

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// AdminName is the account created at first start.
const AdminName = "admin"

// DefaultProject is the public project created at first start.
const DefaultProject = "library"

// Bootstrap creates the admin account on first start. The password is
// password when given (BERTH_ADMIN_PASSWORD); otherwise a random one is
// generated, written to <dataDir>/admin-password readable only by the
// owner, and returned so the caller can show it once. It returns "" when
// the admin already exists: the variable only matters at first start.
func (s *Service) Bootstrap(ctx context.Context, password, dataDir string) (generated string, err error) {
	_, err = s.db.Q().GetUserByName(ctx, AdminName)
	if err == nil {
		return "", nil
	}
	if !errs.Is(err, errs.NotFound) {
		return "", fmt.Errorf("look up admin: %w", err)
	}
	if password == "" {
		if password, err = NewSecret(); err != nil {
			return "", err
		}
		generated = password
		path := filepath.Join(dataDir, "admin-password")
		if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
	} else if err := CheckPasswordPolicy(password); err != nil {
		return "", fmt.Errorf("BERTH_ADMIN_PASSWORD: %w", err)
	}
	hash, err := HashSecret(password)
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	admin, err := s.db.Q().CreateUser(ctx, meta.User{
		Username: AdminName, Realname: "System Administrator", Comment: "created at first start",
		PasswordHash: hash, SysAdmin: true, CreatedAt: now, UpdatedAt: now,
	})
	if errs.Is(err, errs.Conflict) {
		return "", nil // another node won the race
	}
	if err != nil {
		return "", fmt.Errorf("create admin: %w", err)
	}
	// Like Harbor, start with one public project so that a first push has
	// somewhere to go.
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		_, err := q.CreateProject(ctx, meta.Project{
			Name: DefaultProject, OwnerID: admin.ID, Public: true, StorageLimit: -1,
			Metadata: map[string]string{"public": "true"}, CreatedAt: now, UpdatedAt: now,
		}, RoleProjectAdmin)
		return err
	})
	if err != nil && !errs.Is(err, errs.Conflict) {
		return "", fmt.Errorf("create project %s: %w", DefaultProject, err)
	}
	return generated, nil
}
