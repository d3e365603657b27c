package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	dConfig = FromBytes([]byte("config"))
	dLayer1 = FromBytes([]byte("layer 1"))
	dLayer2 = FromBytes([]byte("layer 2"))
	dChild1 = FromBytes([]byte("child 1"))
	dChild2 = FromBytes([]byte("child 2"))
	dSubj   = FromBytes([]byte("subject"))
)

const (
	layerTarGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	dockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	nondistGzip    = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
	sbomArtifact   = "application/spdx+json"
	signatureType  = "application/vnd.dev.cosign.artifact.sig.v1+json"
	mtDockerLegacy = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// js renders v as JSON; test fixtures are built as Go values so that each
// case shows only what it changes.
func js(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type obj = map[string]any

func desc(mt string, d Digest, size int64) obj {
	return obj{"mediaType": mt, "digest": string(d), "size": size}
}

func imageManifest() obj {
	return obj{
		"schemaVersion": 2,
		"mediaType":     MediaTypeImageManifest,
		"config":        desc(MediaTypeImageConfig, dConfig, 100),
		"layers":        []any{desc(layerTarGzip, dLayer1, 1000), desc(layerTarGzip, dLayer2, 2000)},
	}
}

func imageIndex() obj {
	amd := desc(MediaTypeImageManifest, dChild1, 500)
	amd["platform"] = obj{"architecture": "amd64", "os": "linux"}
	arm := desc(MediaTypeImageManifest, dChild2, 501)
	arm["platform"] = obj{"architecture": "arm64", "os": "linux", "variant": "v8"}
	return obj{
		"schemaVersion": 2,
		"mediaType":     MediaTypeImageIndex,
		"manifests":     []any{amd, arm},
	}
}

// with returns a copy of o with key set to v, or removed when v is nil.
func with(o obj, kv ...any) obj {
	c := obj{}
	for k, v := range o {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func wantDesc(mt string, d Digest, size int64) Descriptor {
	return Descriptor{MediaType: mt, Digest: d, Size: size}
}

func TestParseManifestValid(t *testing.T) {
	image := &Manifest{
		MediaType: MediaTypeImageManifest,
		Config:    &Descriptor{MediaType: MediaTypeImageConfig, Digest: dConfig, Size: 100},
		Layers:    []Descriptor{wantDesc(layerTarGzip, dLayer1, 1000), wantDesc(layerTarGzip, dLayer2, 2000)},
	}
	index := &Manifest{
		MediaType: MediaTypeImageIndex,
		Manifests: []Descriptor{
			{MediaType: MediaTypeImageManifest, Digest: dChild1, Size: 500, Platform: &Platform{Architecture: "amd64", OS: "linux"}},
			{MediaType: MediaTypeImageManifest, Digest: dChild2, Size: 501, Platform: &Platform{Architecture: "arm64", OS: "linux", Variant: "v8"}},
		},
	}
	withMT := func(m *Manifest, mt string) *Manifest { c := *m; c.MediaType = mt; return &c }
	dockerImage := &Manifest{
		MediaType: MediaTypeDockerManifest,
		Config:    &Descriptor{MediaType: MediaTypeDockerConfig, Digest: dConfig, Size: 100},
		Layers:    []Descriptor{wantDesc(dockerLayer, dLayer1, 1000)},
	}
	tests := []struct {
		name        string
		contentType string
		body        obj
		want        *Manifest
	}{
		{"oci manifest", MediaTypeImageManifest, imageManifest(), image},
		{"oci manifest without content type", "", imageManifest(), image},
		{"oci manifest without mediaType", MediaTypeImageManifest, with(imageManifest(), "mediaType", nil), image},
		{"oci manifest without either", "", with(imageManifest(), "mediaType", nil), image},
		{"content type not a manifest type", "application/json", with(imageManifest(), "mediaType", nil), image},
		{"oci manifest without layers", "", with(imageManifest(), "layers", nil), &Manifest{MediaType: MediaTypeImageManifest, Config: image.Config}},
		{"oci index", MediaTypeImageIndex, imageIndex(), index},
		{"oci index without mediaType", MediaTypeImageIndex, with(imageIndex(), "mediaType", nil), index},
		{"oci index told apart by shape", "", with(imageIndex(), "mediaType", nil), index},
		{"empty oci index", "", obj{"schemaVersion": 2, "manifests": []any{}}, &Manifest{MediaType: MediaTypeImageIndex, Manifests: []Descriptor{}}},
		{"docker manifest", MediaTypeDockerManifest, obj{
			"schemaVersion": 2,
			"mediaType":     MediaTypeDockerManifest,
			"config":        desc(MediaTypeDockerConfig, dConfig, 100),
			"layers":        []any{desc(dockerLayer, dLayer1, 1000)},
		}, dockerImage},
		{"docker manifest by content type", MediaTypeDockerManifest, obj{
			"schemaVersion": 2,
			"config":        desc(MediaTypeDockerConfig, dConfig, 100),
			"layers":        []any{desc(dockerLayer, dLayer1, 1000)},
		}, dockerImage},
		{"docker list", MediaTypeDockerList, with(imageIndex(), "mediaType", MediaTypeDockerList), withMT(index, MediaTypeDockerList)},
		{"docker list by content type", MediaTypeDockerList, with(imageIndex(), "mediaType", nil), withMT(index, MediaTypeDockerList)},
		{"subject and artifactType", MediaTypeImageManifest, with(imageManifest(),
			"artifactType", sbomArtifact,
			"config", desc(MediaTypeEmptyJSON, FromBytes([]byte("{}")), 2),
			"subject", desc(MediaTypeImageManifest, dSubj, 1234),
			"annotations", obj{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
		), &Manifest{
			MediaType:    MediaTypeImageManifest,
			ArtifactType: sbomArtifact,
			Config:       &Descriptor{MediaType: MediaTypeEmptyJSON, Digest: FromBytes([]byte("{}")), Size: 2},
			Layers:       image.Layers,
			Subject:      &Descriptor{MediaType: MediaTypeImageManifest, Digest: dSubj, Size: 1234},
			Annotations:  map[string]string{"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
		}},
		{"index with subject", MediaTypeImageIndex, with(imageIndex(),
			"artifactType", signatureType,
			"subject", desc(MediaTypeImageIndex, dSubj, 99),
		), &Manifest{
			MediaType:    MediaTypeImageIndex,
			ArtifactType: signatureType,
			Manifests:    index.Manifests,
			Subject:      &Descriptor{MediaType: MediaTypeImageIndex, Digest: dSubj, Size: 99},
		}},
		{"zero sizes", "", with(imageManifest(), "config", desc(MediaTypeImageConfig, dConfig, 0)),
			&Manifest{MediaType: MediaTypeImageManifest, Config: &Descriptor{MediaType: MediaTypeImageConfig, Digest: dConfig}, Layers: image.Layers}},
		{"sha512 descriptors", "", with(imageManifest(), "config", desc(MediaTypeImageConfig, "sha512:"+Digest(hex128), 7)),
			&Manifest{MediaType: MediaTypeImageManifest, Config: &Descriptor{MediaType: MediaTypeImageConfig, Digest: "sha512:" + Digest(hex128), Size: 7}, Layers: image.Layers}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := js(t, tt.body)
			m, err := ParseManifest(tt.contentType, body)
			if err != nil {
				t.Fatalf("ParseManifest: %v\n%s", err, body)
			}
			if diff := cmp.Diff(tt.want, m); diff != "" {
				t.Errorf("ParseManifest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseManifestInvalid(t *testing.T) {
	badDigest := func(o obj) obj { return with(o, "digest", "sha256:"+strings.ToUpper(hex64)) }
	tests := []struct {
		name        string
		contentType string
		body        string
		wantErr     string
	}{
		{"mediaType and Content-Type disagree", MediaTypeImageIndex, string(js(t, imageManifest())), "does not match"},
		{"docker mediaType under OCI Content-Type", MediaTypeImageManifest, string(js(t, with(imageManifest(), "mediaType", MediaTypeDockerManifest))), "does not match"},
		{"schema 1", "", `{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[{"blobSum":"` + string(dLayer1) + `"}]}`, "schema 1"},
		{"schema 1 as schema 2", "", `{"schemaVersion":2,"fsLayers":[]}`, "schema 1"},
		{"schema 1 media type", mtDockerLegacy, `{"schemaVersion":1,"name":"a"}`, "schemaVersion"},
		{"unknown media type", "", string(js(t, with(imageManifest(), "mediaType", "application/json"))), "not supported"},
		{"config media type as manifest", "", string(js(t, with(imageManifest(), "mediaType", MediaTypeImageConfig))), "not supported"},
		{"missing schemaVersion", "", string(js(t, with(imageManifest(), "schemaVersion", nil))), "schemaVersion"},
		{"schemaVersion 1", "", string(js(t, with(imageManifest(), "schemaVersion", 1))), "schemaVersion"},
		{"schemaVersion 3", "", string(js(t, with(imageManifest(), "schemaVersion", 3))), "schemaVersion"},
		{"schemaVersion as string", "", string(js(t, with(imageManifest(), "schemaVersion", "2"))), "JSON"},
		{"missing config", "", string(js(t, with(imageManifest(), "config", nil))), "config"},
		{"null config", "", strings.Replace(string(js(t, imageManifest())), `"config":{`, `"config":null,"x":{`, 1), "config"},
		{"index with layers", "", string(js(t, with(imageIndex(), "layers", []any{}))), "index"},
		{"index with config", "", string(js(t, with(imageIndex(), "config", desc(MediaTypeImageConfig, dConfig, 1)))), "index"},
		{"manifest with manifests", "", string(js(t, with(imageManifest(), "manifests", []any{}))), "manifests"},
		{"docker manifest with subject", "", string(js(t, with(imageManifest(), "mediaType", MediaTypeDockerManifest, "subject", desc(MediaTypeImageManifest, dSubj, 1)))), "docker"},
		{"docker list with artifactType", "", string(js(t, with(imageIndex(), "mediaType", MediaTypeDockerList, "artifactType", sbomArtifact))), "docker"},
		{"bad config digest", "", string(js(t, with(imageManifest(), "config", badDigest(desc(MediaTypeImageConfig, dConfig, 1))))), "config"},
		{"missing config digest", "", string(js(t, with(imageManifest(), "config", obj{"mediaType": MediaTypeImageConfig, "size": 1}))), "config"},
		{"bad layer digest", "", string(js(t, with(imageManifest(), "layers", []any{desc(layerTarGzip, dLayer1, 1), badDigest(desc(layerTarGzip, dLayer2, 1))}))), "layer 1"},
		{"path in layer digest", "", string(js(t, with(imageManifest(), "layers", []any{desc(layerTarGzip, "sha256:../../etc/passwd", 1)}))), "layer 0"},
		{"bad child digest", "", string(js(t, with(imageIndex(), "manifests", []any{desc(MediaTypeImageManifest, "md5:abc", 1)}))), "manifest 0"},
		{"bad subject digest", "", string(js(t, with(imageManifest(), "subject", badDigest(desc(MediaTypeImageManifest, dSubj, 1))))), "subject"},
		{"negative config size", "", string(js(t, with(imageManifest(), "config", desc(MediaTypeImageConfig, dConfig, -1)))), "negative"},
		{"negative layer size", "", string(js(t, with(imageManifest(), "layers", []any{desc(layerTarGzip, dLayer1, -5)}))), "negative"},
		{"negative child size", "", string(js(t, with(imageIndex(), "manifests", []any{desc(MediaTypeImageManifest, dChild1, -1)}))), "negative"},
		{"negative subject size", "", string(js(t, with(imageManifest(), "subject", desc(MediaTypeImageManifest, dSubj, -1)))), "negative"},
		{"size beyond int64", "", strings.Replace(string(js(t, imageManifest())), `"size":100`, `"size":99999999999999999999`, 1), "JSON"},
		{"fractional size", "", strings.Replace(string(js(t, imageManifest())), `"size":100`, `"size":1.5`, 1), "JSON"},
		{"trailing garbage", "", string(js(t, imageManifest())) + "x", "after"},
		{"trailing object", "", string(js(t, imageManifest())) + "{}", "after"},
		{"trailing brace", "", string(js(t, imageManifest())) + "}", "after"},
		{"trailing bracket", "", string(js(t, imageManifest())) + "]", "after"},
		{"trailing comma", "", string(js(t, imageManifest())) + ",", "after"},
		{"truncated", "", strings.TrimSuffix(string(js(t, imageManifest())), "}"), "JSON"},
		{"empty", "", "", "JSON"},
		{"null", "", "null", "schemaVersion"},
		{"array", "", "[]", "JSON"},
		{"string", "", `"manifest"`, "JSON"},
		{"too large", "", string(js(t, imageManifest())) + strings.Repeat(" ", MaxManifestSize), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest(tt.contentType, []byte(tt.body))
			if err == nil {
				t.Fatalf("ParseManifest accepted %.300s: %+v", tt.body, m)
			}
			if m != nil {
				t.Errorf("ParseManifest returned a manifest with an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			if len(err.Error()) > 500 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestParseManifestSizeLimit(t *testing.T) {
	body := js(t, imageManifest())
	// Whitespace after the object counts towards the limit but is not data.
	exact := append(body, bytes.Repeat([]byte(" "), MaxManifestSize-len(body))...)
	if _, err := ParseManifest("", exact); err != nil {
		t.Fatalf("a manifest of exactly %d bytes: %v", len(exact), err)
	}
	if _, err := ParseManifest("", append(exact, '\n')); err == nil {
		t.Fatalf("a manifest of %d bytes was accepted", len(exact)+1)
	}
	// A large manifest made of real descriptors parses too.
	var layers []any
	for i, n := 0, 0; n < MaxManifestSize-1000; i++ {
		l := desc(layerTarGzip, FromBytes(fmt.Append(nil, i)), int64(i))
		n += len(js(t, l)) + 1
		layers = append(layers, l)
	}
	m, err := ParseManifest("", js(t, with(imageManifest(), "layers", layers)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != len(layers) {
		t.Fatalf("parsed %d layers of %d", len(m.Layers), len(layers))
	}
}

func TestEffectiveArtifactType(t *testing.T) {
	tests := []struct {
		name string
		body obj
		want string
	}{
		{"artifactType wins", with(imageManifest(), "artifactType", sbomArtifact), sbomArtifact},
		{"config media type", imageManifest(), MediaTypeImageConfig},
		{"empty config with artifactType", with(imageManifest(), "artifactType", signatureType, "config", desc(MediaTypeEmptyJSON, dConfig, 2)), signatureType},
		{"custom config type", with(imageManifest(), "config", desc("application/vnd.example.config+json", dConfig, 2)), "application/vnd.example.config+json"},
		{"index without artifactType", imageIndex(), ""},
		{"index with artifactType", with(imageIndex(), "artifactType", sbomArtifact), sbomArtifact},
		{"docker manifest", obj{"schemaVersion": 2, "mediaType": MediaTypeDockerManifest, "config": desc(MediaTypeDockerConfig, dConfig, 1)}, ""},
	}
	for _, tt := range tests {
		m, err := ParseManifest("", js(t, tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := m.EffectiveArtifactType(); got != tt.want {
			t.Errorf("%s: EffectiveArtifactType = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestBlobs(t *testing.T) {
	foreign := func(mt string, d Digest, urls ...string) obj {
		o := desc(mt, d, 10)
		if urls != nil {
			o["urls"] = urls
		}
		return o
	}
	dF1, dF2, dF3, dF4 := FromBytes([]byte("f1")), FromBytes([]byte("f2")), FromBytes([]byte("f3")), FromBytes([]byte("f4"))
	body := with(imageManifest(), "layers", []any{
		desc(layerTarGzip, dLayer1, 1000),
		foreign(MediaTypeDockerForeign, dF1, "https://example.com/f1"),                      // skipped
		foreign(nondistGzip, dF2, "https://example.com/f2"),                                 // skipped
		foreign(MediaTypeDockerForeign, dF3),                                                // no urls: must be here
		foreign(layerTarGzip, dF4, "https://example.com/f4"),                                // urls on a normal layer do not excuse it
		foreign("application/vnd.oci.image.layer.nondistributable.v1.tar", dLayer2, "u"),    // skipped
		foreign("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", dSubj, "u"), // skipped
	})
	m, err := ParseManifest("", js(t, body))
	if err != nil {
		t.Fatal(err)
	}
	var got []Digest
	for _, d := range m.Blobs() {
		got = append(got, d.Digest)
	}
	want := []Digest{dConfig, dLayer1, dF3, dF4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Blobs (-want +got):\n%s", diff)
	}
	idx, err := ParseManifest("", js(t, imageIndex()))
	if err != nil {
		t.Fatal(err)
	}
	if b := idx.Blobs(); len(b) != 0 {
		t.Errorf("an index needs blobs: %+v", b)
	}
}

func TestIsManifestType(t *testing.T) {
	for _, mt := range []string{MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerList} {
		if !IsManifestType(mt) {
			t.Errorf("IsManifestType(%q) = false", mt)
		}
	}
	for _, mt := range []string{"", MediaTypeImageConfig, MediaTypeEmptyJSON, mtDockerLegacy, MediaTypeImageManifest + "; charset=utf-8"} {
		if IsManifestType(mt) {
			t.Errorf("IsManifestType(%q) = true", mt)
		}
	}
	if !IsIndexType(MediaTypeImageIndex) || !IsIndexType(MediaTypeDockerList) || IsIndexType(MediaTypeImageManifest) {
		t.Error("IsIndexType is wrong")
	}
}

func FuzzParseManifest(f *testing.F) {
	seeds := []obj{
		imageManifest(), imageIndex(),
		with(imageManifest(), "mediaType", nil),
		with(imageIndex(), "mediaType", MediaTypeDockerList),
		with(imageManifest(), "artifactType", sbomArtifact, "subject", desc(MediaTypeImageManifest, dSubj, 1)),
		with(imageManifest(), "config", nil),
		with(imageManifest(), "layers", []any{obj{"digest": "sha256:x", "size": -1, "urls": []string{"u"}}}),
	}
	for _, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add("", b)
		f.Add(MediaTypeImageManifest, b)
		f.Add(MediaTypeImageIndex, b)
	}
	for _, s := range []string{"", "null", "[]", "{}", `{"schemaVersion":2}`, `{"schemaVersion":1,"fsLayers":[]}`, `{"schemaVersion":2,"manifests":null}`, "{}}"} {
		f.Add("", []byte(s))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		m, err := ParseManifest(contentType, body)
		if err != nil {
			if m != nil {
				t.Fatal("a manifest with an error")
			}
			return
		}
		if !IsManifestType(m.MediaType) {
			t.Fatalf("parsed media type %q", m.MediaType)
		}
		if IsIndexType(m.MediaType) && (m.Config != nil || m.Layers != nil) {
			t.Fatalf("index with config or layers: %+v", m)
		}
		if !IsIndexType(m.MediaType) && (m.Config == nil || m.Manifests != nil) {
			t.Fatalf("image manifest without config or with manifests: %+v", m)
		}
		all := append(append(m.Blobs(), m.Layers...), m.Manifests...)
		if m.Subject != nil {
			all = append(all, *m.Subject)
		}
		for _, d := range all {
			if _, err := ParseDigest(string(d.Digest)); err != nil || d.Size < 0 {
				t.Fatalf("accepted descriptor %+v: %v", d, err)
			}
		}
		_ = m.EffectiveArtifactType()
		// Nothing but whitespace may follow the object.
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("accepted a body that is not one JSON value: %v", err)
		}
	})
}

func TestParseManifestRejectsAmbiguousJSON(t *testing.T) {
	cfg := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2}`
	cases := map[string]string{
		"duplicate layers":      `{"schemaVersion":2,"config":` + cfg + `,"layers":[],"layers":[]}`,
		"case-folded key":       `{"schemaVersion":2,"config":` + cfg + `,"LAYERS":[]}`,
		"duplicate in config":   `{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2,"size":3},"layers":[]}`,
		"case-folded in config": `{"schemaVersion":2,"config":{"mediaType":"x","Digest":"sha256:` + strings.Repeat("a", 64) + `","size":2},"layers":[]}`,
	}
	for name, body := range cases {
		if _, err := ParseManifest(MediaTypeImageManifest, []byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Unknown keys in annotations and custom fields stay allowed.
	ok := `{"schemaVersion":2,"config":` + cfg + `,"layers":[],"annotations":{"a":"1","A":"2","Size":"free-form"},"x-custom":{"layers":1}}`
	if _, err := ParseManifest(MediaTypeImageManifest, []byte(ok)); err != nil {
		t.Fatalf("custom fields refused: %v", err)
	}
}
