package api_test

// Repositories, artifacts, tags and search over real HTTP, on SQLite and
// PostgreSQL: content is pushed through the real /v2 handler (Basic
// credentials, the same access service), then read, filtered, paged,
// tagged, copied and deleted through /api/v2.0. Helpers of these tests
// carry the "ct" prefix or hang off contentEnv.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// contentEnv is an apiEnv whose server also carries a registry: the API
// with a registry.Service and /v2/ over the same stores.
type contentEnv struct {
	*apiEnv
	reg *registry.Service
}

func newContentEnv(t *testing.T, dsn, dir string) *contentEnv {
	t.Helper()
	e := newAPIEnv(t, dsn, dir)
	store, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(e.db, store, registry.WithLogger(e.log))
	authn := auth.New(e.acc, "", e.log)
	apiH := api.New(e.acc, authn, reg, e.log)
	v2 := ocihttp.New(reg, ocihttp.WithLogger(e.log), ocihttp.WithAuthorizer(auth.NewRegistry(authn)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
			v2.ServeHTTP(w, r)
			return
		}
		apiH.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.srv = srv
	return &contentEnv{apiEnv: e, reg: reg}
}

// ctForEachDB runs fn on a fresh content environment on SQLite and on
// PostgreSQL.
func ctForEachDB(t *testing.T, fn func(t *testing.T, e *contentEnv)) {
	t.Helper()
	t.Run(meta.SQLite, func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		fn(t, newContentEnv(t, filepath.Join(dir, "meta.db"), dir))
	})
	t.Run(meta.Postgres, func(t *testing.T) {
		t.Parallel()
		fn(t, newContentEnv(t, pgtest.DSN(t), t.TempDir()))
	})
}

// v2 sends a registry request as admin.
func (e *contentEnv) v2(method, path string, body []byte, hdr ...string) apiResp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := e.as("admin")
	req.SetBasicAuth(c.user, c.pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return apiResp{res.StatusCode, res.Header, b}
}

// blob pushes b into repo and returns its descriptor.
func (e *contentEnv) blob(repo, mediaType string, b []byte) map[string]any {
	e.t.Helper()
	d := spec.FromBytes(b)
	want(e.t, e.v2("POST", "/v2/"+repo+"/blobs/uploads/?digest="+string(d), b), http.StatusCreated, "upload "+string(d))
	return map[string]any{"mediaType": mediaType, "digest": string(d), "size": len(b)}
}

// manifest pushes m (marshalled) into repo under ref and returns its
// digest and bytes.
func (e *contentEnv) manifest(repo, ref string, m map[string]any) (spec.Digest, []byte) {
	e.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	mt, _ := m["mediaType"].(string)
	r := e.v2("PUT", "/v2/"+repo+"/manifests/"+ref, b, "Content-Type", mt)
	want(e.t, r, http.StatusCreated, "push manifest "+repo+":"+ref)
	return spec.Digest(r.header.Get("Docker-Content-Digest")), b
}

func ctRandom(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// ctImage describes a pushed image.
type ctImage struct {
	digest        spec.Digest
	manifest      []byte
	size          int64 // manifest, config and layer
	desc          map[string]any
	config, layer string // blob digests
}

// image pushes an image for arch with one layer and a config that has a
// two-step history, under ref (a tag, or "" to push by digest).
func (e *contentEnv) image(repo, ref, arch string) ctImage {
	e.t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":%q,"os":"linux","author":"berth tests","created":"2024-01-02T03:04:05Z",`+
		`"config":{"Env":["PATH=/bin"],"Cmd":["/app"]},"rootfs":{"type":"layers","diff_ids":[]},`+
		`"history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD app /app"},{"created_by":"CMD [\"/app\"]","empty_layer":true}]}`, arch))
	layer := ctRandom(e.t, 300)
	cd := e.blob(repo, spec.MediaTypeImageConfig, cfg)
	ld := e.blob(repo, "application/vnd.oci.image.layer.v1.tar+gzip", layer)
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     spec.MediaTypeImageManifest,
		"config":        cd,
		"layers":        []any{ld},
	}
	b, _ := json.Marshal(m)
	d := spec.FromBytes(b)
	if ref == "" {
		ref = string(d)
	}
	got, body := e.manifest(repo, ref, m)
	if got != d {
		e.t.Fatalf("pushed %s, registry says %s", d, got)
	}
	return ctImage{digest: d, manifest: body, size: int64(len(body) + len(cfg) + len(layer)),
		desc:   map[string]any{"mediaType": spec.MediaTypeImageManifest, "digest": string(d), "size": len(body)},
		config: cd["digest"].(string), layer: ld["digest"].(string)}
}

// retag pushes img's manifest again under tag.
func (e *contentEnv) retag(repo, tag string, img ctImage) {
	e.t.Helper()
	r := e.v2("PUT", "/v2/"+repo+"/manifests/"+tag, img.manifest, "Content-Type", spec.MediaTypeImageManifest)
	want(e.t, r, http.StatusCreated, "tag "+repo+":"+tag)
	if got := spec.Digest(r.header.Get("Docker-Content-Digest")); got != img.digest {
		e.t.Fatalf("tagging %s gave %s", img.digest, got)
	}
}

// index pushes an index of children under ref.
func (e *contentEnv) index(repo, ref string, children map[string]ctImage) (spec.Digest, []byte) {
	e.t.Helper()
	var ms []any
	for _, arch := range []string{"amd64", "arm64"} {
		c, ok := children[arch]
		if !ok {
			continue
		}
		desc := map[string]any{}
		for k, v := range c.desc {
			desc[k] = v
		}
		desc["platform"] = map[string]any{"architecture": arch, "os": "linux"}
		desc["annotations"] = map[string]string{"arch": arch}
		ms = append(ms, desc)
	}
	return e.manifest(repo, ref, map[string]any{
		"schemaVersion": 2, "mediaType": spec.MediaTypeImageIndex, "manifests": ms,
	})
}

const ctCosignType = "application/vnd.dev.cosign.artifact.sig.v1+json"

// signature pushes a referrer of subject with a signature-like artifact
// type, by digest.
func (e *contentEnv) signature(repo string, subject ctImage) spec.Digest {
	e.t.Helper()
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     spec.MediaTypeImageManifest,
		"artifactType":  ctCosignType,
		"config":        e.blob(repo, spec.MediaTypeEmptyJSON, []byte("{}")),
		"layers":        []any{e.blob(repo, "application/vnd.dev.cosign.simplesigning.v1+json", ctRandom(e.t, 64))},
		"subject":       subject.desc,
	}
	b, _ := json.Marshal(m)
	d, _ := e.manifest(repo, string(spec.FromBytes(b)), m)
	return d
}

// ctChart builds a chart archive: Chart.yaml (with a dependency),
// values.yaml, a template and, when readme is set, README.md.
func ctChart(t *testing.T, readme bool) (archive []byte, values, readmeText string) {
	t.Helper()
	values = "replicaCount: 2\nimage:\n  repository: nginx\n"
	readmeText = "# mychart\n\nA chart for tests.\n"
	files := []struct{ name, body string }{
		{"mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 0.1.0\ndescription: A chart\n" +
			"dependencies:\n  - name: common\n    version: 1.2.3\n    repository: https://charts.example.com\n    condition: common.enabled\n"},
		{"mychart/values.yaml", values},
		{"mychart/templates/deployment.yaml", "kind: Deployment\n"},
		{"mychart/charts/common/values.yaml", "nested: true\n"},
	}
	if readme {
		files = append(files, struct{ name, body string }{"mychart/README.md", readmeText})
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), values, readmeText
}

// chart pushes a Helm chart under ref.
func (e *contentEnv) chart(repo, ref string, readme bool) (spec.Digest, string, string) {
	e.t.Helper()
	archive, values, readmeText := ctChart(e.t, readme)
	cfg := []byte(`{"apiVersion":"v2","name":"mychart","version":"0.1.0","description":"A chart"}`)
	d, _ := e.manifest(repo, ref, map[string]any{
		"schemaVersion": 2,
		"mediaType":     spec.MediaTypeImageManifest,
		"config":        e.blob(repo, meta.MediaTypeHelmConfig, cfg),
		"layers":        []any{e.blob(repo, "application/vnd.cncf.helm.chart.content.v1.tar+gzip", archive)},
	})
	return d, values, readmeText
}

// ctArtifact is Harbor's Artifact as the tests read it.
type ctArtifact struct {
	ID                int64                      `json:"id"`
	Type              string                     `json:"type"`
	MediaType         string                     `json:"media_type"`
	ManifestMediaType string                     `json:"manifest_media_type"`
	ArtifactType      string                     `json:"artifact_type"`
	ProjectID         int64                      `json:"project_id"`
	RepositoryID      int64                      `json:"repository_id"`
	RepositoryName    string                     `json:"repository_name"`
	Digest            string                     `json:"digest"`
	Size              int64                      `json:"size"`
	PushTime          time.Time                  `json:"push_time"`
	PullTime          time.Time                  `json:"pull_time"`
	ExtraAttrs        map[string]any             `json:"extra_attrs"`
	Annotations       map[string]string          `json:"annotations"`
	References        []ctReference              `json:"references"`
	Tags              *[]ctTag                   `json:"tags"`
	AdditionLinks     map[string]json.RawMessage `json:"addition_links"`
	Labels            *[]json.RawMessage         `json:"labels"`
	Accessories       *[]ctAccessory             `json:"accessories"`
}

type ctReference struct {
	ParentID    int64             `json:"parent_id"`
	ChildID     int64             `json:"child_id"`
	ChildDigest string            `json:"child_digest"`
	Platform    map[string]any    `json:"platform"`
	Annotations map[string]string `json:"annotations"`
}

type ctTag struct {
	ID           int64     `json:"id"`
	RepositoryID int64     `json:"repository_id"`
	ArtifactID   int64     `json:"artifact_id"`
	Name         string    `json:"name"`
	PushTime     time.Time `json:"push_time"`
	PullTime     time.Time `json:"pull_time"`
	Immutable    bool      `json:"immutable"`
}

type ctAccessory struct {
	ID                    int64  `json:"id"`
	ArtifactID            int64  `json:"artifact_id"`
	SubjectArtifactID     int64  `json:"subject_artifact_id"`
	SubjectArtifactDigest string `json:"subject_artifact_digest"`
	SubjectArtifactRepo   string `json:"subject_artifact_repo"`
	Size                  int64  `json:"size"`
	Digest                string `json:"digest"`
	Type                  string `json:"type"`
}

func (a ctArtifact) tagNames() []string {
	if a.Tags == nil {
		return nil
	}
	out := []string{}
	for _, t := range *a.Tags {
		out = append(out, t.Name)
	}
	return out
}

// ctValidate validates a response against Harbor's swagger and berth's
// OpenAPI document. Harbor's swagger types the values of extra_attrs as
// objects, yet Harbor itself sends strings there ("architecture":"amd64"),
// and so does berth: those values are set aside for the validators and
// checked by the tests themselves.
func ctValidate(t *testing.T, method, path string, r apiResp) {
	t.Helper()
	body := r.body
	var v any
	if json.Unmarshal(body, &v) == nil {
		var strip func(any)
		strip = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				if _, ok := x["extra_attrs"]; ok {
					x["extra_attrs"] = map[string]any{}
				}
				for _, y := range x {
					strip(y)
				}
			case []any:
				for _, y := range x {
					strip(y)
				}
			}
		}
		strip(v)
		body, _ = json.Marshal(v)
	}
	ValidateAgainstHarbor(t, method, path, r.status, r.header, body)
	ValidateAgainstBerth(t, method, path, r.status, r.header, body)
}

// getArtifacts lists artifacts as c and checks the answer against
// Harbor's swagger.
func (e *contentEnv) getArtifacts(c cred, repoPath, query string) ([]ctArtifact, apiResp) {
	e.t.Helper()
	path := "/projects/" + repoPath + "/artifacts"
	if query != "" {
		path += "?" + query
	}
	r := e.do(c, "GET", path, nil)
	want(e.t, r, 200, "GET "+path)
	ctValidate(e.t, "GET", path, r)
	var out []ctArtifact
	decodeInto(e.t, r, &out)
	return out, r
}

func (e *contentEnv) getArtifact(c cred, repoPath, ref, query string) ctArtifact {
	e.t.Helper()
	path := "/projects/" + repoPath + "/artifacts/" + ref
	if query != "" {
		path += "?" + query
	}
	r := e.do(c, "GET", path, nil)
	want(e.t, r, 200, "GET "+path)
	ctValidate(e.t, "GET", path, r)
	var out ctArtifact
	decodeInto(e.t, r, &out)
	return out
}

func ctDigests(as []ctArtifact) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Digest)
	}
	return out
}

func ctSorted(ds ...spec.Digest) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, string(d))
	}
	slices.Sort(out)
	return out
}

// manifestRows counts the manifests rows of repository repo.
func (e *contentEnv) manifestRows(repo string, d spec.Digest) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM manifests m JOIN repositories r ON r.id = m.repo_id
		WHERE r.name = ? AND m.digest = ?`, repo, string(d))
}

func TestArtifactListAndGet(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		guest := e.as("guest")
		img := e.image("priv/app", "v1", "amd64")
		e.retag("priv/app", "v1.1", img)
		untagged := e.image("priv/app", "", "amd64")
		amd := e.image("priv/app", "", "amd64")
		arm := e.image("priv/app", "", "arm64")
		idx, idxBody := e.index("priv/app", "multi", map[string]ctImage{"amd64": amd, "arm64": arm})
		sig := e.signature("priv/app", img)

		// The listing shows what stands on its own: not the index's
		// children, not the signature.
		arts, r := e.getArtifacts(guest, "priv/repositories/app", "")
		got := ctDigests(arts)
		slices.Sort(got)
		if w := ctSorted(img.digest, untagged.digest, idx); !slices.Equal(got, w) {
			t.Fatalf("artifacts %v, want %v", got, w)
		}
		if got := r.header.Get("X-Total-Count"); got != "3" {
			t.Errorf("X-Total-Count = %q, want 3", got)
		}
		// Newest push first.
		if arts[0].Digest != string(idx) {
			t.Errorf("first artifact %s, want the index pushed last %s", arts[0].Digest, idx)
		}
		byDigest := map[string]ctArtifact{}
		for _, a := range arts {
			byDigest[a.Digest] = a
			if a.Tags == nil {
				t.Errorf("%s: no tags key although with_tag defaults to true", a.Digest)
			}
			if a.ProjectID != e.priv.ID || a.RepositoryName != "priv/app" || a.Type != "IMAGE" {
				t.Errorf("%s: project %d repository %q type %q", a.Digest, a.ProjectID, a.RepositoryName, a.Type)
			}
		}
		if got := byDigest[string(img.digest)].tagNames(); !slices.Equal(got, []string{"v1", "v1.1"}) {
			t.Errorf("tags of the image: %v", got)
		}
		if got := byDigest[string(untagged.digest)].tagNames(); len(got) != 0 {
			t.Errorf("tags of the untagged image: %v", got)
		}

		// One image in full.
		a := e.getArtifact(guest, "priv/repositories/app", "v1", "")
		if a.Digest != string(img.digest) || a.MediaType != spec.MediaTypeImageConfig ||
			a.ManifestMediaType != spec.MediaTypeImageManifest || a.ArtifactType != spec.MediaTypeImageConfig {
			t.Errorf("image: %+v", a)
		}
		if a.Size != img.size {
			t.Errorf("size %d, want %d (manifest, config and layer)", a.Size, img.size)
		}
		if a.ExtraAttrs["architecture"] != "amd64" || a.ExtraAttrs["os"] != "linux" ||
			a.ExtraAttrs["author"] != "berth tests" || a.ExtraAttrs["created"] != "2024-01-02T03:04:05Z" {
			t.Errorf("extra_attrs %v", a.ExtraAttrs)
		}
		if cfg, _ := a.ExtraAttrs["config"].(map[string]any); cfg == nil || cfg["Cmd"] == nil {
			t.Errorf("extra_attrs.config %v", a.ExtraAttrs["config"])
		}
		if !a.PullTime.IsZero() || a.PushTime.IsZero() {
			t.Errorf("push_time %v pull_time %v", a.PushTime, a.PullTime)
		}
		wantLink := `{"href":"/api/v2.0/projects/priv/repositories/app/artifacts/` + string(img.digest) +
			`/additions/build_history","absolute":false}`
		if got := string(a.AdditionLinks["build_history"]); got != wantLink || len(a.AdditionLinks) != 1 {
			t.Errorf("addition_links %v, want build_history %s", a.AdditionLinks, wantLink)
		}
		if a.Accessories != nil || a.Labels != nil {
			t.Errorf("accessories or labels without asking: %+v", a)
		}
		// The summary was cached in the row.
		if n := e.count(`SELECT count(*) FROM manifests WHERE digest = ? AND extra_attrs LIKE '%amd64%'`, string(img.digest)); n != 1 {
			t.Errorf("extra attributes not cached")
		}
		// By digest, with accessories and labels and without tags.
		a = e.getArtifact(guest, "priv/repositories/app", string(img.digest), "with_accessory=true&with_label=true&with_tag=false")
		if a.Tags != nil || a.Labels == nil || len(*a.Labels) != 0 || a.Accessories == nil || len(*a.Accessories) != 1 {
			t.Fatalf("flags: tags %v labels %v accessories %v", a.Tags, a.Labels, a.Accessories)
		}
		acc := (*a.Accessories)[0]
		sigArt := e.getArtifact(guest, "priv/repositories/app", string(sig), "")
		if acc.Digest != string(sig) || acc.Type != "signature.cosign" || acc.SubjectArtifactDigest != string(img.digest) ||
			acc.SubjectArtifactID != a.ID || acc.ArtifactID != sigArt.ID || acc.SubjectArtifactRepo != "priv/app" || acc.Size <= 0 {
			t.Errorf("accessory %+v (signature id %d, image id %d)", acc, sigArt.ID, a.ID)
		}
		if sigArt.Type != "UNKNOWN" || sigArt.ArtifactType != ctCosignType {
			t.Errorf("signature artifact type %q artifact_type %q", sigArt.Type, sigArt.ArtifactType)
		}
		r = e.do(guest, "GET", "/projects/priv/repositories/app/artifacts/v1/accessories", nil)
		want(t, r, 200, "accessories")
		ctValidate(t, "GET", "/projects/priv/repositories/app/artifacts/v1/accessories", r)
		if r.header.Get("X-Total-Count") != "1" {
			t.Errorf("accessories: %s", r)
		}

		// The build history addition.
		r = e.do(guest, "GET", "/projects/priv/repositories/app/artifacts/v1/additions/build_history", nil)
		want(t, r, 200, "build history")
		var history []map[string]any
		decodeInto(t, r, &history)
		if len(history) != 2 || history[0]["created_by"] != "ADD app /app" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("build history %s (%s)", r.body, r.header.Get("Content-Type"))
		}
		wantErr(t, e.do(guest, "GET", "/projects/priv/repositories/app/artifacts/v1/additions/readme.md", nil), 404, "no readme.md", "an image's readme")
		wantErr(t, e.do(guest, "GET", "/projects/priv/repositories/app/artifacts/multi/additions/build_history", nil), 404, "no build_history", "an index's history")
		wantErr(t, e.do(guest, "GET", "/projects/priv/repositories/app/artifacts/v1/additions/nonsense", nil), 400, "unknown addition", "unknown addition")

		// The index: its children, in its order, with their platforms.
		ia := e.getArtifact(guest, "priv/repositories/app", "multi", "")
		amdArt := e.getArtifact(guest, "priv/repositories/app", string(amd.digest), "")
		armArt := e.getArtifact(guest, "priv/repositories/app", string(arm.digest), "")
		if ia.Type != "IMAGE" || ia.MediaType != spec.MediaTypeImageIndex || ia.ManifestMediaType != spec.MediaTypeImageIndex ||
			len(ia.AdditionLinks) != 0 || len(ia.References) != 2 {
			t.Fatalf("index %+v", ia)
		}
		for i, c := range []ctArtifact{amdArt, armArt} {
			ref := ia.References[i]
			arch := []string{"amd64", "arm64"}[i]
			if ref.ParentID != ia.ID || ref.ChildID != c.ID || ref.ChildDigest != c.Digest ||
				ref.Platform["architecture"] != arch || ref.Platform["os"] != "linux" || ref.Annotations["arch"] != arch {
				t.Errorf("reference %d: %+v (child id %d)", i, ref, c.ID)
			}
		}
		if w := int64(len(idxBody)) + amd.size + arm.size; ia.Size != w {
			t.Errorf("index size %d, want %d (itself and its children)", ia.Size, w)
		}

		// Every id is distinct.
		ids := map[int64]bool{}
		for _, x := range []ctArtifact{a, sigArt, ia, amdArt, armArt, byDigest[string(untagged.digest)]} {
			if x.ID <= 0 || ids[x.ID] {
				t.Errorf("artifact id %d of %s is not a distinct positive id", x.ID, x.Digest)
			}
			ids[x.ID] = true
		}

		// A pull counts: the artifact's and the tag's pull time, the
		// repository's pull count.
		want(t, e.v2("GET", "/v2/priv/app/manifests/v1", nil, "Accept", spec.MediaTypeImageManifest), 200, "pull")
		a = e.getArtifact(guest, "priv/repositories/app", "v1", "")
		if a.PullTime.IsZero() {
			t.Errorf("pull_time not set by a pull")
		}
		for _, tg := range *a.Tags {
			if (tg.Name == "v1") == tg.PullTime.IsZero() {
				t.Errorf("tag %s pull_time %v after a pull of v1", tg.Name, tg.PullTime)
			}
		}
		if n := e.count(`SELECT count(*) FROM repositories WHERE name = 'priv/app' AND pull_count = 1`); n != 1 {
			t.Errorf("pull_count is not 1")
		}
	})
}

// ctPlus writes '+' as Harbor's q syntax wants it in a URL.
func ctPlus(s string) string { return strings.ReplaceAll(s, "+", "%252B") }

func TestArtifactQueries(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		dev := e.as("developer")
		img := e.image("priv/app", "v1", "amd64")
		e.retag("priv/app", "release-2", img)
		untagged := e.image("priv/app", "", "amd64")
		amd := e.image("priv/app", "", "amd64")
		idx, _ := e.index("priv/app", "multi", map[string]ctImage{"amd64": amd})
		chart, _, _ := e.chart("priv/app", "0.1.0", true)
		all := ctSorted(img.digest, untagged.digest, idx, chart)

		for _, c := range []struct {
			q    string
			want []string
		}{
			{"", all},
			{"tags=nil", ctSorted(untagged.digest)},
			{"tags=*", ctSorted(img.digest, idx, chart)},
			{"tags=~V1", ctSorted(img.digest)},
			{"tags=~ELEA", ctSorted(img.digest)},
			{"tags=release-2", ctSorted(img.digest)},
			{"tags=release", []string{}},
			{"tags={multi 0.1.0}", ctSorted(idx, chart)},
			{"digest=" + string(untagged.digest), ctSorted(untagged.digest)},
			{"digest=~" + string(idx)[10:30], ctSorted(idx)},
			{"type=IMAGE", ctSorted(img.digest, untagged.digest, idx)},
			{"type=CHART", ctSorted(chart)},
			{"type={CHART CNAB}", ctSorted(chart)},
			// Harbor unescapes q values once more than the URL: a '+'
			// arrives as %252B.
			{"media_type=" + ctPlus(spec.MediaTypeImageIndex), ctSorted(idx)},
			{"media_type=" + ctPlus(meta.MediaTypeHelmConfig), ctSorted(chart)},
			{"manifest_media_type=" + ctPlus(spec.MediaTypeImageManifest), ctSorted(img.digest, untagged.digest, chart)},
			{"push_time=[2000-01-01 00:00:00~2200-01-01 00:00:00]", all},
			{"push_time=[2200-01-01 00:00:00~]", []string{}},
			{"tags=nil,type=CHART", []string{}},
		} {
			arts, r := e.getArtifacts(dev, "priv/repositories/app", "q="+qesc(c.q)+"&page_size=100")
			got := ctDigests(arts)
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("q=%s: got %v, want %v", c.q, got, c.want)
			}
			if r.header.Get("X-Total-Count") != fmt.Sprint(len(c.want)) {
				t.Errorf("q=%s: X-Total-Count %q, want %d", c.q, r.header.Get("X-Total-Count"), len(c.want))
			}
		}

		// Paging and sorting.
		arts, r := e.getArtifacts(dev, "priv/repositories/app", "sort=digest&page=2&page_size=1")
		if len(arts) != 1 || arts[0].Digest != all[1] {
			t.Errorf("page 2 by digest: %v, want %s", ctDigests(arts), all[1])
		}
		link := r.header.Get("Link")
		if r.header.Get("X-Total-Count") != "4" || !strings.Contains(link, `rel="prev"`) || !strings.Contains(link, `rel="next"`) ||
			!strings.Contains(link, "page=3") || !strings.Contains(link, "page=1") {
			t.Errorf("paging headers: total %q link %q", r.header.Get("X-Total-Count"), link)
		}
		arts, _ = e.getArtifacts(dev, "priv/repositories/app", "sort=-digest&page_size=100")
		desc := slices.Clone(all)
		slices.Reverse(desc)
		if got := ctDigests(arts); !slices.Equal(got, desc) {
			t.Errorf("sort=-digest: %v", got)
		}
		arts, _ = e.getArtifacts(dev, "priv/repositories/app", "sort=push_time&page_size=1")
		if arts[0].Digest != string(img.digest) {
			t.Errorf("sort=push_time: oldest first, got %s want %s", arts[0].Digest, img.digest)
		}
		_, _ = e.getArtifacts(dev, "priv/repositories/app", "sort=-pull_time,id")
		arts, _ = e.getArtifacts(dev, "priv/repositories/app", "with_tag=false")
		for _, a := range arts {
			if a.Tags != nil {
				t.Errorf("with_tag=false still has tags: %v", a.Tags)
			}
		}

		for _, c := range []struct{ query, msg string }{
			{"sort=size", "unknown sort field"},
			{"q=" + qesc("colour=red"), "unknown query key"},
			{"q=" + qesc("tags=[a~b]"), "unsupported operator"},
			{"q=" + qesc("push_time=~x"), "fuzzy"},
			{"q=" + qesc("push_time=[yesterday~]"), "is not a time"},
			{"with_tag=maybe", "with_tag must be true or false"},
			{"with_scan_overview=2", "with_scan_overview"},
			{"page_size=1000", "page_size"},
			{"q=digest%3D%FF", "UTF-8"},
			{"q=digest%3D%00", "UTF-8"},
		} {
			wantErr(t, e.do(dev, "GET", "/projects/priv/repositories/app/artifacts?"+c.query, nil), 400, c.msg, c.query)
		}
		// Harbor's other flags are accepted.
		_, _ = e.getArtifacts(dev, "priv/repositories/app", "with_scan_overview=true&with_signature=true&with_immutable_status=true&with_sbom_overview=true")
	})
}

func TestArtifactDelete(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		img := e.image("priv/app", "v1", "amd64")
		e.retag("priv/app", "v2", img)
		sig := e.signature("priv/app", img)
		amd := e.image("priv/app", "", "amd64")
		arm := e.image("priv/app", "keep", "arm64") // tagged: survives its index
		idx, _ := e.index("priv/app", "multi", map[string]ctImage{"amd64": amd, "arm64": arm})
		blobs := e.count(`SELECT count(*) FROM blobs`)

		// Who may delete: Maintainer and Project Admin, not Developer.
		path := "/projects/priv/repositories/app/artifacts/v1"
		wantErr(t, e.do(e.as("developer"), "DELETE", path, nil), 403, "not allowed", "developer")
		wantErr(t, e.do(e.as("guest"), "DELETE", path, nil), 403, "not allowed", "guest")
		wantErr(t, e.do(anon, "DELETE", path, nil), 401, "authentication required", "anonymous")
		wantErr(t, e.do(e.as("outsider"), "DELETE", path, nil), 403, "not allowed", "outsider")
		if e.manifestRows("priv/app", img.digest) != 1 {
			t.Fatal("a refused delete deleted")
		}

		// A child of an index: 412, nothing changes.
		r := e.do(e.as("maintainer"), "DELETE", "/projects/priv/repositories/app/artifacts/"+string(amd.digest), nil)
		// (Harbor answers 412 here, though its swagger does not list it.)
		wantErr(t, r, 412, "referenced by index", "child of an index")
		if e.manifestRows("priv/app", amd.digest) != 1 {
			t.Error("the child went")
		}

		// By tag: the artifact, both its tags and its signature.
		r = e.do(e.as("maintainer"), "DELETE", path, nil)
		want(t, r, 200, "maintainer deletes by tag")
		ctValidate(t, "DELETE", path, r)
		for _, d := range []spec.Digest{img.digest, sig} {
			if e.manifestRows("priv/app", d) != 0 {
				t.Errorf("%s is still there", d)
			}
		}
		if n := e.count(`SELECT count(*) FROM tags WHERE name IN ('v1', 'v2')`); n != 0 {
			t.Errorf("%d tags left", n)
		}
		if n := e.count(`SELECT count(*) FROM blobs`); n != blobs {
			t.Errorf("blobs %d, want %d: deletes leave the bytes to GC", n, blobs)
		}
		if n := e.audits("artifact", "delete", "priv/app@"+string(img.digest)); n != 1 {
			t.Errorf("%d audit rows", n)
		}
		wantErr(t, e.do(e.as("maintainer"), "GET", path, nil), 404, "not found", "gone")
		wantErr(t, e.do(e.as("maintainer"), "DELETE", path, nil), 404, "not found", "again")
		wantErr(t, e.do(e.as("maintainer"), "GET", "/projects/priv/repositories/app/artifacts/"+string(sig), nil), 404, "not found", "signature gone")

		// An index by digest: its untagged child goes with it, the tagged one stays.
		want(t, e.do(e.as("pa"), "DELETE", "/projects/priv/repositories/app/artifacts/"+string(idx), nil), 200, "project admin deletes the index")
		if e.manifestRows("priv/app", idx) != 0 || e.manifestRows("priv/app", amd.digest) != 0 {
			t.Error("index or its untagged child left")
		}
		if e.manifestRows("priv/app", arm.digest) != 1 {
			t.Error("the tagged child went")
		}
		arts, _ := e.getArtifacts(e.as("guest"), "priv/repositories/app", "")
		if got := ctDigests(arts); !slices.Equal(got, []string{string(arm.digest)}) {
			t.Errorf("left: %v", got)
		}

		for _, c := range []struct {
			ref    string
			status int
		}{
			{"sha256:zz", 400},
			{"sha256:" + strings.Repeat("a", 64), 404},
			{"no-such-tag", 404},
			{"bad%20tag", 400},
			{strings.Repeat("t", 200), 400},
			{"%00", 400},
		} {
			r := e.do(e.as("admin"), "DELETE", "/projects/priv/repositories/app/artifacts/"+c.ref, nil)
			if r.status != c.status {
				t.Errorf("DELETE %s: %s, want %d", c.ref, r, c.status)
			}
		}
		wantErr(t, e.do(e.as("admin"), "DELETE", "/projects/priv/repositories/nothing/artifacts/x", nil), 404, "", "no repository")
		wantErr(t, e.do(e.as("admin"), "DELETE", "/projects/nothing/repositories/app/artifacts/x", nil), 404, "not found", "no project, admin")
		wantErr(t, e.do(e.as("maintainer"), "DELETE", "/projects/nothing/repositories/app/artifacts/x", nil), 403, "", "no project, user")
	})
}

func TestArtifactCopy(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		img := e.image("priv/src", "v1", "amd64")
		e.retag("priv/src", "stable", img)
		sig := e.signature("priv/src", img)
		amd := e.image("priv/src", "", "amd64")
		arm := e.image("priv/src", "", "arm64")
		idx, _ := e.index("priv/src", "multi", map[string]ctImage{"amd64": amd, "arm64": arm})

		// Admin copies the image by tag into the public project: the
		// manifest, its signature and its tags; the blobs are linked.
		path := "/projects/pub/repositories/team%252Fdst/artifacts?from=" + qesc("priv/src:v1")
		r := e.do(e.as("admin"), "POST", path, nil)
		want(t, r, 201, "copy")
		ctValidate(t, "POST", path, r)
		if got, w := r.header.Get("Location"), "/api/v2.0/projects/pub/repositories/team%252Fdst/artifacts/v1"; got != w {
			t.Errorf("Location %q, want %q", got, w)
		}
		a := e.getArtifact(anon, "pub/repositories/team%252Fdst", "v1", "with_accessory=true")
		if a.Digest != string(img.digest) || !slices.Equal(a.tagNames(), []string{"stable", "v1"}) || a.RepositoryName != "pub/team/dst" ||
			a.ProjectID != e.pub.ID || a.Accessories == nil || len(*a.Accessories) != 1 || (*a.Accessories)[0].Digest != string(sig) {
			t.Errorf("copied artifact %+v", a)
		}
		if a.Size != img.size || a.ExtraAttrs["architecture"] != "amd64" {
			t.Errorf("copied artifact size %d extra %v", a.Size, a.ExtraAttrs)
		}
		if n := e.count(`SELECT count(*) FROM repo_blobs l JOIN repositories r ON r.id = l.repo_id WHERE r.name = 'pub/team/dst'`); n != 4 {
			t.Errorf("%d blobs linked into the copy, want 4 (config, layer, empty config, signature)", n)
		}
		if n := e.count(`SELECT count(*) FROM manifests m JOIN repositories r ON r.id = m.repo_id WHERE r.name = 'pub/team/dst'`); n != 2 {
			t.Errorf("%d manifests in the copy, want 2", n)
		}
		// Pullable through /v2 from the copy.
		want(t, e.v2("GET", "/v2/pub/team/dst/manifests/v1", nil), 200, "pull the copy")
		want(t, e.v2("GET", "/v2/pub/team/dst/blobs/"+img.layer, nil), 200, "pull a layer of the copy")
		// The source is untouched; the copy is independent of it.
		if e.manifestRows("priv/src", img.digest) != 1 {
			t.Error("source changed")
		}
		if n := e.audits("artifact", "create", "pub/team/dst@"+string(img.digest)); n != 1 {
			t.Errorf("%d audit rows", n)
		}
		// Copying again adds nothing and fails nothing.
		want(t, e.do(e.as("admin"), "POST", path, nil), 201, "copy again")

		// An index by digest, with its children.
		r = e.do(e.as("developer"), "POST", "/projects/priv/repositories/other/artifacts?from="+qesc("priv/src@"+string(idx)), nil)
		want(t, r, 201, "developer copies within the project")
		ia := e.getArtifact(e.as("guest"), "priv/repositories/other", string(idx), "")
		if len(ia.References) != 2 || ia.References[0].ChildID == 0 || ia.References[1].ChildID == 0 {
			t.Errorf("copied index references %+v", ia.References)
		}
		for _, d := range []spec.Digest{amd.digest, arm.digest} {
			if e.manifestRows("priv/other", d) != 1 {
				t.Errorf("child %s not copied", d)
			}
		}
		// As in Harbor, the artifact's tags come along whatever names it.
		if !slices.Equal(ia.tagNames(), []string{"multi"}) {
			t.Errorf("the copied index has tags %v, want [multi]", ia.tagNames())
		}

		// Permissions: create here, read there.
		outsider := e.as("outsider")
		want(t, e.do(outsider, "POST", "/projects", map[string]any{"project_name": "mine"}), 201, "outsider's project")
		wantErr(t, e.do(outsider, "POST", "/projects/mine/repositories/x/artifacts?from="+qesc("priv/src:v1"), nil), 403, "not allowed", "outsider reads priv")
		want(t, e.do(outsider, "POST", "/projects/mine/repositories/x/artifacts?from="+qesc("pub/team/dst:v1"), nil), 201, "outsider copies from a public project")
		wantErr(t, e.do(e.as("developer"), "POST", "/projects/pub/repositories/x/artifacts?from="+qesc("priv/src:v1"), nil), 403, "not allowed", "developer writes pub")
		wantErr(t, e.do(e.as("guest"), "POST", "/projects/priv/repositories/x/artifacts?from="+qesc("priv/src:v1"), nil), 403, "not allowed", "guest")
		wantErr(t, e.do(anon, "POST", "/projects/pub/repositories/x/artifacts?from="+qesc("pub/team/dst:v1"), nil), 401, "authentication", "anonymous")
		if n := e.count(`SELECT count(*) FROM repositories WHERE name IN ('pub/x', 'priv/x')`); n != 0 {
			t.Errorf("refused copies created %d repositories", n)
		}

		// Bad sources.
		admin := e.as("admin")
		for _, c := range []struct {
			from   string
			status int
		}{
			{"", 400},
			{"priv/src", 400},
			{"priv/src:", 400},
			{"priv/src@sha256:zz", 400},
			{"Priv/Src:v1", 400},
			{"priv/src:no-such-tag", 404},
			{"priv/none:v1", 404},
			{"nothing/src:v1", 404},
			{"priv/src@sha256:" + strings.Repeat("b", 64), 404},
			{"a\x00b:v1", 400},
		} {
			r := e.do(admin, "POST", "/projects/priv/repositories/dst/artifacts?from="+url.QueryEscape(c.from), nil)
			if r.status != c.status {
				t.Errorf("from=%q: %s, want %d", c.from, r, c.status)
			}
		}
	})
}

func TestHelmChartAdditions(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		d, values, readme := e.chart("priv/charts/mychart", "0.1.0", true)
		bare, _, _ := e.chart("priv/charts/mychart", "0.0.1", false)
		limited := e.as("limited")
		a := e.getArtifact(limited, "priv/repositories/charts%252Fmychart", "0.1.0", "")
		if a.Digest != string(d) || a.Type != "CHART" || a.MediaType != meta.MediaTypeHelmConfig ||
			a.ExtraAttrs["name"] != "mychart" || a.ExtraAttrs["version"] != "0.1.0" {
			t.Errorf("chart %+v", a)
		}
		base := "/api/v2.0/projects/priv/repositories/charts%252Fmychart/artifacts/" + string(d) + "/additions/"
		for _, name := range []string{"values.yaml", "readme.md", "dependencies"} {
			var link struct {
				Href     string `json:"href"`
				Absolute bool   `json:"absolute"`
			}
			if err := json.Unmarshal(a.AdditionLinks[name], &link); err != nil || link.Href != base+name || link.Absolute {
				t.Errorf("addition link %s: %s", name, a.AdditionLinks[name])
			}
		}
		get := func(ref, name string) apiResp {
			t.Helper()
			return e.do(limited, "GET", "/projects/priv/repositories/charts%252Fmychart/artifacts/"+ref+"/additions/"+name, nil)
		}
		r := get("0.1.0", "values.yaml")
		want(t, r, 200, "values")
		if string(r.body) != values {
			t.Errorf("values.yaml %q", r.body)
		}
		r = get(string(d), "readme.md")
		want(t, r, 200, "readme")
		if string(r.body) != readme || !strings.HasPrefix(r.header.Get("Content-Type"), "text/markdown") {
			t.Errorf("readme %q (%s)", r.body, r.header.Get("Content-Type"))
		}
		r = get("0.1.0", "dependencies")
		want(t, r, 200, "dependencies")
		var deps []map[string]any
		decodeInto(t, r, &deps)
		if len(deps) != 1 || deps[0]["name"] != "common" || deps[0]["version"] != "1.2.3" ||
			deps[0]["repository"] != "https://charts.example.com" || deps[0]["condition"] != "common.enabled" {
			t.Errorf("dependencies %s", r.body)
		}
		wantErr(t, get(string(bare), "readme.md"), 404, "no readme.md", "a chart without a readme")
		want(t, get(string(bare), "values.yaml"), 200, "values of the bare chart")
		wantErr(t, get("0.1.0", "build_history"), 404, "no build_history", "a chart's build history")
		wantErr(t, get("0.1.0", "sbom"), 404, "no sbom", "sbom")
		wantErr(t, get("0.9.9", "values.yaml"), 404, "not found", "no such chart")
		wantErr(t, e.do(anon, "GET", "/projects/priv/repositories/charts%252Fmychart/artifacts/0.1.0/additions/values.yaml", nil),
			401, "authentication required", "anonymous")
		wantErr(t, e.do(e.as("outsider"), "GET", "/projects/priv/repositories/charts%252Fmychart/artifacts/0.1.0/additions/values.yaml", nil),
			403, "not allowed", "outsider")
	})
}

// TestArtifactPermissions walks the roles over the artifact endpoints of
// the private project, and anonymous callers over the public one.
func TestArtifactPermissions(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		e.image("priv/app", "v1", "amd64")
		e.image("pub/app", "v1", "amd64")
		type call struct{ method, path string }
		list := call{"GET", "/projects/priv/repositories/app/artifacts"}
		get := call{"GET", "/projects/priv/repositories/app/artifacts/v1"}
		tags := call{"GET", "/projects/priv/repositories/app/artifacts/v1/tags"}
		history := call{"GET", "/projects/priv/repositories/app/artifacts/v1/additions/build_history"}
		accessories := call{"GET", "/projects/priv/repositories/app/artifacts/v1/accessories"}
		repo := call{"GET", "/projects/priv/repositories/app"}
		repos := call{"GET", "/projects/priv/repositories"}
		for _, c := range []struct {
			who   string
			calls []call
			want  int
		}{
			{"admin", []call{list, get, tags, history, accessories, repo, repos}, 200},
			{"pa", []call{list, get, tags, history, accessories, repo, repos}, 200},
			{"maintainer", []call{list, get, tags, history, accessories, repo, repos}, 200},
			{"developer", []call{list, get, tags, history, accessories, repo, repos}, 200},
			{"guest", []call{list, get, tags, history, accessories, repo, repos}, 200},
			{"limited", []call{list, get, tags, history, accessories, repo, repos}, 200},
			{"outsider", []call{list, get, tags, history, accessories, repo, repos}, 403},
			{"anonymous", []call{list, get, tags, history, accessories, repo, repos}, 401},
		} {
			for _, k := range c.calls {
				r := e.do(e.as(c.who), k.method, k.path, nil)
				if r.status != c.want {
					t.Errorf("%s %s %s: %s, want %d", c.who, k.method, k.path, r, c.want)
				}
				// The same path in the public project: open to everyone.
				pub := strings.Replace(k.path, "/projects/priv/", "/projects/pub/", 1)
				if r := e.do(e.as(c.who), k.method, pub, nil); r.status != 200 {
					t.Errorf("%s %s %s: %s, want 200", c.who, k.method, pub, r)
				}
			}
		}
		// Writes to the public project still need a role there.
		wantErr(t, e.do(e.as("developer"), "DELETE", "/projects/pub/repositories/app/artifacts/v1", nil), 403, "not allowed", "developer in pub")
		wantErr(t, e.do(anon, "POST", "/projects/pub/repositories/app/artifacts/v1/tags", map[string]string{"name": "x"}), 401, "authentication", "anonymous tags pub")
	})
}

// TestArtifactBadInput sends hostile parameters to every artifact, tag and
// repository endpoint: a clear 4xx on both databases, never a 500.
func TestArtifactBadInput(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		e.image("priv/app", "v1", "amd64")
		admin := e.as("admin")
		base := "/projects/priv/repositories/app/artifacts"
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/projects/priv/repositories/%00/artifacts", nil},
			{"GET", "/projects/priv/repositories/a%FF/artifacts", nil},
			{"GET", "/projects/%00/repositories/app/artifacts", nil},
			{"GET", "/projects/a%FF/repositories/app", nil},
			{"GET", "/projects/" + strings.Repeat("p", 300) + "/repositories/app", nil},
			{"GET", "/projects/priv/repositories/" + strings.Repeat("r", 300), nil},
			{"GET", "/projects/priv/repositories/..%252F..%252Fetc/artifacts", nil},
			{"GET", base + "/%FF", nil},
			{"GET", base + "/sha256:%00", nil},
			{"GET", base + "/sha512:abc", nil},
			{"GET", base + "/v1/tags?q=name%3D%FF", nil},
			{"GET", base + "/v1/tags?q=name%3D%00", nil},
			{"GET", base + "/v1/tags?sort=colour", nil},
			{"GET", base + "/v1/accessories?q=a%3Db", nil},
			{"GET", base + "/v1/additions/%00", nil},
			{"POST", base + "/v1/tags", `{"name":`},
			{"POST", base + "/v1/tags", `{"name":"a\u0000b"}`},
			{"POST", base + "/v1/tags", `{"name":"` + strings.Repeat("t", 200) + `"}`},
			{"POST", base + "/v1/tags", `{"name":"ok","colour":"red"}`},
			{"POST", base + "/v1/tags", `{"name":5}`},
			{"POST", base + "/v1/tags", `[]`},
			{"DELETE", base + "/v1/tags/%00", nil},
			{"DELETE", base + "/v1/tags/" + strings.Repeat("t", 300), nil},
			{"POST", base + "?from=%FF", nil},
			{"POST", base + "?from=priv%2Fapp%40sha256%3A%00", nil},
			{"PUT", "/projects/priv/repositories/app", `{"description":"a\u0000b"}`},
			{"PUT", "/projects/priv/repositories/app", `{"description":5}`},
			{"PUT", "/projects/priv/repositories/app", `{"colour":"red"}`},
			{"GET", "/projects/priv/repositories?q=name%3D%FF", nil},
			{"GET", "/repositories?q=name%3D~%00", nil},
			{"GET", "/repositories?sort=colour", nil},
			{"GET", "/search?q=%00", nil},
			{"GET", "/search?q=%FF", nil},
			{"GET", "/search", nil},
		} {
			r := e.do(admin, c.method, c.path, c.body)
			if r.status < 400 || r.status >= 500 {
				t.Errorf("%s %s %v: got %s, want a 4xx", c.method, c.path, c.body, r)
			}
		}
	})
}
