package oidcauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// The authorization code flow. Start hands the browser to the provider
// with a random state, nonce and PKCE challenge; the caller keeps the
// State in a short-lived cookie bound to the browser, and the state's hash
// is stored so that the callback is accepted once, on any node. Finish
// checks the state against the cookie, takes it from the store, exchanges
// the code with the PKCE verifier and verifies the ID token (signature,
// issuer, audience, expiry, nonce).

// StateTTL is how long a sign-in may take at the provider.
const StateTTL = 10 * time.Minute

// State is what the browser carries between Start and Finish (sealed in
// a cookie by the HTTP layer).
type State struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Expires  time.Time `json:"e"`
	Return   string    `json:"r,omitempty"` // the local path to show after sign-in
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func stateHash(s string) string {
	h := sha256.Sum256([]byte("oidc-state\x00" + s))
	return hex.EncodeToString(h[:])
}

// Start begins a sign-in: it returns the provider URL to send the browser
// to and the State to keep for the callback at redirectURL.
func (rp *RP) Start(ctx context.Context, redirectURL string) (string, State, error) {
	s, err := rp.settings(ctx)
	if err != nil {
		return "", State{}, err
	}
	p, err := rp.provider(ctx, s.Endpoint, s.VerifyCert)
	if err != nil {
		return "", State{}, err
	}
	var st State
	if st.State, err = random(); err != nil {
		return "", State{}, err
	}
	if st.Nonce, err = random(); err != nil {
		return "", State{}, err
	}
	st.Verifier = oauth2.GenerateVerifier()
	st.Expires = rp.acc.Now().UTC().Add(StateTTL)
	if err := rp.acc.DB().Q().PutOIDCState(ctx, stateHash(st.State), st.Expires); err != nil {
		return "", State{}, err
	}
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)}
	for k, v := range s.ExtraParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	return rp.oauth2Config(s, p, redirectURL).AuthCodeURL(st.State, opts...), st, nil
}

// Identity is what the provider says about the user who signed in.
type Identity struct {
	Issuer       string   `json:"iss"`
	Subject      string   `json:"sub"`
	Username     string   `json:"u"` // from the user claim; a suggestion when onboarding by hand
	Email        string   `json:"e"`
	Realname     string   `json:"r"`
	Groups       []string `json:"g"`
	Admin        *bool    `json:"a,omitempty"`
	RefreshToken string   `json:"rt"`
}

func denied(code, format string, args ...any) error {
	return errs.New(errs.Unauthorized, code, format, args...)
}

// Finish completes a sign-in from the callback's query: gotState and code
// (or the provider's error), with st from the browser's cookie.
func (rp *RP) Finish(ctx context.Context, st State, gotState, code, providerErr, redirectURL string) (Identity, error) {
	now := rp.acc.Now().UTC()
	switch {
	case st.State == "" || gotState == "":
		return Identity{}, denied("OIDC_STATE", "the sign-in cannot be matched to this browser (missing state); start again")
	case subtle.ConstantTimeCompare([]byte(st.State), []byte(gotState)) != 1:
		return Identity{}, denied("OIDC_STATE", "the sign-in state does not match this browser's; start again")
	case !now.Before(st.Expires):
		return Identity{}, denied("OIDC_STATE", "the sign-in took too long and expired; start again")
	}
	taken, err := rp.acc.DB().Q().TakeOIDCState(ctx, stateHash(st.State), now)
	if err != nil {
		return Identity{}, err
	}
	if !taken {
		return Identity{}, denied("OIDC_STATE", "this sign-in was already completed or has expired; start again")
	}
	if providerErr != "" {
		return Identity{}, denied("OIDC_PROVIDER", "the OIDC provider refused the sign-in: %s", clip(providerErr))
	}
	if code == "" {
		return Identity{}, denied("OIDC_CODE", "the callback carries no authorization code")
	}
	s, err := rp.settings(ctx)
	if err != nil {
		return Identity{}, err
	}
	p, err := rp.provider(ctx, s.Endpoint, s.VerifyCert)
	if err != nil {
		return Identity{}, err
	}
	pctx := rp.ctx(ctx, s.VerifyCert)
	tok, err := rp.oauth2Config(s, p, redirectURL).Exchange(pctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, denied("OIDC_CODE", "the OIDC provider refused the authorization code (%s %s): it was used already, has expired or was issued to another client",
				re.ErrorCode, clip(re.ErrorDescription))
		}
		return Identity{}, errs.Wrap(errs.Unavailable, err, "cannot reach the OIDC provider's token endpoint")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, denied("OIDC_TOKEN", "the OIDC provider returned no ID token (is openid in oidc_scope?)")
	}
	claims, idt, err := rp.verifyIDToken(pctx, p, s, raw, st.Nonce)
	if err != nil {
		return Identity{}, err
	}
	// Profile claims may come only from the userinfo endpoint.
	if ui, err := p.UserInfo(pctx, oauth2.StaticTokenSource(tok)); err == nil {
		var more map[string]any
		if err := ui.Claims(&more); err == nil && ui.Subject == idt.Subject {
			for k, v := range more {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		}
	}
	id := Identity{Issuer: idt.Issuer, Subject: idt.Subject, RefreshToken: tok.RefreshToken}
	mapClaims(&id, claims, s)
	return id, nil
}

// verifyIDToken checks signature, issuer, audience and expiry (go-oidc)
// and the nonce, and returns the token's claims.
func (rp *RP) verifyIDToken(ctx context.Context, p *gooidc.Provider, s Settings, raw, nonce string) (map[string]any, *gooidc.IDToken, error) {
	idt, err := p.Verifier(&gooidc.Config{ClientID: s.ClientID, Now: rp.acc.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, nil, idTokenError(err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 || nonce == "" {
		return nil, nil, denied("OIDC_NONCE", "the ID token's nonce does not match this sign-in (a replayed or substituted token)")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, denied("OIDC_TOKEN", "the ID token's claims cannot be read")
	}
	return claims, idt, nil
}

func idTokenError(err error) error {
	var exp *gooidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return denied("OIDC_TOKEN_EXPIRED", "the ID token expired at %s", exp.Expiry.UTC().Format(time.RFC3339))
	case strings.Contains(msg, "issuer"):
		return denied("OIDC_ISSUER", "the ID token was issued by another issuer: %s", clip(msg))
	case strings.Contains(msg, "audience"):
		return denied("OIDC_AUDIENCE", "the ID token is meant for another client: %s", clip(msg))
	}
	return denied("OIDC_TOKEN", "the ID token is not valid: %s", clip(msg))
}

// mapClaims fills the account fields from the claims.
func mapClaims(id *Identity, c map[string]any, s Settings) {
	str := func(k string) string {
		v, _ := c[k].(string)
		return strings.TrimSpace(v)
	}
	if s.UserClaim != "" {
		id.Username = str(s.UserClaim)
	}
	for _, k := range []string{"preferred_username", "name", "email"} {
		if id.Username != "" {
			break
		}
		id.Username = str(k)
	}
	id.Email = str("email")
	id.Realname = str("name")
	if s.GroupsClaim != "" {
		id.Groups = []string{}
		switch v := c[s.GroupsClaim].(type) {
		case []any:
			for _, g := range v {
				if g, ok := g.(string); ok && g != "" && len(g) <= 255 {
					id.Groups = append(id.Groups, g)
				}
			}
		case string:
			for _, g := range strings.Split(v, ",") {
				if g = strings.TrimSpace(g); g != "" && len(g) <= 255 {
					id.Groups = append(id.Groups, g)
				}
			}
		}
		if len(id.Groups) > 200 {
			id.Groups = id.Groups[:200]
		}
	}
	if s.AdminGroup != "" {
		admin := containsWord(id.Groups, s.AdminGroup)
		id.Admin = &admin
	}
}

// Login signs the identity in: the linked account, or a new one when
// onboard is true (named username, or the claimed name when username is
// ""). Without onboarding an unknown identity gives an error that
// access.IsNotOnboarded recognises, unless auto-onboarding is on.
func (rp *RP) Login(ctx context.Context, id Identity, username string, onboard bool) (meta.User, access.Principal, error) {
	s, err := rp.settings(ctx)
	if err != nil {
		return meta.User{}, access.Principal{}, err
	}
	if username == "" {
		username = id.Username
	}
	l := access.ExternalLogin{
		Source: meta.SourceOIDC, Issuer: id.Issuer, Subject: id.Subject,
		Username: username, Email: id.Email, Realname: id.Realname,
		Admin: id.Admin, RefreshToken: id.RefreshToken,
	}
	if id.Groups != nil {
		l.Groups = make([]meta.UserGroup, len(id.Groups))
		for i, g := range id.Groups {
			l.Groups[i] = meta.UserGroup{Name: g, Type: meta.GroupOIDC}
		}
	}
	if onboard || s.AutoOnboard {
		if username == "" {
			return meta.User{}, access.Principal{}, errs.New(errs.Invalid, "", "the provider sent no user name (set oidc_user_claim)")
		}
	}
	u, p, err := rp.acc.LoginExternal(ctx, l, onboard || s.AutoOnboard)
	if err != nil {
		return meta.User{}, access.Principal{}, fmt.Errorf("OIDC sign-in of %s: %w", clip(id.Subject), err)
	}
	return u, p, nil
}

// AutoOnboard reports whether new users get an account without being
// asked for a name.
func (rp *RP) AutoOnboard(ctx context.Context) bool {
	s, err := rp.settings(ctx)
	return err == nil && s.AutoOnboard
}

// ProviderName is the configured display name of the provider.
func (rp *RP) ProviderName(ctx context.Context) string {
	v, _ := rp.acc.ConfigValue(ctx, KeyName)
	return v
}
