package app

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// contentTrust is the pull policy of signatures (registry.CheckContentTrust).
// A signer must read the manifest it signs before it is signed: as in
// Harbor, a request whose User-Agent names cosign or notation passes when
// its credentials may also push to the repository. A plain docker or
// crane pull, whatever its rights, does not, and neither does a signer
// that can only pull. Push rights are the caller's by policy, not its
// token's scope: cosign reads the image with a pull-only token first. A
// registry token granting scanner-pull (a scanner fetching the image)
// passes too, as in Harbor.
func contentTrust(svc *registry.Service, signer interface {
	MayPush(r *http.Request, repo string) bool
	ScannerPull(r *http.Request, repo string) bool
}) ocihttp.PullPolicy {
	return ocihttp.PullPolicyFunc(func(r *http.Request, repo string, m meta.Manifest) error {
		ref := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		err := svc.CheckContentTrust(r.Context(), repo, ref, m)
		if e, ok := errs.As(err); !ok || e.Code != registry.PolicyViolation {
			return err
		}
		if signerAgent(r.UserAgent()) && signer.MayPush(r, repo) || signer.ScannerPull(r, repo) {
			return nil
		}
		return err
	})
}

// signerAgent reports whether a User-Agent is a signing client's.
func signerAgent(ua string) bool {
	ua = strings.ToLower(ua)
	return strings.Contains(ua, "cosign") || strings.Contains(ua, "notation")
}
