// Package token serves /service/token: the Docker registry token endpoint.
// Callers authenticate with Basic credentials (user password, robot
// secret) or not at all; the token grants the requested scopes reduced to
// what policy allows, never refusing for lack of rights.
package token

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
)

// Handler serves the token endpoint.
type Handler struct {
	a   *auth.Authn
	log *slog.Logger
}

// New returns the token handler.
func New(a *auth.Authn, log *slog.Logger) *Handler { return &Handler{a: a, log: log} }

// maxScopes bounds the work one token request can ask for.
const maxScopes = 32

// ServeHTTP handles GET (Docker token protocol) and POST (OAuth2 password
// grant, as containerd and buildkit send).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var (
		service string
		scopes  []string
		p       access.Principal
		hasCred bool
		err     error
	)
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		service = q.Get("service")
		scopes = q["scope"]
		p, hasCred, err = h.a.Basic(r)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			h.fail(w, errs.New(errs.Invalid, "BAD_REQUEST", "malformed form body"))
			return
		}
		service = r.PostForm.Get("service")
		scopes = r.PostForm["scope"]
		switch r.PostForm.Get("grant_type") {
		case "password":
			hasCred = true
			p, err = h.a.Access().Authenticate(r.Context(), r.PostForm.Get("username"), r.PostForm.Get("password"), auth.Source(r))
		default:
			h.fail(w, errs.New(errs.Invalid, "UNSUPPORTED", "grant_type must be password"))
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, errs.New(errs.Unsupported, "METHOD_NOT_ALLOWED", "use GET or POST"))
		return
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	if service != "" && service != auth.Service {
		h.fail(w, errs.New(errs.Invalid, "BAD_REQUEST", "unknown service %q; this registry's service is %q", truncate(service), auth.Service))
		return
	}
	// Scopes may come as several parameters or space-separated in one.
	var parsed []scope
	for _, s := range scopes {
		for _, f := range strings.Fields(s) {
			sc, ok := parseScope(f)
			if !ok {
				h.fail(w, errs.New(errs.Invalid, "BAD_REQUEST", "malformed scope %q", truncate(f)))
				return
			}
			parsed = append(parsed, sc)
		}
	}
	if len(parsed) > maxScopes {
		h.fail(w, errs.New(errs.Invalid, "BAD_REQUEST", "too many scopes (at most %d)", maxScopes))
		return
	}
	if !hasCred && len(parsed) == 0 {
		// What `docker login` without credentials gets.
		h.fail(w, errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required"))
		return
	}
	granted := []access.ResourceActions{}
	for _, sc := range parsed {
		switch sc.typ {
		case "repository":
			acts, _, err := h.a.Access().RepositoryActions(r.Context(), p, sc.name, sc.actions)
			if err != nil {
				h.fail(w, err)
				return
			}
			granted = append(granted, access.ResourceActions{Type: "repository", Name: sc.name, Actions: nonNil(acts)})
		case "registry":
			if sc.name == "catalog" && !p.IsAnonymous() {
				granted = append(granted, access.ResourceActions{Type: "registry", Name: "catalog", Actions: []string{"*"}})
			}
		}
	}
	tok, exp, err := h.a.Access().IssueFor(p, auth.Service, granted)
	if err != nil {
		h.fail(w, err)
		return
	}
	now := h.a.Access().Now()
	body := map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(exp.Sub(now).Seconds()),
		"issued_at":    now.UTC().Format(time.RFC3339),
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

type scope struct {
	typ, name string
	actions   []string
}

// parseScope reads "type[(class)]:name:actions". Names never contain ':'
// (a registry host with a port is not part of a repository name).
func parseScope(s string) (scope, bool) {
	if len(s) > 512 {
		return scope{}, false
	}
	i := strings.IndexByte(s, ':')
	j := strings.LastIndexByte(s, ':')
	if i <= 0 || j <= i+1 || j == len(s)-1 {
		return scope{}, false
	}
	typ := s[:i]
	if k := strings.IndexByte(typ, '('); k >= 0 {
		typ = typ[:k] // "repository(plugin)"
	}
	sc := scope{typ: typ, name: s[i+1 : j], actions: strings.Split(s[j+1:], ",")}
	return sc, typ != ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// fail writes an error in the registry's error format, which docker shows
// to the user ("unauthorized: invalid username or password").
func (h *Handler) fail(w http.ResponseWriter, err error) {
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.Internal {
		h.log.Error("token request failed", "err", err)
		e = errs.New(errs.Internal, "UNKNOWN", "internal server error")
	}
	status := http.StatusInternalServerError
	switch e.Kind {
	case errs.Unauthorized:
		status = http.StatusUnauthorized
	case errs.Invalid:
		status = http.StatusBadRequest
	case errs.Unavailable:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(5))
	case errs.Unsupported:
		status = http.StatusMethodNotAllowed
	case errs.Denied:
		status = http.StatusForbidden
	}
	code := e.Code
	if code == "" {
		code = "UNKNOWN"
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": e.Msg}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
