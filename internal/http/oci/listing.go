package oci

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-registry/berth/internal/errs"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// pageParams reads n and last; n is -1 when absent.
func pageParams(r *http.Request) (last string, n int, err error) {
	q := r.URL.Query()
	last = q.Get("last")
	n = -1
	if s := q.Get("n"); s != "" {
		v, perr := strconv.Atoi(s)
		if perr != nil || v < 0 {
			return "", 0, errs.New(errs.Invalid, "PAGINATION_NUMBER_INVALID", "n must be a non-negative number, got %q", truncate(s))
		}
		n = v
	}
	if len(last) > 1024 {
		return "", 0, errs.New(errs.Invalid, "BAD_REQUEST", "last is too long")
	}
	return last, n, nil
}

// setNext adds the Link header that points at the next page.
func setNext(w http.ResponseWriter, path string, p registry.Page, n int) {
	if !p.More || len(p.Items) == 0 {
		return
	}
	q := url.Values{}
	q.Set("last", p.Items[len(p.Items)-1])
	if n > 0 {
		q.Set("n", strconv.Itoa(n))
	}
	w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
}

func (h *Handler) catalog(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}) {
		return
	}
	last, n, err := pageParams(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var visible func(context.Context, string) (bool, error)
	if f, ok := h.auth.(CatalogFilter); ok {
		if visible, err = f.Visible(r); err != nil {
			h.fail(w, r, err)
			return
		}
	}

	p, err := h.svc.Catalog(r.Context(), last, n, visible)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setNext(w, "/v2/_catalog", p, n)
	writeJSON(w, r, http.StatusOK, struct {
		Repositories []string `json:"repositories"`
	}{p.Items})
}

func (h *Handler) tags(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull")) {
		return
	}
	last, n, err := pageParams(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.svc.ListTags(r.Context(), rt.name, last, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setNext(w, "/v2/"+rt.name+"/tags/list", p, n)
	writeJSON(w, r, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, p.Items})
}

func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull")) {
		return
	}
	at := r.URL.Query().Get("artifactType")
	descs, err := h.svc.Referrers(r.Context(), rt.name, rt.arg, at)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if at != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSONType(w, r, http.StatusOK, spec.MediaTypeImageIndex, struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []spec.Descriptor `json:"manifests"`
	}{2, spec.MediaTypeImageIndex, descs})
}
