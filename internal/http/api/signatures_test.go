package api_test

import (
	"net/http"
	"strings"
	"testing"

	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/signature"
	st "github.com/berth-registry/berth/internal/signature/signaturetest"
)

type ctSignature struct {
	Digest        string `json:"digest"`
	Format        string `json:"format"`
	Kind          string `json:"kind"`
	Scheme        string `json:"scheme"`
	Subject       string `json:"subject_digest"`
	InheritedFrom string `json:"inherited_from"`
	Signer        string `json:"signer"`
	SignedAt      string `json:"signed_at"`
	Verified      bool   `json:"verified"`
	TrustedBy     string `json:"trusted_by"`
	Problem       string `json:"problem"`
}

// pushSigned pushes m's blobs and m into repo under ref ("" = by digest).
func (e *contentEnv) pushSigned(repo, ref string, m st.Manifest) spec.Digest {
	e.t.Helper()
	for _, b := range m.Blobs {
		e.blob(repo, b.Desc.MediaType, b.Content)
	}
	if ref == "" {
		ref = string(m.Digest)
	}
	r := e.v2("PUT", "/v2/"+repo+"/manifests/"+ref, m.Content, "Content-Type", spec.MediaTypeImageManifest)
	want(e.t, r, http.StatusCreated, "push "+repo+":"+ref)
	return m.Digest
}

func (e *contentEnv) signatures(c cred, repoPath, ref string) []ctSignature {
	e.t.Helper()
	path := "/projects/" + repoPath + "/artifacts/" + ref + "/additions/signatures"
	r := e.do(c, "GET", path, nil)
	want(e.t, r, 200, "GET "+path)
	ValidateAgainstBerth(e.t, "GET", path, r.status, r.header, r.body)
	var out []ctSignature
	decodeInto(e.t, r, &out)
	return out
}

func byKind(sigs []ctSignature) map[string]ctSignature {
	out := map[string]ctSignature{}
	for _, s := range sigs {
		out[s.Format+"/"+s.Kind] = s
	}
	return out
}

// TestSignaturesAPI: an artifact's cosign (tag scheme), Notation and
// attestation accessories are listed with their kind, verified once the
// project trusts their key or root, shown as Harbor accessories, copied
// with the artifact and deleted with it; trust keys are a project
// admin's to set.
func TestSignaturesAPI(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		key, err := st.NewCosignKey()
		if err != nil {
			t.Fatal(err)
		}
		ca, err := st.NewCA("release")
		if err != nil {
			t.Fatal(err)
		}
		img := e.image("priv/app", "v1", "amd64")
		subject := spec.Descriptor{MediaType: spec.MediaTypeImageManifest, Digest: img.digest, Size: int64(len(img.manifest))}
		cosignSig := e.pushSigned("priv/app", signature.TagFor(img.digest, "sig"), st.SimpleSigning(key, "priv/app", img.digest))
		nm, err := st.Notation(ca, subject, st.NotationOptions{})
		if err != nil {
			t.Fatal(err)
		}
		notationSig := e.pushSigned("priv/app", "", nm)
		att := e.pushSigned("priv/app", "", st.Bundle(key, subject, "https://slsa.dev/provenance/v1"))

		guest, dev, maint, pa := e.as("guest"), e.as("developer"), e.as("maintainer"), e.as("pa")
		sigs := byKind(e.signatures(guest, "priv/repositories/app", "v1"))
		if len(sigs) != 3 {
			t.Fatalf("signatures: %+v", sigs)
		}
		if s := sigs["cosign/signature"]; s.Digest != string(cosignSig) || s.Scheme != "tag" || s.Verified || s.Problem != "" || s.Subject != string(img.digest) {
			t.Errorf("cosign signature before trust: %+v", s)
		}
		if s := sigs["notation/signature"]; s.Digest != string(notationSig) || s.Scheme != "referrer" || s.Verified || s.Signer != "CN=release,O=berth test" || s.SignedAt == "" {
			t.Errorf("notation signature before trust: %+v", s)
		}
		if s := sigs["cosign/attestation"]; s.Digest != string(att) || s.Verified {
			t.Errorf("attestation: %+v", s)
		}

		// Trust keys: a project admin's to set, a maintainer's to read.
		keys := "/projects/priv/trust-keys"
		body := map[string]string{"type": "cosign", "name": "release", "pem": key.PublicPEM()}
		wantErr(t, e.do(maint, "POST", keys, body), 403, "", "maintainer adds a key")
		wantErr(t, e.do(dev, "GET", keys, nil), 403, "", "developer lists keys")
		r := e.do(pa, "POST", keys, body)
		want(t, r, 201, "add cosign key")
		ValidateAgainstBerth(t, "POST", keys, r.status, r.header, r.body)
		loc := r.header.Get("Location")
		if !strings.HasPrefix(loc, "/api/v2.0/projects/priv/trust-keys/") {
			t.Fatalf("Location %q", loc)
		}
		wantErr(t, e.do(pa, "POST", keys, body), 409, "already trusts", "duplicate key")
		wantErr(t, e.do(pa, "POST", keys, map[string]string{"type": "cosign", "name": "x", "pem": "junk"}), 400, "invalid cosign public key", "bad PEM")
		wantErr(t, e.do(pa, "POST", keys, map[string]string{"type": "gpg", "name": "x", "pem": key.PublicPEM()}), 400, "type must be", "bad type")
		wantErr(t, e.do(pa, "POST", keys, map[string]string{"type": "notation", "name": "x", "pem": key.PublicPEM()}), 400, "invalid notation certificate", "key as a certificate")
		want(t, e.do(pa, "POST", keys, map[string]string{"type": "notation", "name": "corp", "pem": ca.RootPEM()}), 201, "add notation root")
		r = e.do(maint, "GET", keys, nil)
		want(t, r, 200, "list keys")
		ValidateAgainstBerth(t, "GET", keys, r.status, r.header, r.body)
		var list []struct {
			ID          int64  `json:"id"`
			Type        string `json:"type"`
			Name        string `json:"name"`
			Fingerprint string `json:"fingerprint"`
		}
		decodeInto(t, r, &list)
		if len(list) != 2 || list[0].Type != "cosign" || list[1].Type != "notation" || !strings.HasPrefix(list[0].Fingerprint, "SHA256:") {
			t.Fatalf("keys: %+v", list)
		}
		r = e.do(maint, "GET", strings.TrimPrefix(loc, "/api/v2.0"), nil)
		want(t, r, 200, "get key")
		ValidateAgainstBerth(t, "GET", strings.TrimPrefix(loc, "/api/v2.0"), r.status, r.header, r.body)

		sigs = byKind(e.signatures(guest, "priv/repositories/app", "v1"))
		if s := sigs["cosign/signature"]; !s.Verified || s.TrustedBy != "release" || s.Signer != "key "+list[0].Fingerprint {
			t.Errorf("cosign signature with its key trusted: %+v", s)
		}
		if s := sigs["notation/signature"]; !s.Verified || s.TrustedBy != "corp" {
			t.Errorf("notation signature with its root trusted: %+v", s)
		}
		if s := sigs["cosign/attestation"]; s.Verified {
			t.Errorf("an attestation verified as a signature: %+v", s)
		}

		// Accessories are not listed as artifacts, the tag-scheme one
		// neither, and do not count in the repository's artifact_count.
		arts, _ := e.getArtifacts(guest, "priv/repositories/app", "")
		if len(arts) != 1 || arts[0].Digest != string(img.digest) {
			t.Errorf("artifact list: %+v", arts)
		}
		r = e.do(guest, "GET", "/projects/priv/repositories/app", nil)
		if !strings.Contains(string(r.body), `"artifact_count":1`) {
			t.Errorf("repository: %s", r.body)
		}

		// Harbor's accessories: the tag-scheme signature is one too, the
		// attestation is not a signature.
		a := e.getArtifact(guest, "priv/repositories/app", "v1", "with_accessory=true")
		types := map[string]string{}
		for _, acc := range *a.Accessories {
			types[acc.Digest] = acc.Type
		}
		if types[string(cosignSig)] != "signature.cosign" || types[string(notationSig)] != "signature.notation" || types[string(att)] != "subject.accessory" {
			t.Errorf("accessory types: %v", types)
		}

		// A copy keeps every signature, the tag-scheme one with its tag.
		want(t, e.do(pa, "POST", "/projects/priv/repositories/copy/artifacts?from=priv/app:v1", nil), 201, "copy")
		if got := e.signatures(guest, "priv/repositories/copy", "v1"); len(got) != 3 {
			t.Errorf("signatures of the copy: %+v", got)
		}
		r = e.v2("GET", "/v2/priv/copy/manifests/"+signature.TagFor(img.digest, "sig"), nil)
		want(t, r, 200, "the copy's .sig tag")

		// Deleting a signature needs the right to delete the artifact.
		wantErr(t, e.do(dev, "DELETE", "/projects/priv/repositories/copy/artifacts/"+string(notationSig), nil), 403, "", "developer deletes a signature")
		want(t, e.do(maint, "DELETE", "/projects/priv/repositories/copy/artifacts/"+string(notationSig), nil), 200, "maintainer deletes a signature")
		if got := e.signatures(guest, "priv/repositories/copy", "v1"); len(got) != 2 {
			t.Errorf("signatures of the copy after deleting one: %+v", got)
		}

		// Deleting the artifact deletes its accessories, the tag-scheme one too.
		want(t, e.do(maint, "DELETE", "/projects/priv/repositories/app/artifacts/v1", nil), 200, "delete the image")
		for _, d := range []spec.Digest{cosignSig, notationSig, att} {
			if n := e.manifestRows("priv/app", d); n != 0 {
				t.Errorf("accessory %s outlived its subject", d)
			}
		}
		if n := e.count(`SELECT count(*) FROM tags t JOIN repositories r ON r.id = t.repo_id WHERE r.name = 'priv/app'`); n != 0 {
			t.Errorf("%d tags left in priv/app", n)
		}
	})
}

// TestInheritedAccessories: with_inherited_accessory shows a platform
// manifest the signatures of the index that lists it (not its
// attestations), as Harbor 2.15 does; without it the field is absent.
func TestInheritedAccessories(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		key, _ := st.NewCosignKey()
		ca, err := st.NewCA("release")
		if err != nil {
			t.Fatal(err)
		}
		amd, arm := e.image("priv/app", "", "amd64"), e.image("priv/app", "", "arm64")
		idx, body := e.index("priv/app", "multi", map[string]ctImage{"amd64": amd, "arm64": arm})
		idxDesc := spec.Descriptor{MediaType: spec.MediaTypeImageIndex, Digest: idx, Size: int64(len(body))}
		nm, err := st.Notation(ca, idxDesc, st.NotationOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sig := e.pushSigned("priv/app", "", nm)
		e.pushSigned("priv/app", "", st.Bundle(key, idxDesc, "https://slsa.dev/provenance/v1"))

		guest := e.as("guest")
		path := "/projects/priv/repositories/app/artifacts/" + string(amd.digest)
		r := e.do(guest, "GET", path+"?with_inherited_accessory=true", nil)
		want(t, r, 200, "GET with_inherited_accessory")
		ctValidate(t, "GET", path+"?with_inherited_accessory=true", r)
		var got struct {
			Inherited []ctAccessory `json:"inherited_accessories"`
		}
		decodeInto(t, r, &got)
		if len(got.Inherited) != 1 || got.Inherited[0].Digest != string(sig) || got.Inherited[0].Type != "signature.notation" ||
			got.Inherited[0].SubjectArtifactDigest != string(idx) || got.Inherited[0].Size <= int64(len(nm.Content)) {
			t.Fatalf("inherited accessories: %+v", got.Inherited)
		}
		r = e.do(guest, "GET", path, nil)
		if strings.Contains(string(r.body), "inherited_accessories") {
			t.Fatalf("inherited_accessories without asking: %s", r.body)
		}
		// The child's signatures addition lists the index's too.
		sigs := e.signatures(guest, "priv/repositories/app", string(amd.digest))
		if len(sigs) != 2 || sigs[0].InheritedFrom != string(idx) {
			t.Fatalf("signatures of a child: %+v", sigs)
		}
	})
}
