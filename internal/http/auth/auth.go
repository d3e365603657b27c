// Package auth turns HTTP credentials into access.Principals and guards
// the registry API: Basic credentials, registry tokens (Bearer) and the
// Docker token challenge. Decisions themselves are made by access.
package auth

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/httputil"
	"github.com/berth-registry/berth/internal/meta"
)

// Service is the token service name in challenges and tokens.
const Service = "berth"

// Authn authenticates requests.
type Authn struct {
	acc         *access.Service
	externalURL string
	log         *slog.Logger
}

// New returns an Authn.
func New(acc *access.Service, externalURL string, log *slog.Logger) *Authn {
	return &Authn{acc: acc, externalURL: externalURL, log: log}
}

// Access is the access service behind it.
func (a *Authn) Access() *access.Service { return a.acc }

// Source is the client address used for rate limiting and audit.
func Source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Basic authenticates HTTP Basic credentials. ok is false when the request
// carries none.
func (a *Authn) Basic(r *http.Request) (p access.Principal, ok bool, err error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return access.Principal{}, false, nil
	}
	p, err = a.acc.Authenticate(r.Context(), user, pass, Source(r))
	return p, true, err
}

// Bearer verifies a registry token and returns its claims and the
// principal it was issued to, re-checked against the store so that a
// disabled user or a disabled, expired or deleted robot loses access at
// once rather than when the token expires.
func (a *Authn) Bearer(ctx context.Context, token string) (access.Claims, access.Principal, error) {
	c, err := a.acc.Signer().Verify(token, Service)
	if err != nil {
		return access.Claims{}, access.Principal{}, err
	}
	p, err := a.acc.PrincipalOf(ctx, c)
	if err != nil {
		return access.Claims{}, access.Principal{}, err
	}
	return c, p, nil
}

// Realm is the token endpoint URL clients are sent to.
func (a *Authn) Realm(r *http.Request) string {
	return httputil.ExternalBase(r, a.externalURL) + "/service/token"
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// Principal authenticates a request by Bearer token or Basic credentials;
// a request with neither is anonymous.
func (a *Authn) Principal(r *http.Request) (access.Principal, *access.Claims, error) {
	if tok, ok := bearerToken(r); ok {
		c, p, err := a.Bearer(r.Context(), tok)
		if err != nil {
			return access.Principal{}, nil, err
		}
		return p, &c, nil
	}
	p, _, err := a.Basic(r)
	return p, nil, err
}

// audit records a registry operation by the request's principal.
func (a *Authn) audit(r *http.Request, p access.Principal, op, resourceType, resource string, projectID int64) {
	e := meta.AuditLog{
		ProjectID: projectID, Username: p.Name(), Resource: resource, ResourceType: resourceType,
		Operation: op, SourceIP: Source(r),
	}
	if op == "pull" {
		a.acc.AuditLater(r.Context(), e) // the hot path: written in a batch
		return
	}
	a.acc.Audit(r.Context(), e)
}

func isKind(err error, k errs.Kind) bool { return errs.Is(err, k) }
