package access

import (
	"context"
	"fmt"
	"strconv"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Quotas: Harbor's /quotas API over project storage limits and usage.
// Listing, reading and changing quotas are system permissions (quota
// list, read, update): system administrators and system robots granted
// them. A quota's ID is its project's ID.

// QuotaReference is what a quota listing is narrowed to: Harbor's
// reference ("project", the only kind) and reference_id.
type QuotaReference struct {
	Kind string // "" or "project"
	ID   string // "" or a project ID
}

// ListQuotas lists project quotas if p may.
func (s *Service) ListQuotas(ctx context.Context, p Principal, o meta.ListOptions, ref QuotaReference) ([]meta.Quota, int, error) {
	if !s.CanSystem(p, "quota", ActList) {
		return nil, 0, forbidden(p, "list quotas")
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	switch ref.Kind {
	case "", "project":
	default:
		return []meta.Quota{}, 0, nil // berth has quotas on projects only
	}
	if ref.ID != "" {
		if _, err := strconv.ParseInt(ref.ID, 10, 64); err != nil {
			return nil, 0, errs.New(errs.Invalid, "", "reference_id must be a project ID, got %q", clip(ref.ID))
		}
		o.Query = append(o.Query, meta.Cond{Key: "reference_id", Op: "=", Values: []string{ref.ID}})
	}
	return s.db.Q().ListQuotas(ctx, o)
}

// GetQuota returns quota id (a project's) if p may read quotas.
func (s *Service) GetQuota(ctx context.Context, p Principal, id int64) (meta.Quota, error) {
	if !s.CanSystem(p, "quota", ActRead) {
		return meta.Quota{}, forbidden(p, "read quotas")
	}
	x, err := s.db.Q().GetQuota(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return meta.Quota{}, errs.New(errs.NotFound, "NOT_FOUND", "quota %d not found", id)
	}
	return x, err
}

// UpdateQuota sets quota id's storage limit in bytes (-1: unlimited) if p
// may update quotas. A limit below the current usage is accepted: it
// refuses every push that adds bytes until usage falls under it.
func (s *Service) UpdateQuota(ctx context.Context, p Principal, source string, id int64, hard map[string]int64) error {
	if !s.CanSystem(p, "quota", ActUpdate) {
		return forbidden(p, "update quotas")
	}
	if len(hard) == 0 {
		return errs.New(errs.Invalid, "", "hard must set at least one resource, such as {\"storage\": -1}")
	}
	for k := range hard {
		if k != "storage" {
			return errs.New(errs.Invalid, "", "unknown quota resource %q: berth limits storage only", clip(k))
		}
	}
	limit := hard["storage"]
	if limit < -1 {
		return errs.New(errs.Invalid, "", "hard.storage must be -1 (unlimited) or a number of bytes, got %d", limit)
	}
	q := s.db.Q()
	pr, err := q.GetProject(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return errs.New(errs.NotFound, "NOT_FOUND", "quota %d not found", id)
	}
	if err != nil {
		return err
	}
	if err := q.SetStorageLimit(ctx, id, limit); err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.New(errs.NotFound, "NOT_FOUND", "quota %d not found", id)
		}
		return fmt.Errorf("update quota %d: %w", id, err)
	}
	s.Audit(ctx, meta.AuditLog{ProjectID: pr.ID, Username: p.Name(), Resource: pr.Name, ResourceType: "quota",
		Operation: "update", SourceIP: source, Detail: "storage=" + strconv.FormatInt(limit, 10)})
	return nil
}
