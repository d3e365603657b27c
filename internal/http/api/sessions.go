package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Cookie and header names for UI sessions.
const (
	SessionCookie = "berth_session"
	CSRFCookie    = "berth_csrf"
	CSRFHeader    = "X-Harbor-CSRF-Token"
	sessionTTL    = 12 * time.Hour
)

// Sessions manages cookie logins for the UI. Only a hash of the session
// token is stored; the CSRF token is bound to the session and must come
// back in a header on every unsafe request (double submit).
type Sessions struct{ acc *access.Service }

// NewSessions returns the session manager.
func NewSessions(acc *access.Service) *Sessions { return &Sessions{acc: acc} }

func hashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Principal returns the session's user, or anonymous without a cookie.
func (s *Sessions) Principal(w http.ResponseWriter, r *http.Request) (access.Principal, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return access.Principal{}, nil
	}
	q := s.acc.DB().Q()
	sess, err := q.GetSession(r.Context(), hashToken(c.Value))
	if errs.Is(err, errs.NotFound) {
		return access.Principal{}, nil // expired or logged out: anonymous
	}
	if err != nil {
		return access.Principal{}, err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
			return access.Principal{}, errs.New(errs.Denied, "FORBIDDEN", "missing or wrong %s header", CSRFHeader)
		}
	}
	u, err := q.GetUser(r.Context(), sess.UserID)
	if errs.Is(err, errs.NotFound) || (err == nil && u.Disabled) {
		return access.Principal{}, nil
	}
	if err != nil {
		return access.Principal{}, err
	}
	return s.acc.PrincipalFor(r.Context(), u)
}

// Login checks credentials and starts a session, setting the session and
// CSRF cookies. Robots cannot use the UI.
func (s *Sessions) Login(w http.ResponseWriter, r *http.Request, username, password string) (access.Principal, error) {
	p, err := s.acc.Authenticate(r.Context(), username, password, auth.Source(r))
	if err != nil {
		return access.Principal{}, err
	}
	if p.Kind != access.UserKind {
		return access.Principal{}, errs.New(errs.Denied, "FORBIDDEN", "robot accounts cannot sign in to the UI")
	}
	// In oidc_auth the UI belongs to the provider: a CLI secret opens the
	// command line, not a session. Only the first administrator signs in
	// with a password.
	if p.UserID != 1 && s.acc.AuthMode(r.Context()) == access.AuthOIDC {
		return access.Principal{}, errs.New(errs.Denied, "FORBIDDEN", "sign in through the OIDC provider (/c/oidc/login)")
	}
	if err := s.Start(w, r, p, "login"); err != nil {
		return access.Principal{}, err
	}
	return p, nil
}

// Start opens a session for user p, who has just proved who it is (detail
// says how, for the audit log), setting the session and CSRF cookies.
func (s *Sessions) Start(w http.ResponseWriter, r *http.Request, p access.Principal, detail string) error {
	tok, err := randomToken()
	if err != nil {
		return err
	}
	csrf, err := randomToken()
	if err != nil {
		return err
	}
	now := s.acc.Now().UTC()
	err = s.acc.DB().Q().CreateSession(r.Context(), meta.Session{
		TokenHash: hashToken(tok), UserID: p.UserID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(sessionTTL),
	})
	if err != nil {
		return err
	}
	secure := r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionTTL.Seconds())})
	// Readable by the UI's script, which copies it into the CSRF header.
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", Secure: secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL.Seconds())})
	w.Header().Set(CSRFHeader, csrf)
	s.acc.Audit(r.Context(), meta.AuditLog{Username: p.Username, Resource: p.Username, ResourceType: "user",
		Operation: "login", SourceIP: auth.Source(r), Detail: detail})
	return nil
}

// Logout ends the request's session and clears the cookies.
func (s *Sessions) Logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && len(c.Value) <= 128 {
		if err := s.acc.DB().Q().DeleteSession(r.Context(), hashToken(c.Value)); err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
	}
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1})
	}
	return nil
}

// routesSessions: Harbor's UI login endpoints live outside /api/v2.0
// (/c/login, /c/log_out); berth mounts them through app, and also under
// the API prefix for scripts.
func (h *Handler) routesSessions() {
	h.mux.HandleFunc("POST "+Prefix+"/c/login", h.login)
	h.mux.HandleFunc("POST /c/login", h.login)
	h.mux.HandleFunc("GET /c/log_out", h.logout)
	h.mux.HandleFunc("POST /c/log_out", h.logout)
	h.mux.HandleFunc("POST "+Prefix+"/c/log_out", h.logout)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var user, pass string
	if err := r.ParseForm(); err == nil && r.PostForm.Get("principal") != "" {
		user, pass = r.PostForm.Get("principal"), r.PostForm.Get("password")
	} else {
		var body struct {
			Principal string `json:"principal"`
			Username  string `json:"username"`
			Password  string `json:"password"`
		}
		if err := decode(w, r, &body); err != nil {
			h.fail(w, r, err)
			return
		}
		user, pass = body.Principal, body.Password
		if user == "" {
			user = body.Username
		}
	}
	p, err := h.sessions.Login(w, r, user, pass)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": p.UserID, "username": p.Username, "sysadmin_flag": p.SysAdmin})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.sessions.Logout(w, r); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
