package oci

import (
	"net/http"

	"github.com/berth-registry/berth/internal/meta"
)

// PolicyViolation is the error code of a pull refused by a project policy
// (content trust, vulnerability prevention). The answer is 412, as in
// Harbor, so that clients show the message instead of retrying with other
// credentials.
const PolicyViolation = "PROJECTPOLICYVIOLATION"

// PullPolicy decides whether a manifest that exists, and that the caller
// may pull, is served. It runs on GET and HEAD of a manifest, after the
// access check. A nil error serves the manifest; a refusal is an errs
// error with code PolicyViolation whose message says why and how to
// proceed. Each feature that can refuse pulls (signatures, scanning)
// is one PullPolicy; all of them must allow.
type PullPolicy interface {
	CheckPull(r *http.Request, repo string, m meta.Manifest) error
}

// PullPolicyFunc adapts a function to PullPolicy.
type PullPolicyFunc func(r *http.Request, repo string, m meta.Manifest) error

// CheckPull calls f.
func (f PullPolicyFunc) CheckPull(r *http.Request, repo string, m meta.Manifest) error {
	return f(r, repo, m)
}

// WithPullPolicy adds pull policies; each must allow a manifest pull.
func WithPullPolicy(p ...PullPolicy) Option {
	return func(h *Handler) { h.pullPolicies = append(h.pullPolicies, p...) }
}

// checkPull runs every pull policy; the first refusal wins.
func (h *Handler) checkPull(r *http.Request, repo string, m meta.Manifest) error {
	for _, p := range h.pullPolicies {
		if err := p.CheckPull(r, repo, m); err != nil {
			return err
		}
	}
	return nil
}
