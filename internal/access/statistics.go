package access

import (
	"context"

	"github.com/berth-registry/berth/internal/meta"
)

// Statistics is Harbor's /statistics: how many projects and repositories
// the caller can see, public and private, and for system administrators
// the totals and the storage the registry's content takes.
type Statistics struct {
	meta.Counts
	TotalProjects, TotalRepos int64 // system administrators only; 0 otherwise
	TotalStorage              int64 // system administrators only; 0 otherwise
}

// Statistics counts what p may see: every public project and its
// repositories, and the private ones p can see (all of them for system
// administrators, memberships for users, namespaces for robots). Anonymous
// callers are refused, as in Harbor.
func (s *Service) Statistics(ctx context.Context, p Principal) (Statistics, error) {
	if p.IsAnonymous() {
		return Statistics{}, forbidden(p, "read statistics")
	}
	f, err := s.visibility(ctx, p)
	if err != nil {
		return Statistics{}, err
	}
	q := s.db.Q()
	c, err := q.CountProjects(ctx, f)
	if err != nil {
		return Statistics{}, err
	}
	st := Statistics{Counts: c}
	if p.SysAdmin {
		st.TotalProjects = c.PublicProjects + c.PrivateProjects
		st.TotalRepos = c.PublicRepos + c.PrivateRepos
		if st.TotalStorage, err = q.StoredBytes(ctx); err != nil {
			return Statistics{}, err
		}
	}
	return st, nil
}
