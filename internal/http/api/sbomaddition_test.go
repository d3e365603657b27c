package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

// ctSBOM pushes an SBOM accessory of subject shaped as a scan stores it
// (internal/scanjob/sbom.go): artifactType and single layer of the SBOM's
// media type, titled name. It returns the accessory's digest and the
// document.
func (e *contentEnv) sbom(repo string, subject ctImage, mediaType, title string) (oci.Digest, []byte) {
	e.t.Helper()
	doc := []byte(`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","packages":[{"name":"libssl3","SPDXID":"SPDXRef-p1"}]}` + "\n")
	layer := e.blob(repo, mediaType, doc)
	if title != "" {
		layer["annotations"] = map[string]string{"org.opencontainers.image.title": title}
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     oci.MediaTypeImageManifest,
		"artifactType":  mediaType,
		"config":        e.blob(repo, oci.MediaTypeEmptyJSON, []byte("{}")),
		"layers":        []any{layer},
		"subject":       subject.desc,
	}
	d, _ := e.manifest(repo, "sbom-"+mediaType[len(mediaType)-4:], m)
	return d, doc
}

// TestSBOMAddition: GET …/artifacts/{sbom digest}/additions/sbom, as in
// Harbor, serves the SBOM artifact's document byte for byte as an
// attachment; other artifacts have none (404); readers of the project
// may download it, others not.
func TestSBOMAddition(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		img := e.image("priv/app", "v1", "amd64")
		sbomD, doc := e.sbom("priv/app", img, "application/spdx+json", "sbom.spdx.json")
		path := "/projects/priv/repositories/app/artifacts/" + string(sbomD) + "/additions/sbom"

		r := e.do(e.as("guest"), "GET", path, nil)
		want(t, r, http.StatusOK, "sbom addition")
		// Harbor's swagger says additions are JSON strings; Harbor answers
		// with the SBOM's own media type, as berth does.
		ValidateAgainstBerth(t, "GET", path, r.status, r.header, r.body)
		if !bytes.Equal(r.body, doc) {
			t.Errorf("body %q, want the layer blob %q", r.body, doc)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/spdx+json" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename=sbom.spdx.json` {
			t.Errorf("Content-Disposition %q", cd)
		}
		// The same bytes as the registry serves the blob.
		var m struct{ Layers []struct{ Digest string } }
		decodeInto(t, e.v2("GET", "/v2/priv/app/manifests/"+string(sbomD), nil, "Accept", oci.MediaTypeImageManifest), &m)
		blob := e.v2("GET", "/v2/priv/app/blobs/"+m.Layers[0].Digest, nil)
		if !bytes.Equal(r.body, blob.body) {
			t.Errorf("addition and blob differ")
		}

		// A CycloneDX SBOM without a title is named after its digest.
		cdx, _ := e.sbom("priv/app", img, "application/vnd.cyclonedx+json", "../x")
		r = e.do(e.as("guest"), "GET", "/projects/priv/repositories/app/artifacts/"+string(cdx)+"/additions/sbom", nil)
		want(t, r, http.StatusOK, "cyclonedx addition")
		if ct, cd := r.header.Get("Content-Type"), r.header.Get("Content-Disposition"); ct != "application/vnd.cyclonedx+json" ||
			cd != "attachment; filename=x" {
			t.Errorf("cyclonedx: Content-Type %q Content-Disposition %q", ct, cd)
		}

		// No SBOM: the image itself, a signature, an unknown reference.
		wantErr(t, e.do(e.as("guest"), "GET", "/projects/priv/repositories/app/artifacts/v1/additions/sbom", nil), 404, "no sbom", "image")
		sig := e.signature("priv/app", img)
		wantErr(t, e.do(e.as("guest"), "GET", "/projects/priv/repositories/app/artifacts/"+string(sig)+"/additions/sbom", nil), 404, "no sbom", "signature")
		wantErr(t, e.do(e.as("guest"), "GET", "/projects/priv/repositories/app/artifacts/nope/additions/sbom", nil), 404, "", "unknown tag")

		// Permissions: project readers yes, others no; public projects to all.
		for who, status := range map[string]int{"admin": 200, "developer": 200, "limited": 200, "outsider": 403, "anonymous": 401} {
			if r := e.do(e.as(who), "GET", path, nil); r.status != status {
				t.Errorf("%s: %s, want %d", who, r, status)
			}
		}
		pubImg := e.image("pub/app", "v1", "amd64")
		pubD, _ := e.sbom("pub/app", pubImg, "application/spdx+json", "sbom.spdx.json")
		if r := e.do(anon, "GET", "/projects/pub/repositories/app/artifacts/"+string(pubD)+"/additions/sbom", nil); r.status != 200 {
			t.Errorf("anonymous on a public project: %s", r)
		}
	})
}
