package oci_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	spec "github.com/berth-registry/berth/internal/oci"
)

// TestDeleteTakesTagSchemeAccessories: DELETE of a manifest by digest
// answers 202 and takes the cosign accessories its sha256-<hex>.sig/.att
// tags name (and theirs) at once, as the API's artifact delete does; an
// image someone tagged sha256-<hex>.sbom only loses that tag, and an
// artifact whose subject it was stays (the OCI API deletes what it is
// told to).
func TestDeleteTakesTagSchemeAccessories(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		const repo = "p/app"
		schemeTag := func(d spec.Digest, sfx string) string { return strings.Replace(string(d), ":", "-", 1) + "." + sfx }
		push := func(ref string, body []byte) spec.Digest {
			t.Helper()
			r := e.putManifest(repo, ref, body, spec.MediaTypeImageManifest)
			e.expect(r, http.StatusCreated, "push "+ref)
			return spec.FromBytes(body)
		}
		// accessory is a cosign-style manifest whose one layer has media type mt.
		accessory := func(payload, mt string, extra map[string]any) []byte {
			cfg := []byte(`{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}`)
			cd := e.pushBlob(repo, cfg)
			ld := e.pushBlob(repo, []byte(payload))
			m := map[string]any{"schemaVersion": 2, "mediaType": spec.MediaTypeImageManifest,
				"config": map[string]any{"mediaType": spec.MediaTypeImageConfig, "digest": cd, "size": len(cfg)},
				"layers": []any{map[string]any{"mediaType": mt, "digest": ld, "size": len(payload)}}}
			for k, v := range extra {
				m[k] = v
			}
			b, _ := json.Marshal(m)
			return b
		}
		body, _ := e.image(repo, 1, nil)
		img := push("v1", body)
		sig := push(schemeTag(img, "sig"), accessory(`{"critical":{"image":{"docker-manifest-digest":"`+string(img)+`"}}}`,
			"application/vnd.dev.cosign.simplesigning.v1+json", nil))
		sigOfSig := push(schemeTag(sig, "sig"), accessory(`{"critical":{"image":{"docker-manifest-digest":"`+string(sig)+`"}}}`,
			"application/vnd.dev.cosign.simplesigning.v1+json", nil))
		att := push(schemeTag(img, "att"), accessory(`{"payloadType":"application/vnd.in-toto+json"}`, "application/vnd.dsse.envelope.v1+json", nil))
		otherBody, _ := e.image(repo, 2, nil)
		other := push(schemeTag(img, "sbom"), otherBody) // an image, not an SBOM
		referrer := push(string(spec.FromBytes(accessory("about img", "application/vnd.example.note",
			map[string]any{"subject": map[string]any{"mediaType": spec.MediaTypeImageManifest, "digest": img, "size": len(body)}}))),
			accessory("about img", "application/vnd.example.note",
				map[string]any{"subject": map[string]any{"mediaType": spec.MediaTypeImageManifest, "digest": img, "size": len(body)}}))

		r := e.do("DELETE", "/v2/"+repo+"/manifests/"+string(img), nil)
		e.expect(r, http.StatusAccepted, "delete the image by digest")

		for _, c := range []struct {
			ref    string
			status int
		}{
			{string(img), 404}, {"v1", 404},
			{string(sig), 404}, {schemeTag(img, "sig"), 404},
			{string(sigOfSig), 404}, {schemeTag(sig, "sig"), 404},
			{string(att), 404}, {schemeTag(img, "att"), 404},
			{string(other), 200}, {schemeTag(img, "sbom"), 404},
			{string(referrer), 200},
		} {
			if got := e.do("GET", "/v2/"+repo+"/manifests/"+c.ref, nil).Status; got != c.status {
				t.Errorf("GET %s after the delete: %d, want %d", c.ref, got, c.status)
			}
		}
		r = e.do("GET", "/v2/"+repo+"/tags/list", nil)
		e.expect(r, http.StatusOK, "tags")
		var tl struct{ Tags []string }
		json.Unmarshal(r.Body, &tl)
		if len(tl.Tags) != 0 {
			t.Errorf("tags left: %q", tl.Tags)
		}
		// Deleting the image again is the OCI answer for an unknown one.
		r = e.do("DELETE", "/v2/"+repo+"/manifests/"+string(img), nil)
		if r.Status != http.StatusNotFound || r.errCode() != "MANIFEST_UNKNOWN" {
			t.Errorf("second delete: %d %s, want 404 MANIFEST_UNKNOWN", r.Status, r.errCode())
		}
		// A signature deleted on its own (by digest) goes alone; its subject stays.
		body2, _ := e.image(repo, 3, nil)
		img2 := push("v2", body2)
		sig2 := push(schemeTag(img2, "sig"), accessory(`{"critical":{"image":{"docker-manifest-digest":"`+string(img2)+`"}}}`,
			"application/vnd.dev.cosign.simplesigning.v1+json", nil))
		e.expect(e.do("DELETE", "/v2/"+repo+"/manifests/"+string(sig2), nil), http.StatusAccepted, "delete the signature")
		if got := e.do("GET", "/v2/"+repo+"/manifests/v2", nil).Status; got != 200 {
			t.Errorf("the signed image after deleting its signature: %d", got)
		}
		r = e.do("GET", "/v2/"+repo+"/tags/list", nil)
		json.Unmarshal(r.Body, &tl)
		if !slices.Equal(tl.Tags, []string{"v2"}) {
			t.Errorf("tags after deleting the signature: %q, want [v2]", tl.Tags)
		}
	})
}
