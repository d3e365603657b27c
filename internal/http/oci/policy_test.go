package oci_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
)

// TestPullPolicy: a refusing policy turns manifest GET and HEAD into 412
// PROJECTPOLICYVIOLATION with the policy's message; blobs and other
// manifests are served; the policy sees the resolved digest for a tag.
func TestPullPolicy(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := e.image("p/app", 1, nil)
		e.expect(e.putManifest("p/app", "blocked", body, spec.MediaTypeImageManifest), http.StatusCreated, "push blocked")
		other, _ := e.image("p/app", 2, nil)
		e.expect(e.putManifest("p/app", "fine", other, spec.MediaTypeImageManifest), http.StatusCreated, "push fine")
		blocked := spec.FromBytes(body)

		var seen []string
		policy := ocihttp.PullPolicyFunc(func(r *http.Request, repo string, m meta.Manifest) error {
			seen = append(seen, repo+"@"+string(m.Digest))
			if m.Digest == blocked {
				return errs.New(errs.Denied, ocihttp.PolicyViolation, "the image is not signed")
			}
			return nil
		})
		srv := httptest.NewServer(ocihttp.New(e.svc, ocihttp.WithLogger(e.log), ocihttp.WithPullPolicy(policy)))
		t.Cleanup(srv.Close)
		e.srv = srv

		for _, ref := range []string{"blocked", string(blocked)} {
			for _, method := range []string{"GET", "HEAD"} {
				r := e.do(method, "/v2/p/app/manifests/"+ref, nil)
				e.expect(r, http.StatusPreconditionFailed, method+" "+ref)
				if method == "GET" && (r.errCode() != ocihttp.PolicyViolation || !strings.Contains(string(r.Body), "the image is not signed")) {
					t.Fatalf("%s %s: body %s", method, ref, r.Body)
				}
				if r.Header.Get("Docker-Content-Digest") != "" {
					t.Fatalf("%s %s: refused answer carries Docker-Content-Digest", method, ref)
				}
			}
		}
		r := e.do("GET", "/v2/p/app/manifests/fine", nil)
		e.expect(r, http.StatusOK, "GET fine")
		if string(r.Body) != string(other) {
			t.Fatalf("GET fine: body differs")
		}
		if want := "p/app@" + string(blocked); seen[0] != want {
			t.Fatalf("policy saw %q first, want %q", seen[0], want)
		}
	})
}
