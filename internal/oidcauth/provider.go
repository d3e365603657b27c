package oidcauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// RP is berth as an OIDC relying party.
type RP struct {
	acc *access.Service
	log *slog.Logger

	mu    sync.Mutex
	cache map[string]cached // discovered providers by endpoint and TLS setting
}

type cached struct {
	p       *gooidc.Provider
	expires time.Time
}

// discoveryTTL bounds how long a discovery document (and so its keys'
// location) is reused.
const discoveryTTL = 10 * time.Minute

// Option configures an RP.
type Option func(*RP)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(rp *RP) { rp.log = l } }

// New returns the relying party and makes it the re-checker of OIDC users
// for acc.
func New(acc *access.Service, opts ...Option) *RP {
	rp := &RP{acc: acc, log: slog.Default(), cache: map[string]cached{}}
	for _, o := range opts {
		o(rp)
	}
	acc.SetIdentityChecker(meta.SourceOIDC, rp)
	return rp
}

// httpClient talks to the provider, verifying its certificate unless told
// not to. Timeouts keep a slow provider from holding requests.
func httpClient(verify bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if !verify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the administrator turned oidc_verify_cert off
	}
	return &http.Client{Transport: t, Timeout: 15 * time.Second}
}

func (rp *RP) ctx(ctx context.Context, verify bool) context.Context {
	return gooidc.ClientContext(ctx, httpClient(verify))
}

// provider discovers (or reuses) the provider at endpoint.
func (rp *RP) provider(ctx context.Context, endpoint string, verify bool) (*gooidc.Provider, error) {
	key := fmt.Sprintf("%t %s", verify, endpoint)
	rp.mu.Lock()
	c, ok := rp.cache[key]
	rp.mu.Unlock()
	if ok && time.Now().Before(c.expires) {
		return c.p, nil
	}
	p, err := gooidc.NewProvider(rp.ctx(ctx, verify), endpoint)
	if err != nil {
		return nil, discoveryError(endpoint, err)
	}
	rp.mu.Lock()
	rp.cache[key] = cached{p: p, expires: time.Now().Add(discoveryTTL)}
	rp.mu.Unlock()
	return p, nil
}

// discoveryError explains a failed discovery without leaking internals.
func discoveryError(endpoint string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "did not match the issuer"), strings.Contains(msg, "issuer did not match"):
		return errs.New(errs.Invalid, "OIDC_ISSUER", "the OIDC provider at %s announces a different issuer (%s); set oidc_endpoint to the exact issuer", endpoint, clip(msg))
	case strings.Contains(msg, "certificate"):
		return errs.New(errs.Unavailable, "OIDC_TLS", "the OIDC provider at %s presented a certificate berth does not trust (%s)", endpoint, clip(msg))
	}
	return errs.New(errs.Unavailable, "OIDC_DISCOVERY", "cannot read the OIDC discovery document of %s: %s", endpoint, clip(msg))
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

func (rp *RP) oauth2Config(s Settings, p *gooidc.Provider, redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirectURL, Scopes: s.Scopes,
	}
}

// Ping checks that endpoint is an OIDC provider berth can use, for a
// system administrator testing settings.
func (rp *RP) Ping(ctx context.Context, p access.Principal, endpoint string, verify bool) error {
	if !p.SysAdmin {
		if p.IsAnonymous() {
			return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to test an OIDC endpoint")
		}
		return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to test an OIDC endpoint", p.Name())
	}
	if endpoint == "" {
		return errs.New(errs.Invalid, "", "url is required")
	}
	if err := checkEndpoint(endpoint); err != nil {
		return err
	}
	_, err := gooidc.NewProvider(rp.ctx(ctx, verify), strings.TrimSuffix(endpoint, "/"))
	if err != nil {
		e := discoveryError(endpoint, err)
		// A provider that cannot be used is a bad request for ping.
		return errs.New(errs.Invalid, "", "%s", errMsg(e))
	}
	return nil
}

func errMsg(err error) string {
	if e, ok := errs.As(err); ok {
		return e.Msg
	}
	return err.Error()
}

// Recheck refreshes the user's tokens with the provider (access calls it
// when the user's CLI secret is used and the last check is stale). A
// provider that refuses the refresh token refuses the user; a refreshed
// ID token that lists groups updates them.
func (rp *RP) Recheck(ctx context.Context, u meta.User, id meta.UserIdentity, refreshToken string) (access.Rechecked, error) {
	if refreshToken == "" {
		return access.Rechecked{}, errs.New(errs.Unauthorized, "", "no refresh token is stored for %s (the provider must issue one: add offline_access to oidc_scope); sign in through the web UI", u.Username)
	}
	s, err := rp.settings(ctx)
	if err != nil {
		return access.Rechecked{}, err
	}
	p, err := rp.provider(ctx, s.Endpoint, s.VerifyCert)
	if err != nil {
		return access.Rechecked{}, err
	}
	pctx := rp.ctx(ctx, s.VerifyCert)
	tok, err := rp.oauth2Config(s, p, "").TokenSource(pctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "unauthorized_client" ||
		(re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500)) {
		return access.Rechecked{}, errs.New(errs.Unauthorized, "", "refresh refused: %s %s", re.ErrorCode, clip(re.ErrorDescription))
	}
	if err != nil {
		return access.Rechecked{}, fmt.Errorf("refresh with %s: %w", s.Endpoint, err)
	}
	out := access.Rechecked{RefreshToken: tok.RefreshToken}
	if out.RefreshToken == refreshToken {
		out.RefreshToken = "" // not rotated
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return out, nil
	}
	// A new ID token must still be about the same user; its groups are
	// the user's groups now. (Refreshed ID tokens carry no nonce.)
	idt, err := p.Verifier(&gooidc.Config{ClientID: s.ClientID, Now: rp.acc.Now}).Verify(pctx, raw)
	if err != nil {
		return access.Rechecked{}, idTokenError(err)
	}
	if idt.Subject != id.Subject || idt.Issuer != id.Issuer {
		return access.Rechecked{}, errs.New(errs.Unauthorized, "", "the refreshed ID token is about another user")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil || s.GroupsClaim == "" {
		return out, nil
	}
	if _, ok := claims[s.GroupsClaim]; !ok {
		return out, nil // the provider puts groups in the first token only
	}
	var fresh Identity
	mapClaims(&fresh, claims, s)
	out.Groups = make([]meta.UserGroup, len(fresh.Groups))
	for i, g := range fresh.Groups {
		out.Groups[i] = meta.UserGroup{Name: g, Type: meta.GroupOIDC}
	}
	out.Admin = fresh.Admin
	return out, nil
}
