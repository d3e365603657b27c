package api

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's audit log API: /audit-logs and /projects/{project_name}/logs.

// auditLogJSON is Harbor's AuditLog.
type auditLogJSON struct {
	ID           int64     `json:"id"`
	Username     string    `json:"username"`
	Resource     string    `json:"resource"`
	ResourceType string    `json:"resource_type"`
	Operation    string    `json:"operation"`
	OpTime       time.Time `json:"op_time"`
}

func toAuditLogJSON(a meta.AuditLog) auditLogJSON {
	return auditLogJSON{ID: a.ID, Username: a.Username, Resource: a.Resource, ResourceType: a.ResourceType,
		Operation: a.Operation, OpTime: a.OpTime.UTC()}
}

func (h *Handler) routesAudit() {
	h.handle("GET /audit-logs", h.listAuditLogs)
	h.handle("GET /projects/{project}/logs", h.listProjectLogs)
}

func (h *Handler) listAuditLogs(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	logs, total, err := h.acc.ListAuditLogs(r.Context(), p, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeAuditPage(w, r, o, total, logs)
}

// listProjectLogs serves /projects/{project_name}/logs: the project is
// always named, never numbered, in Harbor's path.
func (h *Handler) listProjectLogs(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	logs, total, err := h.acc.ListProjectAuditLogs(r.Context(), p, access.ProjectRef{Name: r.PathValue("project")}, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeAuditPage(w, r, o, total, logs)
}

func writeAuditPage(w http.ResponseWriter, r *http.Request, o meta.ListOptions, total int, logs []meta.AuditLog) {
	out := make([]auditLogJSON, len(logs))
	for i, a := range logs {
		out[i] = toAuditLogJSON(a)
	}
	writePage(w, r, o, total, out)
}
