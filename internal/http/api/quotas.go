package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /quotas API. A quota is a project's storage limit and usage;
// its ID is the project's ID.

// quotaRefJSON is what Harbor's QuotaRefObject holds for a project.
type quotaRefJSON struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	OwnerName string `json:"owner_name"`
}

// quotaItemJSON is Harbor's Quota.
type quotaItemJSON struct {
	ID           int64            `json:"id"`
	Ref          quotaRefJSON     `json:"ref"`
	Hard         map[string]int64 `json:"hard"`
	Used         map[string]int64 `json:"used"`
	CreationTime time.Time        `json:"creation_time"`
	UpdateTime   time.Time        `json:"update_time"`
}

func toQuotaJSON(x meta.Quota) quotaItemJSON {
	return quotaItemJSON{
		ID:           x.ProjectID,
		Ref:          quotaRefJSON{ID: x.ProjectID, Name: x.ProjectName, OwnerName: x.OwnerName},
		Hard:         map[string]int64{"storage": x.Hard},
		Used:         map[string]int64{"storage": x.Used},
		CreationTime: x.CreatedAt.UTC(),
		UpdateTime:   x.UpdatedAt.UTC(),
	}
}

// quotaUpdateJSON is Harbor's QuotaUpdateReq.
type quotaUpdateJSON struct {
	Hard map[string]json.Number `json:"hard"`
}

func (h *Handler) routesQuotas() {
	h.handle("GET /quotas", h.listQuotas)
	h.handle("GET /quotas/{id}", h.getQuota)
	h.handle("PUT /quotas/{id}", h.updateQuota)
}

func (h *Handler) listQuotas(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	items, total, err := h.acc.ListQuotas(r.Context(), p, o, access.QuotaReference{
		Kind: q.Get("reference"), ID: q.Get("reference_id"),
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]quotaItemJSON, len(items))
	for i, x := range items {
		out[i] = toQuotaJSON(x)
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) getQuota(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	x, err := h.acc.GetQuota(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toQuotaJSON(x))
}

func (h *Handler) updateQuota(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body quotaUpdateJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	hard := make(map[string]int64, len(body.Hard))
	for k, v := range body.Hard {
		n, err := v.Int64()
		if err != nil {
			h.fail(w, r, errs.New(errs.Invalid, "", "hard.%s must be an integer number of bytes, got %s", truncate(k), truncate(v.String())))
			return
		}
		hard[k] = n
	}
	if err := h.acc.UpdateQuota(r.Context(), p, auth.Source(r), id, hard); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
