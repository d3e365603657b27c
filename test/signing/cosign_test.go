package signing

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/signature"
	st "github.com/berth-registry/berth/internal/signature/signaturetest"
)

// TestCosignContentTrust signs with the real cosign against a project
// whose content trust requires cosign signatures: unsigned pulls are
// refused with 412 and Harbor's message, the signer (push rights, cosign's
// User-Agent) can read what it signs, signed pulls pass, verification
// works through berth, a copy into another project stays signed, an
// attestation is no signature, strict mode wants a trusted key, a signed index covers its children pulled by digest,
// and deleting an image deletes its signatures.
func TestCosignContentTrust(t *testing.T) {
	const proj = "cosigned"
	project(t, proj, map[string]string{"enable_content_trust_cosign": "true"})
	user(t, "puller", "Puller-Pass-1", proj, 3) // guest: pull only
	user(t, "pusher", "Pusher-Pass-1", proj, 2) // developer: push
	repo := proj + "/app"
	reg := env.registry
	c := newCosign(t)
	c.login(t, "admin", env.password)

	img := pushImage(t, repo, "v1")
	unsigned := pushImage(t, repo, "unsigned")

	t.Run("unsigned pull refused", func(t *testing.T) {
		for _, ref := range []string{"v1", string(img.Digest)} {
			wantPull(t, repo, ref, http.StatusPreconditionFailed, "The image is not signed by cosign.")
		}
		r := request(t, "admin", env.password, dockerUA, "HEAD", "/v2/"+repo+"/manifests/v1", nil)
		if r.status != http.StatusPreconditionFailed {
			t.Fatalf("HEAD: %s", r)
		}
		// Blobs and the management API are not policed.
		if r := admin(t, "GET", "/v2/"+repo+"/blobs/"+string(img.Blobs[1].Desc.Digest), nil); r.status != http.StatusOK {
			t.Fatalf("blob: %s", r)
		}
		// A cosign User-Agent is not enough without push rights, and push
		// rights are not enough without a signer's User-Agent.
		if r := request(t, "puller", "Puller-Pass-1", "cosign/v3.0.0 (linux; amd64)", "GET", "/v2/"+repo+"/manifests/v1", nil); r.status != http.StatusPreconditionFailed {
			t.Fatalf("cosign UA without push: %s", r)
		}
		if r := pull(t, "pusher", "Pusher-Pass-1", repo, "v1"); r.status != http.StatusPreconditionFailed {
			t.Fatalf("docker UA with push: %s", r)
		}
		if r := request(t, "pusher", "Pusher-Pass-1", "cosign/v3.0.0 (linux; amd64)", "GET", "/v2/"+repo+"/manifests/v1", nil); r.status != http.StatusOK {
			t.Fatalf("cosign UA with push: %s", r)
		}
		// An image dressed as an accessory (a tag of cosign's scheme, a
		// subject) is still an image: no way around the policy.
		disguised := signature.TagFor(img.Digest, "att")
		pushManifest(t, repo, disguised, oci.MediaTypeImageManifest, unsigned.Content)
		wantPull(t, repo, disguised, http.StatusPreconditionFailed, "not signed")
		withSubject := image(t, "amd64")
		withSubject = st.NewManifest("", withSubject.Blobs[0], withSubject.Blobs[1:], ptr(img.Desc()), nil)
		push(t, repo, "", withSubject)
		wantPull(t, repo, string(withSubject.Digest), http.StatusPreconditionFailed, "not signed")
	})

	t.Run("sign, verify, pull", func(t *testing.T) {
		c.sign(t, reg+"/"+repo+"@"+string(img.Digest), false)
		wantPull(t, repo, "v1", http.StatusOK, "")
		wantPull(t, repo, string(img.Digest), http.StatusOK, "")
		if r := pull(t, "puller", "Puller-Pass-1", repo, "v1"); r.status != http.StatusOK {
			t.Fatalf("guest pull of a signed image: %s", r)
		}
		if out, errOut, err := c.verify(reg+"/"+repo+"@"+string(img.Digest), false); err != nil {
			t.Fatalf("cosign verify: %v\n%s%s", err, out, errOut)
		}
		wantPull(t, repo, "unsigned", http.StatusPreconditionFailed, "The image is not signed by cosign.")
		sigs := signatures(t, proj, "app", img.Digest)
		if len(sigs) != 1 || sigs[0].Format != "cosign" || sigs[0].Kind != "signature" || sigs[0].Scheme != "referrer" || sigs[0].Problem != "" {
			t.Fatalf("signatures: %+v", sigs)
		}
	})

	t.Run("a robot signs", func(t *testing.T) {
		r := adminJSON(t, "POST", "/api/v2.0/robots", map[string]any{"name": "signer", "level": "project", "duration": -1,
			"permissions": []any{map[string]any{"kind": "project", "namespace": proj, "access": []any{
				map[string]string{"resource": "repository", "action": "pull"},
				map[string]string{"resource": "repository", "action": "push"}}}}}, http.StatusCreated)
		var robot struct{ Name, Secret string }
		mustJSON(t, r.body, &robot)
		rc := newCosign(t)
		rc.login(t, robot.Name, robot.Secret)
		byRobot := pushImage(t, repo, "by-robot")
		wantPull(t, repo, "by-robot", http.StatusPreconditionFailed, "not signed")
		rc.sign(t, reg+"/"+repo+"@"+string(byRobot.Digest), false)
		wantPull(t, repo, "by-robot", http.StatusOK, "")
	})

	t.Run("attestation is not a signature", func(t *testing.T) {
		att := pushImage(t, repo, "attested")
		pred := filepath.Join(c.dir, "predicate.json")
		if err := os.WriteFile(pred, []byte(`{"buildType":"https://example.com/build","builder":{"id":"test"}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		c.must(t, "attest", "--yes", "--key", "cosign.key", "--allow-http-registry", "--type", "slsaprovenance1",
			"--predicate", pred, "--signing-config", "signing-config.json", "--trusted-root", "trusted-root.json",
			reg+"/"+repo+"@"+string(att.Digest))
		sigs := signatures(t, proj, "app", att.Digest)
		if len(sigs) != 1 || sigs[0].Kind != "attestation" {
			t.Fatalf("signatures of an attested image: %+v", sigs)
		}
		wantPull(t, repo, "attested", http.StatusPreconditionFailed, "Attestations and SBOMs are not signatures.")
	})

	t.Run("tag scheme", func(t *testing.T) {
		legacy := pushImage(t, repo, "legacy")
		c.sign(t, reg+"/"+repo+"@"+string(legacy.Digest), true)
		if r := admin(t, "HEAD", "/v2/"+repo+"/manifests/"+signature.TagFor(legacy.Digest, "sig"), nil); r.status != http.StatusOK {
			t.Fatalf("no %s tag: %s", signature.TagFor(legacy.Digest, "sig"), r)
		}
		wantPull(t, repo, "legacy", http.StatusOK, "")
		if out, errOut, err := c.verify(reg+"/"+repo+"@"+string(legacy.Digest), true); err != nil {
			t.Fatalf("cosign verify (tag scheme): %v\n%s%s", err, out, errOut)
		}
	})

	t.Run("a copy stays signed", func(t *testing.T) {
		project(t, "copies", map[string]string{"enable_content_trust_cosign": "true"})
		legacy := admin(t, "GET", "/api/v2.0/projects/"+proj+"/repositories/app/artifacts/legacy", nil)
		var art struct {
			Digest string `json:"digest"`
		}
		mustJSON(t, legacy.body, &art)
		for _, d := range []string{string(img.Digest), art.Digest} {
			r := admin(t, "POST", "/api/v2.0/projects/copies/repositories/app/artifacts?from="+repo+"@"+d, nil)
			if r.status != http.StatusCreated {
				t.Fatalf("copy %s: %s", d, r)
			}
			wantPull(t, "copies/app", d, http.StatusOK, "")
		}
		if out, errOut, err := c.verify(reg+"/copies/app@"+string(img.Digest), false); err != nil {
			t.Fatalf("cosign verify of the copy: %v\n%s%s", err, out, errOut)
		}
		if out, errOut, err := c.verify(reg+"/copies/app@"+art.Digest, true); err != nil {
			t.Fatalf("cosign verify of the copy (tag scheme): %v\n%s%s", err, out, errOut)
		}
		wantPull(t, "copies/app", string(unsigned.Digest), http.StatusNotFound, "")
	})

	t.Run("strict mode", func(t *testing.T) {
		other := newCosign(t)
		trustKey(t, proj, "cosign", "other", other.pub(t))
		wantPull(t, repo, "v1", http.StatusPreconditionFailed, "with a key project cosigned trusts")
		wantPull(t, repo, "legacy", http.StatusPreconditionFailed, "with a key project cosigned trusts")
		trustKey(t, proj, "cosign", "release", c.pub(t))
		wantPull(t, repo, "v1", http.StatusOK, "")
		wantPull(t, repo, "legacy", http.StatusOK, "")
		sigs := signatures(t, proj, "app", img.Digest)
		if len(sigs) != 1 || !sigs[0].Verified || sigs[0].TrustedBy != "release" || !strings.HasPrefix(sigs[0].Signer, "key SHA256:") {
			t.Fatalf("signatures in strict mode: %+v", sigs)
		}
		// Signed by a key the project does not trust.
		byOther := pushImage(t, repo, "by-other-key")
		other.login(t, "admin", env.password)
		other.sign(t, reg+"/"+repo+"@"+string(byOther.Digest), false)
		trustKeys := admin(t, "GET", "/api/v2.0/projects/"+proj+"/trust-keys", nil)
		if !strings.Contains(string(trustKeys.body), `"name":"other"`) {
			t.Fatalf("trust keys: %s", trustKeys)
		}
		// Drop the other key: the image it signed is refused.
		var keys []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		}
		mustJSON(t, trustKeys.body, &keys)
		for _, k := range keys {
			if k.Name == "other" {
				if r := admin(t, "DELETE", "/api/v2.0/projects/"+proj+"/trust-keys/"+itoa(k.ID), nil); r.status != http.StatusOK {
					t.Fatalf("delete key: %s", r)
				}
			}
		}
		wantPull(t, repo, "by-other-key", http.StatusPreconditionFailed, "does not verify with any of the 1 trusted cosign keys")
		wantPull(t, repo, "v1", http.StatusOK, "")
	})

	t.Run("signed index covers its children by digest", func(t *testing.T) {
		a, b := image(t, "amd64"), image(t, "arm64")
		idx := pushIndex(t, repo, "multi", a, b)
		wantPull(t, repo, string(a.Digest), http.StatusPreconditionFailed, "not signed")
		c.sign(t, reg+"/"+repo+"@"+string(idx), false)
		wantPull(t, repo, "multi", http.StatusOK, "")
		wantPull(t, repo, string(a.Digest), http.StatusOK, "")
		wantPull(t, repo, string(b.Digest), http.StatusOK, "")
		wantPull(t, repo, string(unsigned.Digest), http.StatusPreconditionFailed, "not signed")
	})

	t.Run("delete removes signatures", func(t *testing.T) {
		sigs := signatures(t, proj, "app", img.Digest)
		legacySigs := admin(t, "GET", "/v2/"+repo+"/manifests/legacy", nil)
		if legacySigs.status != http.StatusOK {
			t.Fatal(legacySigs)
		}
		legacyDigest := legacySigs.header.Get("Docker-Content-Digest")
		sigTag := signature.TagFor(digestOf(legacyDigest), "sig")
		for _, ref := range []string{"v1", "legacy"} {
			if r := admin(t, "DELETE", "/api/v2.0/projects/"+proj+"/repositories/app/artifacts/"+ref, nil); r.status != http.StatusOK {
				t.Fatalf("delete %s: %s", ref, r)
			}
		}
		for _, s := range sigs {
			if r := admin(t, "GET", "/v2/"+repo+"/manifests/"+s.Digest, nil); r.status != http.StatusNotFound {
				t.Errorf("signature %s of a deleted image: %s", s.Digest, r)
			}
		}
		if r := admin(t, "GET", "/v2/"+repo+"/manifests/"+sigTag, nil); r.status != http.StatusNotFound {
			t.Errorf("tag %s of a deleted image: %s", sigTag, r)
		}
		if r := admin(t, "GET", "/v2/"+repo+"/referrers/"+string(img.Digest), nil); r.status != http.StatusOK || strings.Contains(string(r.body), "sigstore") {
			t.Errorf("referrers of a deleted image: %s", r)
		}
		// The image disguised under v1's .att tag was no accessory: it stays.
		if r := admin(t, "GET", "/api/v2.0/projects/"+proj+"/repositories/app/artifacts/"+string(unsigned.Digest), nil); r.status != http.StatusOK {
			t.Errorf("an image tagged like an accessory went with the subject: %s", r)
		}
	})
}

func ptr[T any](v T) *T { return &v }
