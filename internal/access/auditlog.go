package access

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Reading and purging the audit log. Writing is Audit, in service.go.

// ListAuditLogs lists audit records. System administrators (and robots
// granted audit-log:list) see everything; other users see the records of
// the projects where they are Project Admin, as in Harbor.
func (s *Service) ListAuditLogs(ctx context.Context, p Principal, o meta.ListOptions) ([]meta.AuditLog, int, error) {
	if p.IsAnonymous() {
		return nil, 0, forbidden(p, "read the audit log")
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	q := s.db.Q()
	if s.CanSystem(p, "audit-log", ActList) {
		return q.ListAudit(ctx, o, 0)
	}
	var ids []int64
	if p.Kind == UserKind {
		roles, err := s.principalRoles(ctx, p)
		if err != nil {
			return nil, 0, err
		}
		for id, role := range roles {
			if RoleAllows(role, ResLog, ActList) {
				ids = append(ids, id)
			}
		}
	}
	switch len(ids) {
	case 0:
		return []meta.AuditLog{}, 0, nil
	case 1:
		return q.ListAudit(ctx, o, ids[0])
	}
	return s.auditOfProjects(ctx, o, ids)
}

// auditPageRows is how many rows auditOfProjects reads per query.
const auditPageRows = 100

// auditOfProjects lists the audit records of several projects: the store
// filters by one project at a time, so each project's first page*size
// records (in the requested order) are read and merged. Deep pages cost
// more; Project Admins of many projects with long logs are rare.
func (s *Service) auditOfProjects(ctx context.Context, o meta.ListOptions, ids []int64) ([]meta.AuditLog, int, error) {
	page, size := max(o.Page, 1), o.PageSize
	if size <= 0 {
		size = 10
	}
	size = min(size, auditPageRows)
	need := page * size
	var all []meta.AuditLog
	total := 0
	for _, id := range ids {
		for pg := 1; ; pg++ {
			rows, n, err := s.db.Q().ListAudit(ctx, meta.ListOptions{Page: pg, PageSize: auditPageRows, Query: o.Query, Sort: o.Sort}, id)
			if err != nil {
				return nil, 0, err
			}
			if pg == 1 {
				total += n
			}
			all = append(all, rows...)
			if len(rows) < auditPageRows || pg*auditPageRows >= need {
				break
			}
		}
	}
	slices.SortStableFunc(all, auditOrder(o.Sort))
	from := min((page-1)*size, len(all))
	return all[from:min(from+size, len(all))], total, nil
}

// auditOrder compares records as the store orders them: by keys (newest
// first when there are none), then by ID. Text compares byte-wise, as the
// store's columns do.
func auditOrder(keys []meta.SortKey) func(a, b meta.AuditLog) int {
	if len(keys) == 0 {
		keys = []meta.SortKey{{Key: "op_time", Desc: true}, {Key: "id", Desc: true}}
	}
	if !slices.ContainsFunc(keys, func(k meta.SortKey) bool { return k.Key == "id" }) {
		keys = append(slices.Clone(keys), meta.SortKey{Key: "id"})
	}
	return func(a, b meta.AuditLog) int {
		for _, k := range keys {
			var c int
			switch k.Key {
			case "op_time":
				c = a.OpTime.Compare(b.OpTime)
			case "username":
				c = strings.Compare(a.Username, b.Username)
			case "resource":
				c = strings.Compare(a.Resource, b.Resource)
			case "resource_type":
				c = strings.Compare(a.ResourceType, b.ResourceType)
			case "operation":
				c = strings.Compare(a.Operation, b.Operation)
			case "id":
				c = cmp.Compare(a.ID, b.ID)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
}

// ListProjectAuditLogs lists the audit records of a project, if p may
// (log:list: Project Admins).
func (s *Service) ListProjectAuditLogs(ctx context.Context, p Principal, ref ProjectRef, o meta.ListOptions) ([]meta.AuditLog, int, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResLog, ActList)
	if err != nil {
		return nil, 0, err
	}
	if err := checkListOptions(o); err != nil {
		return nil, 0, err
	}
	return s.db.Q().ListAudit(ctx, o, pr.ID)
}

// PurgeAudit deletes the audit records older than olderThan and returns
// how many it deleted; the retention setting calls it periodically.
func (s *Service) PurgeAudit(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, errs.New(errs.Invalid, "", "audit retention must be positive, got %s", olderThan)
	}
	n, err := s.db.Q().PurgeAuditBefore(ctx, s.now().Add(-olderThan))
	if err != nil {
		return 0, fmt.Errorf("purge audit log: %w", err)
	}
	if n > 0 {
		s.log.Info("purged audit log", "records", n, "older_than", olderThan)
	}
	return n, nil
}
