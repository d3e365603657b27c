package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const auditCols = `id, project_id, username, resource, resource_type, operation, source_ip, detail, op_time`

func scanAudit(row interface{ Scan(...any) error }) (AuditLog, error) {
	var a AuditLog
	err := row.Scan(&a.ID, &a.ProjectID, &a.Username, &a.Resource, &a.ResourceType, &a.Operation,
		&a.SourceIP, &a.Detail, timeCol{&a.OpTime})
	return a, err
}

var auditListing = &listing{
	what: "audit logs",
	fields: map[string]field{
		"username":      {col: "username"},
		"resource":      {col: "resource"},
		"resource_type": {col: "resource_type"},
		"operation":     {col: "operation"},
		"op_time":       {col: "op_time", kind: timeField},
	},
	sorts: map[string]string{
		"op_time":       "op_time",
		"username":      "username",
		"resource":      "resource",
		"resource_type": "resource_type",
		"operation":     "operation",
		"id":            "id",
	},
	order: []SortKey{{Key: "op_time", Desc: true}, {Key: "id", Desc: true}},
	id:    "id",
}

// InsertAudit records a and returns its ID. A zero OpTime means now.
func (q *Q) InsertAudit(ctx context.Context, a AuditLog) (int64, error) {
	if a.OpTime.IsZero() {
		a.OpTime = now()
	}
	id, _, err := q.insertID(ctx, `INSERT INTO audit_logs (project_id, username, resource, resource_type,
		operation, source_ip, detail, op_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.ProjectID, a.Username, a.Resource, a.ResourceType, a.Operation, a.SourceIP, a.Detail, q.ts(a.OpTime))
	if err != nil {
		return 0, fmt.Errorf("record audit %s %s: %w", a.Operation, a.Resource, err)
	}
	return id, nil
}

// ListAudit returns a page of the audit records of projectID (0 for all,
// system events included) that match o, and how many there are. q keys:
// username, resource, resource_type, operation (=, ~, in) and op_time
// (= or range, "2006-01-02 15:04:05" in UTC or RFC 3339). Sort fields:
// op_time, username, resource, resource_type, operation, id; the default
// is newest first.
func (q *Q) ListAudit(ctx context.Context, o ListOptions, projectID int64) ([]AuditLog, int, error) {
	w := &where{}
	if projectID != 0 {
		w.add("project_id = ?", projectID)
	}
	out := []AuditLog{}
	total, err := q.list(ctx, auditListing, o, auditCols, "audit_logs", w, func(rows *sql.Rows) error {
		a, err := scanAudit(rows)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// PurgeAuditBefore deletes the records older than t and returns how many
// it deleted.
func (q *Q) PurgeAuditBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.execN(ctx, `DELETE FROM audit_logs WHERE op_time < ?`, q.ts(t))
	if err != nil {
		return 0, fmt.Errorf("purge audit logs before %v: %w", t, err)
	}
	return n, nil
}
