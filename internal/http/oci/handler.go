// Package oci serves the OCI Distribution API under /v2/. Handlers are thin:
// they parse the request, ask the Authorizer, call one registry.Service
// method and write the answer with the spec's headers and error bodies.
// Repository names contain '/', so the package routes paths itself.
package oci

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/registry"
)

// Access is what a request needs: actions on a resource, as in the
// Docker token scope "repository:<name>:pull,push".
type Access struct {
	Type    string // "repository" or "registry"
	Name    string // repository name, or "catalog"
	Actions []string
}

// Authorizer decides whether a request may have access. It returns nil to
// allow; an errs.Unauthorized error asks the client to authenticate (the
// handler adds Challenge's WWW-Authenticate header), errs.Denied refuses.
type Authorizer interface {
	Authorize(r *http.Request, access ...Access) error
	Challenge(r *http.Request, access ...Access) string
}

// CatalogFilter is an optional Authorizer capability: it narrows the
// catalog to the repositories the caller may see.
type CatalogFilter interface {
	Visible(r *http.Request) (func(ctx context.Context, repo string) (bool, error), error)
}

// Recorder is an optional Authorizer capability: it is told of every
// push, pull and delete so that it can audit them.
type Recorder interface {
	Record(r *http.Request, op, repo, ref string)
}

// ScopeAsker is an optional Authorizer capability for token-based auth: it
// reports whether the request's credentials were issued for an access at
// all. A cross-repository mount uses it to ask the client for a token that
// covers the source repository before falling back to a plain upload.
type ScopeAsker interface {
	Asked(r *http.Request, a Access) bool
}

// openAuthorizer allows everything; used until identity lands or when
// the operator runs an open registry.
type openAuthorizer struct{}

func (openAuthorizer) Authorize(*http.Request, ...Access) error  { return nil }
func (openAuthorizer) Challenge(*http.Request, ...Access) string { return "" }

// Handler serves /v2/.
type Handler struct {
	svc      *registry.Service
	auth     Authorizer
	log      *slog.Logger
	chunkMin int64

	pullPolicies []PullPolicy // policy.go
}

// Option configures a Handler.
type Option func(*Handler)

// WithAuthorizer sets the access check (default: everything allowed).
func WithAuthorizer(a Authorizer) Option { return func(h *Handler) { h.auth = a } }

// WithLogger sets the logger for server-side failures.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithChunkMinLength sets the OCI-Chunk-Min-Length advertised to clients.
func WithChunkMinLength(n int64) Option { return func(h *Handler) { h.chunkMin = n } }

// New returns the /v2/ handler.
func New(svc *registry.Service, opts ...Option) *Handler {
	h := &Handler{
		svc:  svc,
		auth: openAuthorizer{},
		log:  slog.Default(),
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// route is a parsed /v2/ path.
type route struct {
	kind string // base, catalog, tags, manifest, blob, uploads, upload, referrers
	name string
	arg  string // reference, digest or upload id
}

// parsePath splits a /v2/ path. Names may contain '/', so the resource is
// found from the end: references, digests and upload ids never hold '/'.
func parsePath(p string) (route, bool) {
	rest, ok := strings.CutPrefix(p, "/v2")
	if !ok {
		return route{}, false
	}
	if rest == "" || rest == "/" {
		return route{kind: "base"}, true
	}
	rest = rest[1:]
	if rest == "_catalog" {
		return route{kind: "catalog"}, true
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	name := func(k int) string { return strings.Join(segs[:n-k], "/") }
	switch {
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		return route{kind: "tags", name: name(2)}, true
	case n >= 3 && segs[n-2] == "manifests":
		return route{kind: "manifest", name: name(2), arg: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "referrers":
		return route{kind: "referrers", name: name(2), arg: segs[n-1]}, true
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		if segs[n-1] == "" {
			return route{kind: "uploads", name: name(3)}, true
		}
		return route{kind: "upload", name: name(3), arg: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		return route{kind: "uploads", name: name(2)}, true
	case n >= 3 && segs[n-2] == "blobs":
		return route{kind: "blob", name: name(2), arg: segs[n-1]}, true
	}
	return route{}, false
}

// RouteKind names the /v2/ endpoint that path addresses (base, catalog,
// tags, manifest, referrers, blob, uploads, upload), or "" for none; it is
// for metrics labels, which must come from a fixed set.
func RouteKind(path string) string {
	rt, ok := parsePath(path)
	if !ok {
		return ""
	}
	return rt.kind
}

// ServeHTTP routes a /v2/ request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	// Percent-encoding has no place in names, references or digests; an
	// encoded '/' or '.' is a traversal attempt, so refuse it early.
	if strings.Contains(r.URL.EscapedPath(), "%") {
		h.fail(w, r, errs.New(errs.Invalid, "NAME_INVALID", "the path must not contain percent-encoded characters"))
		return
	}
	rt, ok := parsePath(r.URL.Path)
	if !ok {
		h.fail(w, r, errs.New(errs.NotFound, "NOT_FOUND", "no such endpoint: %s", truncate(r.URL.Path)))
		return
	}
	switch rt.kind {
	case "base":
		h.base(w, r)
	case "catalog":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){"GET": h.catalog})
	case "tags":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){"GET": h.tags})
	case "referrers":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){"GET": h.referrers})
	case "manifest":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){
			"GET": h.getManifest, "HEAD": h.getManifest, "PUT": h.putManifest, "DELETE": h.deleteManifest,
		})
	case "blob":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){
			"GET": h.getBlob, "HEAD": h.getBlob, "DELETE": h.deleteBlob,
		})
	case "uploads":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){"POST": h.startUpload})
	case "upload":
		h.method(w, r, rt, map[string]func(http.ResponseWriter, *http.Request, route){
			"GET": h.uploadStatus, "PATCH": h.patchUpload, "PUT": h.putUpload, "DELETE": h.cancelUpload,
		})
	}
}

func (h *Handler) method(w http.ResponseWriter, r *http.Request, rt route, m map[string]func(http.ResponseWriter, *http.Request, route)) {
	f, ok := m[r.Method]
	if !ok {
		allow := make([]string, 0, len(m))
		for k := range m {
			allow = append(allow, k)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.fail(w, r, errs.New(errs.Unsupported, "UNSUPPORTED", "method %s is not allowed here", r.Method))
		return
	}
	f(w, r, rt)
}

// base answers the version check; it is also where clients learn how to
// authenticate.
func (h *Handler) base(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, errs.New(errs.Unsupported, "UNSUPPORTED", "method %s is not allowed here", r.Method))
		return
	}
	if !h.allow(w, r, Access{Type: "registry", Name: "base"}) {
		return
	}
	writeJSON(w, r, http.StatusOK, struct{}{})
}

// allow runs the Authorizer and writes the refusal when it says no.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, access ...Access) bool {
	err := h.auth.Authorize(r, access...)
	if err == nil {
		return true
	}
	if errs.Is(err, errs.Unauthorized) {
		if c := h.auth.Challenge(r, access...); c != "" {
			// Docker shows error_description rather than the body when a
			// token lacks scope, so the reason goes there too.
			if e, ok := errs.As(err); ok && strings.Contains(c, "insufficient_scope") && e.Msg != "" {
				c += fmt.Sprintf(",error_description=%q", e.Msg)
			}
			w.Header().Set("WWW-Authenticate", c)
		}
	}
	h.fail(w, r, err)
	return false
}

// visible returns the filter of repositories the caller may read: the
// Authorizer's CatalogFilter, or everything with an open registry.
func (h *Handler) visible(r *http.Request) (func(context.Context, string) (bool, error), error) {
	if f, ok := h.auth.(CatalogFilter); ok {
		return f.Visible(r)
	}
	return func(context.Context, string) (bool, error) { return true, nil }, nil
}

// record tells the Authorizer about an operation when it audits them.
func (h *Handler) record(r *http.Request, op, repo, ref string) {
	if rec, ok := h.auth.(Recorder); ok {
		rec.Record(r, op, repo, ref)
	}
}

func repoAccess(name string, actions ...string) Access {
	return Access{Type: "repository", Name: name, Actions: actions}
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
