package api

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oidcauth"
)

// Sign-in through an OIDC provider, for browsers: /c/oidc/login sends the
// browser to the provider, /c/oidc/callback takes it back, signs the user
// in (or, when auto-onboarding is off, asks a new user for a name on
// /c/oidc/onboard) and starts a UI session. The flow's state travels in
// sealed, short-lived cookies bound to these paths; the rules are in
// internal/oidcauth.

// WithOIDC enables OIDC sign-in through rp.
func WithOIDC(rp *oidcauth.RP) Option { return func(s *system) { s.oidc = rp } }

const (
	oidcStateCookie   = "berth_oidc_state"
	oidcOnboardCookie = "berth_oidc_onboard"
	oidcCookiePath    = "/c/oidc/"
	onboardTTL        = 10 * time.Minute

	purposeOIDCState   = "oidc-state-cookie"
	purposeOIDCOnboard = "oidc-onboard-cookie"
)

// pendingOnboard is a signed-in identity that has no account yet.
type pendingOnboard struct {
	Identity oidcauth.Identity `json:"i"`
	Token    string            `json:"t"` // the form's anti-forgery token
	Expires  time.Time         `json:"e"`
	Return   string            `json:"r,omitempty"` // the local path to show afterwards
}

func (h *Handler) routesOIDC() {
	h.mux.HandleFunc("GET /c/oidc/login", h.oidcLogin)
	h.mux.HandleFunc("GET /c/oidc/callback", h.oidcCallback)
	h.mux.HandleFunc("GET /c/oidc/onboard", h.oidcOnboardForm)
	h.mux.HandleFunc("POST /c/oidc/onboard", h.oidcOnboard)
	h.handle("POST /system/oidc/ping", h.oidcPing)
	h.handle("GET /system/oidc", h.oidcInfo)
}

// oidcInfoJSON is berth's own: what an administrator needs to register
// berth with a provider.
type oidcInfoJSON struct {
	RedirectURL string `json:"redirect_url"`
	LoginURL    string `json:"login_url"`
}

func (h *Handler) oidcInfo(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if !p.SysAdmin {
		h.fail(w, r, denied(p, "read the OIDC client settings"))
		return
	}
	base := OIDCRedirectURL(r, h.sys.externalURL)
	writeJSON(w, http.StatusOK, oidcInfoJSON{RedirectURL: base, LoginURL: strings.TrimSuffix(base, "/callback") + "/login"})
}

func (h *Handler) oidcRedirectURL(r *http.Request) string {
	return OIDCRedirectURL(r, h.sys.externalURL)
}

// setSealed stores v sealed in a cookie for the OIDC paths.
func (h *Handler) setSealed(w http.ResponseWriter, r *http.Request, name, purpose string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := h.acc.Seal(purpose, b)
	if err != nil {
		return err
	}
	secure := r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
	// Lax: the provider's redirect back is a top-level GET, which Lax
	// cookies accompany; cross-site POSTs do not get them.
	http.SetCookie(w, &http.Cookie{Name: name, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: oidcCookiePath,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds())})
	return nil
}

// readSealed opens a cookie set by setSealed; false when absent or not
// genuine.
func (h *Handler) readSealed(r *http.Request, name, purpose string, v any) bool {
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" || len(c.Value) > 8192 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return false
	}
	plain, err := h.acc.Unseal(purpose, raw)
	if err != nil {
		return false
	}
	return json.Unmarshal(plain, v) == nil
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: oidcCookiePath, MaxAge: -1, HttpOnly: true})
}

func (h *Handler) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if h.sys.oidc == nil {
		h.oidcPage(w, r, errs.New(errs.NotFound, "NOT_FOUND", "OIDC sign-in is not available"))
		return
	}
	url, st, err := h.sys.oidc.Start(r.Context(), h.oidcRedirectURL(r))
	if err != nil {
		h.oidcPage(w, r, err)
		return
	}
	st.Return = localPath(r.URL.Query().Get("redirect_url"))
	if err := h.setSealed(w, r, oidcStateCookie, purposeOIDCState, st, oidcauth.StateTTL); err != nil {
		h.oidcPage(w, r, err)
		return
	}
	http.Redirect(w, r, url, http.StatusFound)
}

func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if h.sys.oidc == nil {
		h.oidcPage(w, r, errs.New(errs.NotFound, "NOT_FOUND", "OIDC sign-in is not available"))
		return
	}
	var st oidcauth.State
	h.readSealed(r, oidcStateCookie, purposeOIDCState, &st) // a missing cookie leaves st empty: Finish refuses
	clearCookie(w, oidcStateCookie)
	q := r.URL.Query()
	providerErr := q.Get("error")
	if d := q.Get("error_description"); d != "" {
		providerErr += ": " + d
	}
	ctx := r.Context()
	id, err := h.sys.oidc.Finish(ctx, st, q.Get("state"), q.Get("code"), providerErr, h.oidcRedirectURL(r))
	if err != nil {
		h.oidcPage(w, r, err)
		return
	}
	_, p, err := h.sys.oidc.Login(ctx, id, "", false)
	if access.IsNotOnboarded(err) {
		tok, err := randomToken()
		if err != nil {
			h.oidcPage(w, r, err)
			return
		}
		pending := pendingOnboard{Identity: id, Token: tok, Expires: h.acc.Now().UTC().Add(onboardTTL), Return: st.Return}
		if err := h.setSealed(w, r, oidcOnboardCookie, purposeOIDCOnboard, pending, onboardTTL); err != nil {
			h.oidcPage(w, r, err)
			return
		}
		http.Redirect(w, r, "/c/oidc/onboard", http.StatusFound)
		return
	}
	if err != nil {
		h.oidcPage(w, r, err)
		return
	}
	h.oidcSignedIn(w, r, p, st.Return)
}

func (h *Handler) oidcSignedIn(w http.ResponseWriter, r *http.Request, p access.Principal, to string) {
	if err := h.sessions.Start(w, r, p, "oidc"); err != nil {
		h.oidcPage(w, r, err)
		return
	}
	if to = localPath(to); to == "" {
		to = "/"
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// localPath returns p when it is a path on this site ("/projects?x=1"),
// "" otherwise, so that sign-in never sends the browser elsewhere.
// Browsers drop tabs and newlines from a Location, so "/\t/evil.example"
// would be "//evil.example": no control characters at all.
func localPath(p string) string {
	if len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		strings.ContainsAny(p, "\\") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ""
	}
	return p
}

func (h *Handler) pending(r *http.Request) (pendingOnboard, error) {
	var pend pendingOnboard
	if h.sys.oidc == nil || !h.readSealed(r, oidcOnboardCookie, purposeOIDCOnboard, &pend) || pend.Token == "" {
		return pendingOnboard{}, errs.New(errs.Unauthorized, "OIDC_ONBOARD", "no OIDC sign-in is waiting for a user name; sign in again")
	}
	if !h.acc.Now().Before(pend.Expires) {
		return pendingOnboard{}, errs.New(errs.Unauthorized, "OIDC_ONBOARD", "the OIDC sign-in expired; sign in again")
	}
	return pend, nil
}

func (h *Handler) oidcOnboardForm(w http.ResponseWriter, r *http.Request) {
	pend, err := h.pending(r)
	if err != nil {
		h.oidcPage(w, r, err)
		return
	}
	h.onboardPage(w, http.StatusOK, pend, pend.Identity.Username, "")
}

func (h *Handler) oidcOnboard(w http.ResponseWriter, r *http.Request) {
	pend, err := h.pending(r)
	if err != nil {
		h.oidcPage(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.oidcPage(w, r, errs.New(errs.Invalid, "", "the form cannot be read"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(pend.Token)) != 1 {
		h.oidcPage(w, r, errs.New(errs.Denied, "FORBIDDEN", "the form does not belong to this sign-in; sign in again"))
		return
	}
	name := r.PostForm.Get("username")
	_, p, err := h.sys.oidc.Login(r.Context(), pend.Identity, name, true)
	if e, ok := errs.As(err); ok && (e.Kind == errs.Invalid || e.Kind == errs.Conflict) {
		status, _ := statusAndCode(e)
		h.onboardPage(w, status, pend, name, e.Msg)
		return
	}
	if err != nil {
		h.oidcPage(w, r, err)
		return
	}
	clearCookie(w, oidcOnboardCookie)
	h.oidcSignedIn(w, r, p, pend.Return)
}

var oidcTemplates = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · berth</title></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Message}}<p role="alert">{{.Message}}</p>{{end}}
{{if .Form}}<form method="post" action="/c/oidc/onboard">
<p>Welcome{{if .Email}}, {{.Email}}{{end}}. Choose the user name you will have in berth.</p>
<label for="username">User name</label>
<input id="username" name="username" value="{{.Username}}" required maxlength="255" autofocus>
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Create my account</button>
</form>{{else}}<p><a href="/c/oidc/login">Sign in again</a> · <a href="/">Home</a></p>{{end}}
</main></body></html>
`))

type oidcPageData struct {
	Title, Message, Username, Email, Token string
	Form                                   bool
}

func (h *Handler) onboardPage(w http.ResponseWriter, status int, pend pendingOnboard, username, msg string) {
	h.renderOIDC(w, status, oidcPageData{Title: "Create your berth account", Message: msg, Username: username,
		Email: pend.Identity.Email, Token: pend.Token, Form: true})
}

// oidcPage answers a browser with the error's status and message.
func (h *Handler) oidcPage(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := errs.As(err)
	if !ok || e.Kind == errs.Internal {
		if r.Context().Err() == nil {
			h.log.Error("OIDC sign-in failed", "path", r.URL.Path, "err", err)
		}
		e = errs.New(errs.Internal, "UNKNOWN", "internal server error")
	} else {
		h.log.Warn("OIDC sign-in refused", "path", r.URL.Path, "code", e.Code, "reason", e.Msg)
	}
	status, _ := statusAndCode(e)
	h.renderOIDC(w, status, oidcPageData{Title: "Sign-in failed", Message: e.Msg})
}

func (h *Handler) renderOIDC(w http.ResponseWriter, status int, d oidcPageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = oidcTemplates.Execute(w, d)
}

// oidcPingJSON is the body of Harbor's POST /system/oidc/ping.
type oidcPingJSON struct {
	URL        string `json:"url"`
	VerifyCert *bool  `json:"verify_cert"`
}

func (h *Handler) oidcPing(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if h.sys.oidc == nil {
		h.fail(w, r, errs.New(errs.NotFound, "NOT_FOUND", "OIDC is not available"))
		return
	}
	// The permission check comes before anything about the body is said.
	if !p.SysAdmin {
		h.fail(w, r, denied(p, "test an OIDC endpoint"))
		return
	}
	var body oidcPingJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	verify := body.VerifyCert == nil || *body.VerifyCert
	if err := h.sys.oidc.Ping(r.Context(), p, body.URL, verify); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
