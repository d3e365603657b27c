package scanjob

import (
	"context"
	"regexp"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// maxAllowlistItems bounds one allowlist.
const maxAllowlistItems = 10000

// cveID is what an allowlist item may hold: a CVE id or another advisory
// id (GHSA-…, OSV's), as reports name findings.
var cveID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+){1,8}$`)

// checkAllowlist validates and normalises items (trimmed, deduplicated).
func checkAllowlist(l *meta.CVEAllowlist) error {
	if l.ExpiresAt < 0 {
		return errs.New(errs.Invalid, "", "expires_at must be a unix time in seconds, or null for never")
	}
	if len(l.Items) > maxAllowlistItems {
		return errs.New(errs.Invalid, "", "an allowlist holds at most %d items", maxAllowlistItems)
	}
	seen := map[string]bool{}
	items := []string{}
	for _, it := range l.Items {
		it = strings.TrimSpace(it)
		if len(it) > 64 || !cveID.MatchString(it) {
			return errs.New(errs.Invalid, "", "%q is not a CVE id such as CVE-2024-12345", clip(it))
		}
		if !seen[it] {
			seen[it] = true
			items = append(items, it)
		}
	}
	l.Items = items
	return nil
}

// SystemAllowlist returns the system CVE allowlist; any signed-in user may
// read it, as in Harbor.
func (s *Service) SystemAllowlist(ctx context.Context, p access.Principal) (meta.CVEAllowlist, error) {
	if p.IsAnonymous() {
		return meta.CVEAllowlist{}, errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to read the CVE allowlist")
	}
	return s.db.Q().GetCVEAllowlist(ctx, 0)
}

// SetSystemAllowlist replaces the system CVE allowlist (administrators).
func (s *Service) SetSystemAllowlist(ctx context.Context, p access.Principal, l meta.CVEAllowlist) error {
	if !p.SysAdmin {
		if p.IsAnonymous() {
			return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to change the CVE allowlist")
		}
		return errs.New(errs.Denied, "FORBIDDEN", "only system administrators may change the system CVE allowlist")
	}
	l.ProjectID = 0
	if err := checkAllowlist(&l); err != nil {
		return err
	}
	return s.db.Q().PutCVEAllowlist(ctx, l)
}

// ProjectAllowlist returns project id's CVE allowlist; the caller has
// already been allowed to read the project.
func (s *Service) ProjectAllowlist(ctx context.Context, projectID int64) (meta.CVEAllowlist, error) {
	return s.db.Q().GetCVEAllowlist(ctx, projectID)
}

// SetProjectAllowlist replaces project id's CVE allowlist; the caller has
// already been allowed to update the project.
func (s *Service) SetProjectAllowlist(ctx context.Context, projectID int64, l meta.CVEAllowlist) error {
	l.ProjectID = projectID
	if err := checkAllowlist(&l); err != nil {
		return err
	}
	return s.db.Q().PutCVEAllowlist(ctx, l)
}

// CheckAllowlist validates an allowlist before a project is created or
// updated with it, so that a bad one changes nothing.
func CheckAllowlist(l meta.CVEAllowlist) error { return checkAllowlist(&l) }
