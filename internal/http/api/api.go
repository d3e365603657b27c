// Package api serves Harbor's management API under /api/v2.0: the same
// paths, field names, paging, q= queries and error body, so that Harbor's
// clients and scripts work against berth. Handlers decode, call one
// access (or registry) method and encode; rules live in those packages.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scanjob"
)

// Prefix is where the API lives.
const Prefix = "/api/v2.0"

// Handler serves /api/v2.0.
type Handler struct {
	acc      *access.Service
	authn    *auth.Authn
	reg      *registry.Service
	sessions *Sessions
	log      *slog.Logger
	mux      *http.ServeMux
	patterns []string // what handle registered, for Routes
	sys      system   // what the server tells about itself (system.go)

	gc    *gc.Collector    // nil: the GC endpoints answer 503 (gc.go)
	scans *scanjob.Service // nil: the scanning endpoints answer 503 (scans.go)
}

// New returns the API handler with every route registered.
func New(acc *access.Service, authn *auth.Authn, reg *registry.Service, log *slog.Logger, opts ...Option) *Handler {
	h := &Handler{acc: acc, authn: authn, reg: reg, log: log, mux: http.NewServeMux()}
	h.Configure(opts...)
	h.sessions = NewSessions(acc)
	h.routes()
	return h
}

// Sessions is the UI session manager (login, logout, CSRF).
func (h *Handler) Sessions() *Sessions { return h.sessions }

// handle registers a route under Prefix; pattern is "METHOD /path".
func (h *Handler) handle(pattern string, f func(w http.ResponseWriter, r *http.Request, p access.Principal)) {
	method, path, _ := strings.Cut(pattern, " ")
	h.patterns = append(h.patterns, pattern)
	h.mux.HandleFunc(method+" "+Prefix+path, func(w http.ResponseWriter, r *http.Request) {
		p, err := h.principal(w, r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := h.writable(r, path); err != nil { // system.go: read-only mode
			h.fail(w, r, err)
			return
		}
		f(w, r, p)
	})
}

// routes lists every endpoint; each resource's file adds its own.
func (h *Handler) routes() {
	h.routesMisc()
	h.routesUsers()
	h.routesUserGroups()
	h.routesLDAP()
	h.routesCLISecret()
	h.routesOIDC()
	h.routesProjects()
	h.routesMembers()
	h.routesRobots()
	h.routesPullSecret()
	h.routesRepositories()
	h.routesArtifacts()
	h.routesSignatures()
	h.routesSearch()
	h.routesAudit()
	h.routesSessions()
	h.routesGC()
	h.routesQuotas()
	h.routesLabels()
	h.routesConfig()
	h.routesSystem()
	h.routesScans()
	h.routesOpenAPI()
}

// ServeHTTP answers with Harbor's error body for unknown paths.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", requestID(r))
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		h.fail(w, r, errs.New(errs.NotFound, "NOT_FOUND", "no such endpoint: %s %s", r.Method, truncate(r.URL.Path)))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// principal authenticates the request: Basic credentials, or a UI session
// cookie (which needs a CSRF token on unsafe methods). Bad credentials are
// an error; none make the caller anonymous.
func (h *Handler) principal(w http.ResponseWriter, r *http.Request) (access.Principal, error) {
	if _, _, ok := r.BasicAuth(); ok {
		p, _, err := h.authn.Basic(r)
		return p, err
	}
	return h.sessions.Principal(w, r)
}

// Errors: Harbor's body and codes.

type harborError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func statusAndCode(e *errs.Error) (int, string) {
	switch e.Kind {
	case errs.NotFound:
		return http.StatusNotFound, "NOT_FOUND"
	case errs.Invalid:
		return http.StatusBadRequest, "BAD_REQUEST"
	case errs.Denied:
		return http.StatusForbidden, "FORBIDDEN"
	case errs.Unauthorized:
		return http.StatusUnauthorized, "UNAUTHORIZED"
	case errs.Conflict:
		if e.Code == "PRECONDITION" {
			return http.StatusPreconditionFailed, "PRECONDITION"
		}
		return http.StatusConflict, "CONFLICT"
	case errs.Unavailable:
		if e.Code == "TOO_MANY_REQUESTS" {
			return http.StatusTooManyRequests, "TOO_MANY_REQUEST"
		}
		return http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE"
	case errs.Unsupported:
		return http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"
	case errs.RangeInvalid:
		return http.StatusRequestedRangeNotSatisfiable, "BAD_REQUEST"
	}
	return http.StatusInternalServerError, "UNKNOWN"
}

// fail writes err as Harbor's error body; internal causes are logged, not
// shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.Internal {
		if r.Context().Err() == nil {
			h.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		e = errs.New(errs.Internal, "UNKNOWN", "internal server error")
	}
	status, code := statusAndCode(e)
	// A Basic challenge makes a browser open its own password prompt (or,
	// headless, stall the request); the web UI marks its requests with
	// X-Requested-With and handles 401 itself, as Harbor's portal does.
	if e.Kind == errs.Unauthorized && r.Header.Get("Authorization") == "" &&
		r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
		w.Header().Set("WWW-Authenticate", `Basic realm="berth"`)
	}
	writeJSON(w, status, map[string]any{"errors": []harborError{{Code: code, Message: e.Msg}}})
}

// denied is the answer to a failed permission check: 401 for anonymous
// callers, 403 for everyone else, as Harbor does.
func denied(p access.Principal, what string) error {
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to %s", what)
	}
	return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s", p.Name(), what)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"encoding error"}]}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// maxBody bounds JSON request bodies.
const maxBody = 1 << 20

// decode reads a JSON body strictly: unknown fields are errors, as are
// bodies over maxBody and trailing data.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errs.New(errs.TooLarge, "", "the request body is larger than %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return errs.New(errs.Invalid, "", "the request body is empty")
		}
		return errs.New(errs.Invalid, "", "invalid JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errs.New(errs.Invalid, "", "invalid JSON body: data after the object")
	}
	return nil
}

// created answers 201 with Harbor's Location header.
func created(w http.ResponseWriter, location string, body any) {
	w.Header().Set("Location", location)
	if body == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return
	}
	writeJSON(w, http.StatusCreated, body)
}

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// Paging: Harbor's page/page_size, X-Total-Count and Link.

// listOptions reads page, page_size, q and sort.
func listOptions(r *http.Request) (meta.ListOptions, error) {
	q := r.URL.Query()
	o := meta.ListOptions{Page: 1, PageSize: 10}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return o, errs.New(errs.Invalid, "", "page must be a positive number, got %q", truncate(s))
		}
		o.Page = n
	}
	if s := q.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100 {
			return o, errs.New(errs.Invalid, "", "page_size must be between 0 and 100, got %q", truncate(s))
		}
		if n > 0 {
			o.PageSize = n
		}
	}
	conds, err := ParseQuery(q.Get("q"))
	if err != nil {
		return o, err
	}
	o.Query = conds
	o.Sort = ParseSort(q.Get("sort"))
	return o, nil
}

// writePage writes a listing with X-Total-Count and Link headers.
func writePage(w http.ResponseWriter, r *http.Request, o meta.ListOptions, total int, items any) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	var links []string
	link := func(page int, rel string) string {
		u := url.URL{Path: r.URL.Path}
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		q.Set("page_size", strconv.Itoa(o.PageSize))
		u.RawQuery = q.Encode()
		return fmt.Sprintf(`<%s>; rel="%s"`, u.String(), rel)
	}
	if o.Page > 1 {
		links = append(links, link(o.Page-1, "prev"))
	}
	if o.Page*o.PageSize < total {
		links = append(links, link(o.Page+1, "next"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, " , "))
	}
	writeJSON(w, http.StatusOK, items)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// pathInt reads an integer path value.
func pathInt(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errs.New(errs.Invalid, "", "%s must be a positive integer, got %q", name, truncate(s))
	}
	return n, nil
}
