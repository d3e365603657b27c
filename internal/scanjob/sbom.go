package scanjob

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/scan"
)

// An SBOM is kept twice: as the report of its scan (what Harbor's
// sbom_overview and the adapter API return) and as an OCI artifact in the
// artifact's repository whose subject is the artifact, so that the
// referrers API lists it and any OCI client can download it. Its
// artifactType is the SBOM's own media type (application/spdx+json or
// application/vnd.cyclonedx+json), which is what `oras discover
// --artifact-type` and similar tools filter on.

const emptyConfig = "{}"

// sbomFromReport returns the SBOM document inside an SBOM report.
func sbomFromReport(report []byte) ([]byte, string, error) {
	var r scan.SBOMReport
	if err := json.Unmarshal(report, &r); err != nil || len(r.SBOM) == 0 {
		return nil, "", errs.New(errs.Invalid, "", "the SBOM report holds no SBOM")
	}
	mt := r.MediaType
	if mt == "" {
		mt = scan.MediaTypeSPDX
	}
	return r.SBOM, mt, nil
}

// storeSBOM pushes the SBOM in report as an accessory of j's artifact and
// returns the accessory's digest.
func (s *Service) storeSBOM(ctx context.Context, j meta.ScanJob, report []byte) (oci.Digest, error) {
	doc, mt, err := sbomFromReport(report)
	if err != nil {
		return "", err
	}
	subject, err := s.reg.GetManifest(ctx, j.Repository, string(j.Digest))
	if err != nil {
		return "", fmt.Errorf("sbom subject: %w", err)
	}
	docD := oci.FromBytes(doc)
	cfgD := oci.FromBytes([]byte(emptyConfig))
	if _, err := s.reg.PutBlob(ctx, j.Repository, string(docD), bytes.NewReader(doc)); err != nil {
		return "", fmt.Errorf("store sbom blob: %w", err)
	}
	if _, err := s.reg.PutBlob(ctx, j.Repository, string(cfgD), bytes.NewReader([]byte(emptyConfig))); err != nil {
		return "", fmt.Errorf("store sbom config: %w", err)
	}
	name := "sbom.spdx.json"
	if mt == scan.MediaTypeCycloneDX {
		name = "sbom.cdx.json"
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      oci.Digest        `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	m := struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        desc              `json:"config"`
		Layers        []desc            `json:"layers"`
		Subject       desc              `json:"subject"`
		Annotations   map[string]string `json:"annotations"`
	}{
		SchemaVersion: 2, MediaType: oci.MediaTypeImageManifest, ArtifactType: mt,
		Config: desc{MediaType: "application/vnd.oci.empty.v1+json", Digest: cfgD, Size: int64(len(emptyConfig))},
		Layers: []desc{{MediaType: mt, Digest: docD, Size: int64(len(doc)),
			Annotations: map[string]string{"org.opencontainers.image.title": name}}},
		Subject: desc{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339),
			"dev.berth.sbom.generator": "berth scan job " + fmt.Sprint(j.ID)},
	}
	body, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	d := oci.FromBytes(body)
	if _, err := s.reg.PutManifest(ctx, j.Repository, string(d), oci.MediaTypeImageManifest, body); err != nil {
		return "", fmt.Errorf("store sbom manifest: %w", err)
	}
	return d, nil
}
