package signing

import (
	"net/http"
	"strings"
	"testing"
	"time"

	st "github.com/berth-registry/berth/internal/signature/signaturetest"
)

// TestNotationContentTrust: a Notation signature built from the Notary
// Project specification (a JWS envelope signed by a leaf of a test CA
// chain, the chain in x5c) and pushed as an OCI 1.1 referrer is
// recognised and lets the image through enable_content_trust (a COSE_Sign1
// envelope too); once the
// project keeps a trust store it must chain to one of its roots, so a
// store without the signer's root refuses the pull; a tampered envelope
// never counts.
func TestNotationContentTrust(t *testing.T) {
	const proj = "notarized"
	project(t, proj, map[string]string{"enable_content_trust": "true"})
	repo := proj + "/app"
	img := pushImage(t, repo, "v1")
	wantPull(t, repo, "v1", http.StatusPreconditionFailed, "The image is not signed by notation.")

	ca, err := st.NewCA("release signer")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := st.NewCA("stranger")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := st.Notation(ca, img.Desc(), st.NotationOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sigDigest := push(t, repo, "", sig)

	// The referrers API lists it, as notation verify would find it.
	r := admin(t, "GET", "/v2/"+repo+"/referrers/"+string(img.Digest)+"?artifactType=application/vnd.cncf.notary.signature", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), string(sigDigest)) {
		t.Fatalf("referrers: %s", r)
	}
	wantPull(t, repo, "v1", http.StatusOK, "")
	sigs := signatures(t, proj, "app", img.Digest)
	if len(sigs) != 1 || sigs[0].Format != "notation" || sigs[0].Kind != "signature" || sigs[0].Signer != "CN=release signer,O=berth test" || sigs[0].Problem != "" || sigs[0].Verified {
		t.Fatalf("signatures without a trust store: %+v", sigs)
	}

	// A trust store without the signer's root: refused, and said why.
	trustKey(t, proj, "notation", "stranger", stranger.RootPEM())
	wantPull(t, repo, "v1", http.StatusPreconditionFailed, "The image is not signed by notation with a key project notarized trusts")
	sigs = signatures(t, proj, "app", img.Digest)
	if len(sigs) != 1 || sigs[0].Verified || !strings.Contains(sigs[0].Problem, "trusted root") {
		t.Fatalf("signatures with a foreign trust store: %+v", sigs)
	}
	trustKey(t, proj, "notation", "release", ca.RootPEM())
	wantPull(t, repo, "v1", http.StatusOK, "")
	sigs = signatures(t, proj, "app", img.Digest)
	if len(sigs) != 1 || !sigs[0].Verified || sigs[0].TrustedBy != "release" {
		t.Fatalf("signatures with the signer's root trusted: %+v", sigs)
	}

	// A tampered envelope, or one signed before the chain was valid, or
	// one about another image, never counts.
	for name, o := range map[string]st.NotationOptions{
		"tampered": {Tamper: true},
		"too old":  {SigningTime: time.Now().Add(-72 * time.Hour)},
	} {
		other := pushImage(t, repo, strings.ReplaceAll(name, " ", "-"))
		bad, err := st.Notation(ca, other.Desc(), o)
		if err != nil {
			t.Fatal(err)
		}
		push(t, repo, "", bad)
		wantPull(t, repo, string(other.Digest), http.StatusPreconditionFailed, "not signed by notation")
	}
	misdirected := pushImage(t, repo, "misdirected")
	desc := img.Desc()
	bad, err := st.Notation(ca, misdirected.Desc(), st.NotationOptions{Target: &desc})
	if err != nil {
		t.Fatal(err)
	}
	push(t, repo, "", bad)
	wantPull(t, repo, "misdirected", http.StatusPreconditionFailed, "not signed by notation")

	// COSE envelopes are verified alike.
	coseImg := pushImage(t, repo, "cose")
	wantPull(t, repo, "cose", http.StatusPreconditionFailed, "not signed by notation")
	coseSig, err := st.Notation(ca, coseImg.Desc(), st.NotationOptions{COSE: true})
	if err != nil {
		t.Fatal(err)
	}
	push(t, repo, "", coseSig)
	wantPull(t, repo, "cose", http.StatusOK, "")
	if sigs := signatures(t, proj, "app", coseImg.Digest); len(sigs) != 1 || !sigs[0].Verified {
		t.Fatalf("COSE signature: %+v", sigs)
	}

	// The signature itself can be pulled, so that clients can verify.
	if r := pull(t, "admin", env.password, repo, string(sigDigest)); r.status != http.StatusOK {
		t.Fatalf("pull the signature: %s", r)
	}
}
