package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Media types of the manifests berth understands.
const (
	MediaTypeImageManifest  = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex     = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeEmptyJSON      = "application/vnd.oci.empty.v1+json"
	MediaTypeImageConfig    = "application/vnd.oci.image.config.v1+json"
	MediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerForeign  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// MaxManifestSize is the largest manifest berth accepts (4 MiB, as the
// spec suggests registries should accept at least this much).
const MaxManifestSize = 4 << 20

// IsManifestType reports whether mt is a manifest media type berth stores.
func IsManifestType(mt string) bool {
	switch mt {
	case MediaTypeImageManifest, MediaTypeImageIndex, MediaTypeDockerManifest, MediaTypeDockerList:
		return true
	}
	return false
}

// IsIndexType reports whether mt lists other manifests.
func IsIndexType(mt string) bool { return mt == MediaTypeImageIndex || mt == MediaTypeDockerList }

// Descriptor points at content by digest.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       Digest            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
}

// Platform describes what an index entry runs on.
type Platform struct {
	Architecture string   `json:"architecture"`
	OS           string   `json:"os"`
	OSVersion    string   `json:"os.version,omitempty"`
	OSFeatures   []string `json:"os.features,omitempty"`
	Variant      string   `json:"variant,omitempty"`
}

// Manifest is the part of any manifest or index that the registry needs
// to keep its references: what it points at and what it is about.
type Manifest struct {
	MediaType    string
	ArtifactType string
	Config       *Descriptor
	Layers       []Descriptor
	Manifests    []Descriptor
	Subject      *Descriptor
	Annotations  map[string]string
}

// Blobs returns the blobs the manifest needs to exist in the repository:
// its config and its layers, except foreign layers served from elsewhere.
func (m *Manifest) Blobs() []Descriptor {
	var out []Descriptor
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	for _, l := range m.Layers {
		if len(l.URLs) > 0 && (l.MediaType == MediaTypeDockerForeign ||
			l.MediaType == "application/vnd.oci.image.layer.nondistributable.v1.tar" ||
			l.MediaType == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
			l.MediaType == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// EffectiveArtifactType is the artifact type the referrers API reports:
// artifactType, or else the config's media type for image manifests.
func (m *Manifest) EffectiveArtifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.MediaType == MediaTypeImageManifest && m.Config != nil {
		return m.Config.MediaType
	}
	return ""
}

type rawManifest struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
	FSLayers      json.RawMessage   `json:"fsLayers"`
}

// ParseManifest parses body as a manifest. contentType is the request's
// Content-Type (may be empty); when the body names a mediaType too, the
// two must agree. Every descriptor must carry a valid digest and a
// non-negative size.
func ParseManifest(contentType string, body []byte) (*Manifest, error) {
	if len(body) > MaxManifestSize {
		return nil, fmt.Errorf("manifest is %d bytes, more than the limit of %d", len(body), MaxManifestSize)
	}
	var raw rawManifest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %v", err)
	}
	// dec.More would miss a stray '}' or ']' after the object.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, fmt.Errorf("manifest has data after the JSON object")
	}
	if err := checkUnambiguous(body); err != nil {
		return nil, err
	}
	if raw.FSLayers != nil {
		return nil, fmt.Errorf("docker schema 1 manifests are not supported; push with a current client")
	}
	mt := raw.MediaType
	switch {
	case mt != "" && contentType != "" && mt != contentType:
		return nil, fmt.Errorf("manifest mediaType %q does not match Content-Type %q", trunc(mt), trunc(contentType))
	case mt == "" && IsManifestType(contentType):
		mt = contentType
	case mt == "":
		// OCI manifests may omit mediaType; tell them apart by shape.
		if raw.Manifests != nil {
			mt = MediaTypeImageIndex
		} else {
			mt = MediaTypeImageManifest
		}
	}
	if !IsManifestType(mt) {
		return nil, fmt.Errorf("manifest media type %q is not supported", trunc(mt))
	}
	if raw.SchemaVersion == nil || *raw.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schemaVersion must be 2")
	}
	m := &Manifest{
		MediaType:    mt,
		ArtifactType: raw.ArtifactType,
		Subject:      raw.Subject,
		Annotations:  raw.Annotations,
	}
	if IsIndexType(mt) {
		if raw.Config != nil || raw.Layers != nil {
			return nil, fmt.Errorf("an index must not have config or layers")
		}
		m.Manifests = raw.Manifests
	} else {
		if raw.Manifests != nil {
			return nil, fmt.Errorf("an image manifest must not list manifests")
		}
		if raw.Config == nil {
			return nil, fmt.Errorf("an image manifest needs a config descriptor")
		}
		m.Config = raw.Config
		m.Layers = raw.Layers
	}
	if mt == MediaTypeDockerManifest || mt == MediaTypeDockerList {
		if raw.Subject != nil || raw.ArtifactType != "" {
			return nil, fmt.Errorf("docker manifests cannot carry subject or artifactType")
		}
	}
	check := func(what string, d *Descriptor) error {
		if _, err := ParseDigest(string(d.Digest)); err != nil {
			return fmt.Errorf("%s: %v", what, err)
		}
		if d.Size < 0 {
			return fmt.Errorf("%s: negative size", what)
		}
		return nil
	}
	if m.Config != nil {
		if err := check("config", m.Config); err != nil {
			return nil, err
		}
	}
	for i := range m.Layers {
		if err := check(fmt.Sprintf("layer %d", i), &m.Layers[i]); err != nil {
			return nil, err
		}
	}
	for i := range m.Manifests {
		if err := check(fmt.Sprintf("manifest %d", i), &m.Manifests[i]); err != nil {
			return nil, err
		}
	}
	if m.Subject != nil {
		if err := check("subject", m.Subject); err != nil {
			return nil, err
		}
	}
	return m, nil
}
