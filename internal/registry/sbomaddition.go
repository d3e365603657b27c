package registry

import (
	"context"
	"path"
	"regexp"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// The sbom addition, as in Harbor: asked of an SBOM artifact (an
// accessory whose artifact type is an SBOM's, such as the one a scan
// stores and sbom_overview.sbom_digest names), it is the document in the
// artifact's single layer, byte for byte.

// AdditionSBOM is the name of the sbom addition.
const AdditionSBOM = "sbom"

// maxSBOMRead bounds the SBOM document served.
const maxSBOMRead = 32 << 20

// sbomArtifactTypes are the artifact types of SBOM artifacts: SPDX and
// CycloneDX JSON (what berth's scans and most tools write) and Harbor's.
var sbomArtifactTypes = map[string]bool{
	"application/spdx+json":                   true,
	"application/vnd.cyclonedx+json":          true,
	"application/vnd.goharbor.harbor.sbom.v1": true,
}

// safeFilename is what a title annotation may be to name the download.
var safeFilename = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// sbomAddition returns the SBOM document of SBOM artifact m.
func (s *Service) sbomAddition(ctx context.Context, m *oci.Manifest, ref string) (Addition, error) {
	at := m.ArtifactType
	if at == "" && m.Config != nil {
		at = m.Config.MediaType
	}
	if !sbomArtifactTypes[at] || len(m.Layers) != 1 {
		return Addition{}, additionAbsent(AdditionSBOM, ref)
	}
	l := m.Layers[0]
	if l.Size > maxSBOMRead {
		return Addition{}, errs.New(errs.TooLarge, "", "the SBOM of %s is larger than %d bytes", truncate(ref), maxSBOMRead)
	}
	b, err := s.readBlob(ctx, l.Digest, maxSBOMRead)
	if err != nil {
		return Addition{}, err
	}
	ct := l.MediaType
	if !sbomArtifactTypes[ct] || ct == "application/vnd.goharbor.harbor.sbom.v1" {
		// Harbor's SBOM artifacts carry SPDX or CycloneDX JSON in a
		// layer of their own media type; say JSON then.
		ct = "application/json"
	}
	return Addition{ContentType: ct, Content: b, Filename: sbomFilename(l, ct)}, nil
}

// sbomFilename names the download: the layer's title when it is a plain
// file name, else sbom-<digest hex prefix> with the format's extension.
func sbomFilename(l oci.Descriptor, ct string) string {
	if t := path.Base(l.Annotations["org.opencontainers.image.title"]); safeFilename.MatchString(t) {
		return t
	}
	ext := ".json"
	switch ct {
	case "application/spdx+json":
		ext = ".spdx.json"
	case "application/vnd.cyclonedx+json":
		ext = ".cdx.json"
	}
	hex := strings.TrimPrefix(string(l.Digest), "sha256:")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return "sbom-" + hex + ext
}
