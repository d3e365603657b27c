package oci

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/errs"
)

// statusOf is the one table from error kinds to HTTP status codes.
func statusOf(k errs.Kind) int {
	switch k {
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Denied:
		return http.StatusForbidden
	case errs.Unauthorized:
		return http.StatusUnauthorized
	case errs.Conflict:
		return http.StatusConflict
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.RangeInvalid:
		return http.StatusRequestedRangeNotSatisfiable
	case errs.Unsupported:
		return http.StatusMethodNotAllowed
	}
	return http.StatusInternalServerError
}

// defaultCode names an OCI code for errors that carry none.
func defaultCode(k errs.Kind) string {
	switch k {
	case errs.NotFound:
		return "NOT_FOUND"
	case errs.Invalid:
		return "BAD_REQUEST"
	case errs.Denied:
		return "DENIED"
	case errs.Unauthorized:
		return "UNAUTHORIZED"
	case errs.Conflict:
		return "DENIED"
	case errs.Unavailable:
		return "UNAVAILABLE"
	case errs.TooLarge:
		return "SIZE_INVALID"
	case errs.RangeInvalid:
		return "BLOB_UPLOAD_INVALID"
	case errs.Unsupported:
		return "UNSUPPORTED"
	}
	return "UNKNOWN"
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// fail writes err as an OCI error body. Internal errors are logged with
// their cause and shown to the client without it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.Internal {
		if r.Context().Err() != nil {
			// The client went away; nobody reads the answer.
			e = errs.New(errs.Invalid, "BAD_REQUEST", "request canceled")
		} else {
			h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			e = errs.New(errs.Internal, "UNKNOWN", "internal server error")
		}
	}
	code := e.Code
	if code == "" {
		code = defaultCode(e.Kind)
	}
	status := statusOf(e.Kind)
	if code == PolicyViolation {
		status = http.StatusPreconditionFailed
	}
	if e.Kind == errs.Unavailable {
		w.Header().Set("Retry-After", strconv.Itoa(1))
	}
	body := errorBody{Errors: []errorEntry{{Code: code, Message: e.Msg, Detail: e.Detail}}}
	writeJSON(w, r, status, body)
}

// writeJSON writes v with a Content-Length; HEAD gets the headers only.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	writeJSONType(w, r, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding error", http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
