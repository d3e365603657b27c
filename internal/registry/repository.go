package registry

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
)

// DeleteRepository deletes repository name with every manifest, tag,
// reference and upload session in it, as Harbor's repository delete does.
// Only rows go: the bytes stay in the blob store until garbage collection
// finds them unreferenced, so a delete racing a push or a GC cannot leave
// a committed manifest pointing at missing bytes (DESIGN.md, invariant 2).
func (s *Service) DeleteRepository(ctx context.Context, name string) error {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return err
	}
	// One statement: the rows hanging off the repository go by cascade,
	// children and parents of an index together, so no order is needed.
	err = s.db.Q().DeleteRepo(ctx, repo.ID)
	if errs.Is(err, errs.NotFound) {
		// A concurrent delete won; the repository is gone either way, but
		// this caller did not delete it.
		return nameUnknown(name)
	}
	if err != nil {
		return fmt.Errorf("delete repository %s: %w", name, err)
	}
	return nil
}
