package registry

import (
	"context"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// QuotaChecker decides whether a blob may be linked into a repository.
// CheckLink runs inside the transaction that links the blob, before the
// link is made, so that the decision and the link commit together: an
// implementation locks what its decision reads (meta.ProjectQuotas locks
// the project's usage row). It returns an error, typically errs.Denied
// coded DENIED, to refuse; the transaction then rolls back.
type QuotaChecker interface {
	CheckLink(ctx context.Context, q *meta.Q, repo string, d oci.Digest, size int64) error
}

// WithQuota enforces storage quotas on every blob link: upload commits and
// cross-repository mounts.
func WithQuota(c QuotaChecker) Option { return func(s *Service) { s.quota = c } }

// checkQuota asks the QuotaChecker, if any, about linking d into repo.
func (s *Service) checkQuota(ctx context.Context, q *meta.Q, repo meta.Repo, d oci.Digest, size int64) error {
	if s.quota == nil {
		return nil
	}
	return s.quota.CheckLink(ctx, q, repo.Name, d, size)
}
