package oci_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	spec "github.com/berth-registry/berth/internal/oci"
)

func TestManifestPushPull(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := e.image("lib/img", 2, nil)
		d := spec.FromBytes(body)
		r := e.putManifest("lib/img", "v1", body, spec.MediaTypeImageManifest)
		e.expect(r, http.StatusCreated, "PUT by tag")
		if r.Header.Get("Docker-Content-Digest") != string(d) || r.Header.Get("Location") != "/v2/lib/img/manifests/"+string(d) {
			t.Fatalf("headers %v", r.Header)
		}
		for _, ref := range []string{"v1", string(d)} {
			for _, m := range []string{"GET", "HEAD"} {
				r = e.do(m, "/v2/lib/img/manifests/"+ref, nil, "Accept", spec.MediaTypeImageManifest)
				e.expect(r, http.StatusOK, m+" "+ref)
				if r.Header.Get("Content-Type") != spec.MediaTypeImageManifest || r.Header.Get("Docker-Content-Digest") != string(d) ||
					r.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
					t.Fatalf("%s %s headers %v", m, ref, r.Header)
				}
				if m == "GET" && !bytes.Equal(r.Body, body) {
					t.Fatalf("GET %s body differs", ref)
				}
			}
		}
		// Pushing the same manifest again is idempotent.
		e.expect(e.putManifest("lib/img", string(d), body, spec.MediaTypeImageManifest), http.StatusCreated, "PUT again by digest")
		if n := e.count("SELECT count(*) FROM manifests"); n != 1 {
			t.Fatalf("manifest rows %d", n)
		}
		if n := e.count("SELECT count(*) FROM manifest_blobs WHERE manifest_digest = ?", string(d)); n != 3 {
			t.Fatalf("reference rows %d, want 3", n)
		}
		// Unknown tag and digest.
		r = e.do("GET", "/v2/lib/img/manifests/nope", nil)
		e.expect(r, http.StatusNotFound, "missing tag")
		if r.errCode() != "MANIFEST_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}
		e.expect(e.do("GET", "/v2/lib/img/manifests/"+string(spec.FromBytes([]byte("x"))), nil), http.StatusNotFound, "missing digest")
		r = e.do("GET", "/v2/no/such/repo/manifests/latest", nil)
		e.expect(r, http.StatusNotFound, "missing repo")
		if r.errCode() != "NAME_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}
	})
}

func TestManifestReferencesMustExist(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, digests := e.image("refs", 1, nil)
		// Remove a layer from the repository, then push: refused.
		e.expect(e.do("DELETE", "/v2/refs/blobs/"+string(digests[1]), nil), http.StatusAccepted, "delete layer")
		r := e.putManifest("refs", "v1", body, spec.MediaTypeImageManifest)
		e.expect(r, http.StatusBadRequest, "manifest with missing layer")
		if r.errCode() != "MANIFEST_BLOB_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}
		// A layer present in another repository does not count.
		other, _ := e.image("elsewhere", 1, nil)
		r = e.putManifest("refs", "v2", other, spec.MediaTypeImageManifest)
		e.expect(r, http.StatusBadRequest, "layers from another repo")
		// A wrong size in a descriptor is refused.
		var m map[string]any
		json.Unmarshal(body, &m)
		e.pushBlob("refs", mustLayer(t, e, "refs", body))
		m["config"].(map[string]any)["size"] = 1
		bad, _ := json.Marshal(m)
		r = e.putManifest("refs", "v3", bad, spec.MediaTypeImageManifest)
		e.expect(r, http.StatusBadRequest, "wrong size")
		if r.errCode() != "MANIFEST_INVALID" {
			t.Fatalf("code %q", r.errCode())
		}
		// An index whose child is missing.
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":10}]}`,
			spec.MediaTypeImageIndex, spec.MediaTypeImageManifest, spec.FromBytes([]byte("child")))
		r = e.putManifest("refs", "idx", []byte(idx), spec.MediaTypeImageIndex)
		e.expect(r, http.StatusBadRequest, "index with missing child")
		if r.errCode() != "MANIFEST_BLOB_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}
		if n := e.count("SELECT count(*) FROM manifests"); n != 0 {
			t.Fatalf("manifest rows after refused pushes: %d", n)
		}
		if n := e.count("SELECT count(*) FROM tags"); n != 0 {
			t.Fatalf("tag rows after refused pushes: %d", n)
		}
	})
}

// mustLayer returns the bytes of the first layer of body; the test pushed
// random bytes, so re-create a layer the size the manifest says.
func mustLayer(t *testing.T, e *env, repo string, body []byte) []byte {
	var m struct {
		Layers []spec.Descriptor `json:"layers"`
	}
	json.Unmarshal(body, &m)
	return randomBytes(t, int(m.Layers[0].Size))
}

func TestManifestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := e.image("badm", 0, nil)
		cases := []struct {
			name, ref, ctype string
			body             []byte
			status           int
			code             string
		}{
			{"not json", "v1", spec.MediaTypeImageManifest, []byte("{nope"), 400, "MANIFEST_INVALID"},
			{"type mismatch", "v1", spec.MediaTypeImageIndex, body, 400, "MANIFEST_INVALID"},
			{"schema 1", "v1", "application/vnd.docker.distribution.manifest.v1+json", []byte(`{"schemaVersion":1,"fsLayers":[]}`), 400, "MANIFEST_INVALID"},
			{"wrong digest", string(spec.FromBytes([]byte("x"))), spec.MediaTypeImageManifest, body, 400, "DIGEST_INVALID"},
			{"bad digest", "sha256:baddigeststring", spec.MediaTypeImageManifest, body, 400, "DIGEST_INVALID"},
			{"bad tag", "-tag", spec.MediaTypeImageManifest, body, 400, "MANIFEST_INVALID"},
			{"too large", "big", spec.MediaTypeImageManifest, bytes.Repeat([]byte(" "), spec.MaxManifestSize+1), 413, "SIZE_INVALID"},
		}
		for _, c := range cases {
			r := e.putManifest("badm", c.ref, c.body, c.ctype)
			e.expect(r, c.status, c.name)
			if r.errCode() != c.code {
				t.Fatalf("%s: code %q want %q", c.name, r.errCode(), c.code)
			}
		}
		if n := e.count("SELECT count(*) FROM manifests"); n != 0 {
			t.Fatalf("manifest rows after bad input: %d", n)
		}
	})
}

func TestIndexAndDelete(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, _ := e.image("multi", 1, nil)
		b, _ := e.image("multi", 2, nil)
		da, db := spec.FromBytes(a), spec.FromBytes(b)
		e.expect(e.putManifest("multi", string(da), a, spec.MediaTypeImageManifest), 201, "child a")
		e.expect(e.putManifest("multi", string(db), b, spec.MediaTypeImageManifest), 201, "child b")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":%q,"digest":%q,"size":%d}]}`,
			spec.MediaTypeImageIndex, spec.MediaTypeImageManifest, da, len(a), spec.MediaTypeImageManifest, db, len(b))
		di := spec.FromBytes([]byte(idx))
		e.expect(e.putManifest("multi", "latest", []byte(idx), spec.MediaTypeImageIndex), 201, "index")
		e.expect(e.putManifest("multi", "also", []byte(idx), spec.MediaTypeImageIndex), 201, "second tag")
		// A child listed by an index cannot be deleted first.
		r := e.do("DELETE", "/v2/multi/manifests/"+string(da), nil)
		e.expect(r, http.StatusConflict, "delete child of index")
		// Deleting a tag leaves the manifest and other tags.
		e.expect(e.do("DELETE", "/v2/multi/manifests/also", nil), 202, "delete tag")
		e.expect(e.do("HEAD", "/v2/multi/manifests/also", nil), 404, "deleted tag")
		e.expect(e.do("HEAD", "/v2/multi/manifests/latest", nil), 200, "other tag")
		// Deleting the index by digest removes its tags too.
		e.expect(e.do("DELETE", "/v2/multi/manifests/"+string(di), nil), 202, "delete index")
		e.expect(e.do("HEAD", "/v2/multi/manifests/latest", nil), 404, "tag of deleted index")
		if n := e.count("SELECT count(*) FROM tags"); n != 0 {
			t.Fatalf("tags left: %d", n)
		}
		e.expect(e.do("DELETE", "/v2/multi/manifests/"+string(da), nil), 202, "delete child after index")
		e.expect(e.do("DELETE", "/v2/multi/manifests/"+string(da), nil), 404, "delete twice")
		if n := e.count("SELECT count(*) FROM manifest_blobs WHERE manifest_digest = ?", string(da)); n != 0 {
			t.Fatalf("references of deleted manifest: %d", n)
		}
	})
}

func TestDockerManifestTypes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := []byte(`{"architecture":"arm64","os":"linux"}`)
		cd := e.pushBlob("dock", cfg)
		layer := randomBytes(t, 300)
		ld := e.pushBlob("dock", layer)
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":%q,"size":300}]}`,
			spec.MediaTypeDockerManifest, spec.MediaTypeDockerConfig, cd, len(cfg), ld)
		e.expect(e.putManifest("dock", "v2", []byte(m), spec.MediaTypeDockerManifest), 201, "docker v2")
		dm := spec.FromBytes([]byte(m))
		list := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`,
			spec.MediaTypeDockerList, spec.MediaTypeDockerManifest, dm, len(m))
		e.expect(e.putManifest("dock", "list", []byte(list), spec.MediaTypeDockerList), 201, "docker list")
		r := e.do("GET", "/v2/dock/manifests/list", nil)
		if r.Header.Get("Content-Type") != spec.MediaTypeDockerList || !bytes.Equal(r.Body, []byte(list)) {
			t.Fatalf("list: %v", r.Header)
		}
	})
}

func TestReferrers(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		subj, _ := e.image("ref", 1, nil)
		sd := spec.FromBytes(subj)
		e.expect(e.putManifest("ref", "v1", subj, spec.MediaTypeImageManifest), 201, "subject")
		subjDesc := map[string]any{"mediaType": spec.MediaTypeImageManifest, "digest": sd, "size": len(subj)}
		sig, _ := e.image("ref", 0, map[string]any{"artifactType": "application/vnd.example.sig", "subject": subjDesc,
			"annotations": map[string]string{"org.example": "yes"}})
		sbom, _ := e.image("ref", 1, map[string]any{"artifactType": "application/spdx+json", "subject": subjDesc})
		for _, b := range [][]byte{sig, sbom} {
			r := e.putManifest("ref", string(spec.FromBytes(b)), b, spec.MediaTypeImageManifest)
			e.expect(r, 201, "referrer")
			if r.Header.Get("OCI-Subject") != string(sd) {
				t.Fatalf("OCI-Subject %q", r.Header.Get("OCI-Subject"))
			}
		}
		var idx struct {
			SchemaVersion int
			MediaType     string
			Manifests     []spec.Descriptor
		}
		r := e.do("GET", "/v2/ref/referrers/"+string(sd), nil)
		e.expect(r, 200, "referrers")
		if r.Header.Get("Content-Type") != spec.MediaTypeImageIndex {
			t.Fatalf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		json.Unmarshal(r.Body, &idx)
		if idx.SchemaVersion != 2 || idx.MediaType != spec.MediaTypeImageIndex || len(idx.Manifests) != 2 {
			t.Fatalf("referrers %s", r.Body)
		}
		var types []string
		for _, m := range idx.Manifests {
			types = append(types, m.ArtifactType)
			if m.ArtifactType == "application/vnd.example.sig" && m.Annotations["org.example"] != "yes" {
				t.Fatalf("annotations lost: %+v", m)
			}
		}
		slices.Sort(types)
		if !slices.Equal(types, []string{"application/spdx+json", "application/vnd.example.sig"}) {
			t.Fatalf("artifact types %v", types)
		}
		r = e.do("GET", "/v2/ref/referrers/"+string(sd)+"?artifactType=application/spdx%2Bjson", nil)
		e.expect(r, 200, "filtered referrers")
		idx.Manifests = nil
		json.Unmarshal(r.Body, &idx)
		if r.Header.Get("OCI-Filters-Applied") != "artifactType" {
			t.Fatalf("filters header %q", r.Header.Get("OCI-Filters-Applied"))
		}
		if len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != "application/spdx+json" {
			t.Fatalf("filtered: %s", r.Body)
		}
		// Subject with no referrers, and an unknown repository: empty index.
		for _, p := range []string{"/v2/ref/referrers/" + string(spec.FromBytes([]byte("none"))), "/v2/nowhere/referrers/" + string(sd)} {
			r = e.do("GET", p, nil)
			e.expect(r, 200, p)
			json.Unmarshal(r.Body, &idx)
			if len(idx.Manifests) != 0 || !strings.Contains(string(r.Body), `"manifests":[]`) {
				t.Fatalf("%s: %s", p, r.Body)
			}
		}
		e.expect(e.do("GET", "/v2/ref/referrers/sha256:short", nil), 400, "bad digest")
	})
}
