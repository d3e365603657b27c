package auth

import (
	"net/http"

	"github.com/berth-registry/berth/internal/access"
)

// MayPush reports whether the caller of r may push to repository repo by
// the project's policy, whatever scope the caller's token was issued
// for. Content trust uses it to let a signer read the manifest it is
// about to sign: signing clients fetch the manifest with a pull-only
// token first and ask for push only when they write the signature.
func (g *Registry) MayPush(r *http.Request, repo string) bool {
	ctx := r.Context()
	var p access.Principal
	if tok, ok := bearerToken(r); ok {
		_, pr, err := g.a.Bearer(ctx, tok)
		if err != nil {
			return false
		}
		p = pr
	} else if _, _, ok := r.BasicAuth(); ok {
		pr, _, err := g.a.Basic(r)
		if err != nil {
			return false
		}
		p = pr
	} else {
		return false
	}
	if p.IsAnonymous() {
		return false
	}
	granted, _, err := g.a.acc.RepositoryActions(ctx, p, repo, []string{access.ActPush})
	return err == nil && containsAction(granted, access.ActPush)
}

// ScannerPull reports whether r carries a registry token granting the
// scanner-pull action on repo: the token a vulnerability scanner is given
// to fetch an image. As in Harbor, pull policies let such requests
// through, so that what must be scanned can be scanned.
func (g *Registry) ScannerPull(r *http.Request, repo string) bool {
	tok, ok := bearerToken(r)
	if !ok {
		return false
	}
	claims, _, err := g.a.Bearer(r.Context(), tok)
	return err == nil && claims.Allows("repository", repo, access.ActScannerPull)
}
