package oidcauth

// ID token checks with real tokens from a real provider: a token for
// another client, an expired token, a token with another nonce and a
// token from another issuer are refused with their own message.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/oauth2"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/oidctest"
)

const redirect = "http://127.0.0.1:1/cb" // never reached: the test reads the code from the redirect

// token signs user in at op as client and returns its ID token, issued
// with nonce.
func token(t *testing.T, op *oidctest.Provider, client, secret, nonce string) string {
	t.Helper()
	ctx := context.Background()
	p, err := gooidc.NewProvider(ctx, op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: redirect,
		Scopes: []string{"openid"}}
	v := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	cb, err := op.Login(&http.Client{Jar: jar, Timeout: 10 * time.Second},
		cfg.AuthCodeURL("st", gooidc.Nonce(nonce), oauth2.S256ChallengeOption(v)), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	tok, err := cfg.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no id_token")
	}
	return raw
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func TestVerifyIDToken(t *testing.T) {
	op := oidctest.Start(t, storage.WebClient("berth", "s1", redirect), storage.WebClient("other", "s2", redirect))
	op.AddUser(oidctest.User{ID: "u1", Username: "alice", Password: "pw"})

	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := &fixedClock{t: time.Now()}
	acc, err := access.New(ctx, db, access.WithClock(clock.now), access.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	rp := New(acc)
	p, err := rp.provider(ctx, op.Issuer, true)
	if err != nil {
		t.Fatal(err)
	}
	s := Settings{ClientID: "berth"}

	good := token(t, op, "berth", "s1", "n1")
	claims, idt, err := rp.verifyIDToken(ctx, p, s, good, "n1")
	if err != nil || idt.Subject != "u1" || claims["sub"] != "u1" {
		t.Fatalf("a good token: %v %+v", err, idt)
	}
	for _, tc := range []struct {
		name, raw, nonce, code, msg string
		shift                       time.Duration
	}{
		{"audience", token(t, op, "other", "s2", "n1"), "n1", "OIDC_AUDIENCE", "another client", 0},
		{"nonce", good, "n2", "OIDC_NONCE", "nonce", 0},
		{"no nonce", good, "", "OIDC_NONCE", "nonce", 0},
		{"expired", good, "n1", "OIDC_TOKEN_EXPIRED", "expired", 2 * time.Hour},
		{"tampered", good[:len(good)-4] + "AAAA", "n1", "OIDC_TOKEN", "not valid", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.t = time.Now().Add(tc.shift)
			_, _, err := rp.verifyIDToken(ctx, p, s, tc.raw, tc.nonce)
			e, ok := errs.As(err)
			if !ok || e.Kind != errs.Unauthorized || e.Code != tc.code || !strings.Contains(e.Msg, tc.msg) {
				t.Fatalf("got %v (%+v), want %s mentioning %q", err, e, tc.code, tc.msg)
			}
		})
	}
	clock.t = time.Now()

	// A token from another provider (another issuer, other keys): go-oidc
	// checks the signature first, so either refusal will do.
	op2 := oidctest.Start(t, storage.WebClient("berth", "s1", redirect))
	op2.AddUser(oidctest.User{ID: "u1", Username: "alice", Password: "pw"})
	foreign := token(t, op2, "berth", "s1", "n1")
	_, _, err = rp.verifyIDToken(ctx, p, s, foreign, "n1")
	if e, ok := errs.As(err); !ok || e.Kind != errs.Unauthorized || (e.Code != "OIDC_ISSUER" && !strings.Contains(e.Msg, "signature")) {
		t.Fatalf("foreign token: %v", err)
	}
}

func TestMapClaims(t *testing.T) {
	c := map[string]any{"preferred_username": "al", "email": "a@x.org", "name": "Al A",
		"groups": []any{"devs", "", 7, "admins"}, "upn": "al@corp", "roles": "a, b"}
	var id Identity
	mapClaims(&id, c, Settings{GroupsClaim: "groups", AdminGroup: "admins"})
	if id.Username != "al" || id.Email != "a@x.org" || id.Realname != "Al A" || strings.Join(id.Groups, "|") != "devs|admins" || id.Admin == nil || !*id.Admin {
		t.Fatalf("mapped %+v", id)
	}
	id = Identity{}
	mapClaims(&id, c, Settings{UserClaim: "upn", GroupsClaim: "roles", AdminGroup: "admins"})
	if id.Username != "al@corp" || strings.Join(id.Groups, "|") != "a|b" || id.Admin == nil || *id.Admin {
		t.Fatalf("mapped %+v", id)
	}
	id = Identity{}
	mapClaims(&id, map[string]any{"email": "e@x.org"}, Settings{})
	if id.Username != "e@x.org" || id.Groups != nil || id.Admin != nil {
		t.Fatalf("mapped %+v", id)
	}
}

func TestConfigChecks(t *testing.T) {
	for _, tc := range []struct {
		check func(string) error
		v     string
		ok    bool
	}{
		{checkEndpoint, "https://idp.example.com/realms/x", true},
		{checkEndpoint, "", true},
		{checkEndpoint, "ftp://idp", false},
		{checkEndpoint, "https://idp?x=1", false},
		{checkScope, "openid,offline_access", true},
		{checkScope, "profile email", false},
		{checkExtraParams, `{"prompt":"login"}`, true},
		{checkExtraParams, `{"state":"x"}`, false},
		{checkExtraParams, `[1]`, false},
	} {
		if err := tc.check(tc.v); (err == nil) != tc.ok {
			t.Errorf("check(%q) = %v, want ok=%v", tc.v, err, tc.ok)
		}
	}
}

// TestVerifyCert: a provider whose certificate berth does not trust is
// refused unless oidc_verify_cert is off.
func TestVerifyCert(t *testing.T) {
	op := oidctest.StartTLS(t)
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc, err := access.New(ctx, db, access.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	rp := New(acc)
	admin := access.Principal{Kind: access.UserKind, UserID: 1, Username: "admin", SysAdmin: true}
	err = rp.Ping(ctx, admin, op.Issuer, true)
	if e, ok := errs.As(err); !ok || e.Kind != errs.Invalid || !strings.Contains(e.Msg, "certificate") {
		t.Fatalf("untrusted certificate with verification: %v", err)
	}
	if err := rp.Ping(ctx, admin, op.Issuer, false); err != nil {
		t.Fatalf("untrusted certificate without verification: %v", err)
	}
	err = rp.Ping(ctx, access.Principal{Kind: access.UserKind, UserID: 2, Username: "u"}, op.Issuer, false)
	if errs.KindOf(err) != errs.Denied {
		t.Fatalf("ping by a non-administrator: %v", err)
	}
	if err := rp.Ping(ctx, admin, "ftp://x", false); errs.KindOf(err) != errs.Invalid {
		t.Fatalf("ping of a bad URL: %v", err)
	}
}
