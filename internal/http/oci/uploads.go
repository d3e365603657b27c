package oci

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/errs"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

func blobLocation(name string, d fmt.Stringer) string { return "/v2/" + name + "/blobs/" + d.String() }

// body returns the request body, capped when the service has a chunk limit.
func (h *Handler) body(w http.ResponseWriter, r *http.Request) io.Reader {
	if n := h.svc.MaxChunk(); n > 0 {
		return http.MaxBytesReader(w, r.Body, n)
	}
	return r.Body
}

// startUpload handles POST /v2/<name>/blobs/uploads/: a mount, a
// monolithic upload (?digest=), or the start of a session.
func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull", "push")) {
		return
	}
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		from := q.Get("from")
		// Mounting from another repository needs pull there; without that
		// right the client silently gets an ordinary upload. Without
		// "from", only repositories the caller may read are searched.
		var canRead func(context.Context, string) (bool, error)
		allowed := true
		if from != "" {
			src := repoAccess(from, "pull")
			err := h.auth.Authorize(r, src)
			if sa, ok := h.auth.(ScopeAsker); ok && errs.Is(err, errs.Unauthorized) && !sa.Asked(r, src) {
				// The token was not issued for the source: ask for one that is.
				all := []Access{repoAccess(rt.name, "pull", "push"), src}
				if c := h.auth.Challenge(r, all...); c != "" {
					w.Header().Set("WWW-Authenticate", c)
				}
				h.fail(w, r, err)
				return
			}
			allowed = err == nil
		} else {
			var err error
			if canRead, err = h.visible(r); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		if allowed {
			ok, err := h.svc.Mount(r.Context(), rt.name, mount, from, canRead)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if ok {
				w.Header().Set("Location", "/v2/"+rt.name+"/blobs/"+mount)
				w.Header().Set("Docker-Content-Digest", mount)
				w.Header().Set("Content-Length", "0")
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
	}
	if digest := q.Get("digest"); digest != "" {
		d, err := h.svc.PutBlob(r.Context(), rt.name, digest, h.body(w, r))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Location", blobLocation(rt.name, d))
		w.Header().Set("Docker-Content-Digest", string(d))
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return
	}
	st, err := h.svc.StartUpload(r.Context(), rt.name, q.Get("digest-algorithm"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUploadStatus(w, st, http.StatusAccepted)
}

func (h *Handler) writeUploadStatus(w http.ResponseWriter, st registry.UploadStatus, status int) {
	hd := w.Header()
	hd.Set("Location", uploadLocation(st.Repo, st.ID))
	hd.Set("Docker-Upload-UUID", st.ID)
	// Range is inclusive; an empty upload reports "0-0" as clients expect.
	end := st.Offset - 1
	if end < 0 {
		end = 0
	}
	hd.Set("Range", fmt.Sprintf("0-%d", end))
	if h.chunkMin > 0 {
		hd.Set("OCI-Chunk-Min-Length", strconv.FormatInt(h.chunkMin, 10))
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(status)
}

func (h *Handler) uploadStatus(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull", "push")) {
		return
	}
	st, err := h.svc.UploadStatus(r.Context(), rt.name, rt.arg)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeUploadStatus(w, st, http.StatusNoContent)
}

// chunkStart reads Content-Range; -1 means a streamed chunk.
func chunkStart(r *http.Request) (int64, error) {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return -1, nil
	}
	start, end, err := spec.ParseContentRange(cr)
	if err != nil {
		return 0, errs.New(errs.RangeInvalid, "BLOB_UPLOAD_INVALID", "%v", err)
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		return 0, errs.New(errs.RangeInvalid, "BLOB_UPLOAD_INVALID",
			"Content-Range %q covers %d bytes but Content-Length is %d", truncate(cr), end-start+1, r.ContentLength)
	}
	return start, nil
}

func (h *Handler) patchUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull", "push")) {
		return
	}
	start, err := chunkStart(r)
	if err != nil {
		h.failUpload(w, r, rt, err)
		return
	}
	st, err := h.svc.AppendUpload(r.Context(), rt.name, rt.arg, start, h.body(w, r))
	if err != nil {
		h.failUpload(w, r, rt, err)
		return
	}
	h.writeUploadStatus(w, st, http.StatusAccepted)
}

// failUpload answers a failed chunk; a range error also tells the client
// where the upload stands so that it can resume.
func (h *Handler) failUpload(w http.ResponseWriter, r *http.Request, rt route, err error) {
	if errs.Is(err, errs.RangeInvalid) {
		if st, serr := h.svc.UploadStatus(r.Context(), rt.name, rt.arg); serr == nil {
			end := st.Offset - 1
			if end < 0 {
				end = 0
			}
			w.Header().Set("Location", uploadLocation(st.Repo, st.ID))
			w.Header().Set("Range", fmt.Sprintf("0-%d", end))
			w.Header().Set("Docker-Upload-UUID", st.ID)
		}
	}
	h.fail(w, r, err)
}

func (h *Handler) putUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull", "push")) {
		return
	}
	digest := r.URL.Query().Get("digest")
	if digest == "" {
		h.fail(w, r, errs.New(errs.Invalid, "DIGEST_INVALID", "the digest query parameter is required to complete an upload"))
		return
	}
	start, err := chunkStart(r)
	if err != nil {
		h.failUpload(w, r, rt, err)
		return
	}
	d, err := h.svc.CompleteUpload(r.Context(), rt.name, rt.arg, digest, start, h.body(w, r))
	if err != nil {
		h.failUpload(w, r, rt, err)
		return
	}
	w.Header().Set("Location", blobLocation(rt.name, d))
	w.Header().Set("Docker-Content-Digest", string(d))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func (h *Handler) cancelUpload(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.allow(w, r, repoAccess(rt.name, "pull", "push")) {
		return
	}
	if err := h.svc.CancelUpload(r.Context(), rt.name, rt.arg); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}
