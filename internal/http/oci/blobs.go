package oci

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/errs"
	spec "github.com/berth-registry/berth/internal/oci"
)

// getBlob serves GET and HEAD of /v2/<name>/blobs/<digest>, with a single
// byte range when asked.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull")) {
		return
	}
	info, err := h.svc.StatBlob(r.Context(), rt.name, rt.arg)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Docker-Content-Digest", string(info.Digest))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Etag", `"`+string(info.Digest)+`"`)
	hd.Set("Cache-Control", "max-age=31536000")

	status, offset, length := http.StatusOK, int64(0), info.Size
	if rh := r.Header.Get("Range"); rh != "" {
		br, ok, err := spec.ParseRange(rh, info.Size)
		if errors.Is(err, spec.ErrRangeNotSatisfiable) {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", info.Size))
			h.fail(w, r, errs.New(errs.RangeInvalid, "BLOB_UNKNOWN", "range %q is outside the blob of %d bytes", truncate(rh), info.Size))
			return
		}
		if ok {
			status, offset, length = http.StatusPartialContent, br.Start, br.Length()
			hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", br.Start, br.End, info.Size))
		}
	}
	hd.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	// With redirects on, the client fetches the bytes from the object
	// store; HEAD stays here (above), as does a failure to sign.
	if loc, err := h.svc.BlobRedirect(r.Context(), info.Digest); err != nil {
		h.log.Warn("serving a blob directly instead of redirecting", "digest", info.Digest, "err", err)
	} else if loc != "" {
		for _, k := range []string{"Content-Length", "Content-Range", "Content-Type", "Accept-Ranges", "Cache-Control", "Etag"} {
			hd.Del(k)
		}
		hd.Set("Location", loc)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	rc, err := h.svc.ReadBlob(r.Context(), info, offset, length)
	if err != nil {
		hd.Del("Content-Length")
		hd.Del("Content-Range")
		h.fail(w, r, err)
		return
	}
	defer rc.Close()
	w.WriteHeader(status)
	if _, err := sendBody(w, r, rc, length); err != nil && r.Context().Err() == nil {
		h.log.Warn("blob send interrupted", "digest", info.Digest, "err", err)
	}
}

// deleteBlob removes a blob from a repository.
func (h *Handler) deleteBlob(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "delete")) {
		return
	}
	if err := h.svc.DeleteBlob(r.Context(), rt.name, rt.arg); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
