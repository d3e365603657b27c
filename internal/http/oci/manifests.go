package oci

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
)

func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull")) {
		return
	}
	m, err := h.svc.GetManifest(r.Context(), rt.name, rt.arg)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.checkPull(r, rt.name, m); err != nil {
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", m.MediaType)
	hd.Set("Docker-Content-Digest", string(m.Digest))
	hd.Set("Etag", `"`+string(m.Digest)+`"`)
	hd.Set("Content-Length", strconv.Itoa(len(m.Content)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(m.Content)
		h.record(r, "pull", rt.name, rt.arg)
		h.svc.RecordPull(r.Context(), m, rt.arg) // pull count and time; best effort
	}
}

func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull", "push")) {
		return
	}
	limit := h.svc.MaxManifestSize()
	if r.ContentLength > limit {
		h.fail(w, r, errs.New(errs.TooLarge, "SIZE_INVALID", "the manifest is %d bytes; the limit is %d", r.ContentLength, limit))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		h.fail(w, r, errs.Wrap(errs.Invalid, err, "read manifest body"))
		return
	}
	if int64(len(body)) > limit {
		h.fail(w, r, errs.New(errs.TooLarge, "SIZE_INVALID", "the manifest is larger than the limit of %d bytes", limit))
		return
	}
	contentType := r.Header.Get("Content-Type")
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = strings.TrimSpace(contentType[:i])
	}
	res, err := h.svc.PutManifest(r.Context(), rt.name, rt.arg, contentType, body, r.URL.Query()["tag"]...)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Location", "/v2/"+rt.name+"/manifests/"+string(res.Digest))
	hd.Set("Docker-Content-Digest", string(res.Digest))
	if res.Subject != "" {
		hd.Set("OCI-Subject", string(res.Subject))
	}
	for _, t := range res.Tags {
		hd.Add("OCI-Tag", t)
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	ref := string(res.Digest)
	if len(res.Tags) > 0 {
		ref = res.Tags[len(res.Tags)-1]
	}
	h.record(r, "push", rt.name, ref)
}

func (h *Handler) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "delete")) {
		return
	}
	if err := h.svc.DeleteManifest(r.Context(), rt.name, rt.arg); err != nil {
		h.fail(w, r, err)
		return
	}
	h.record(r, "delete", rt.name, rt.arg)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
