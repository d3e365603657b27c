package access

import (
	"context"

	"github.com/berth-registry/berth/internal/meta"
)

// VisibleProjects returns the filter of the projects p may list, the same
// rule as ListProjects: public projects for anyone, plus memberships for
// users, namespaces for robots, everything for system administrators.
// Listings that span projects (repositories, search) narrow their rows
// with it in the store instead of asking about each project.
func (s *Service) VisibleProjects(ctx context.Context, p Principal) (meta.ProjectFilter, error) {
	return s.visibility(ctx, p)
}
