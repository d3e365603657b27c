package scanjob

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/version"
)

// A backend performs scans for one registration: the built-in engine or
// a pluggable adapter.
type backend interface {
	metadata(ctx context.Context) (Metadata, error)
	// scan runs one job to its end and returns the report.
	scan(ctx context.Context, j meta.ScanJob, mimeType string, progress func(int)) (result, error)
}

// result is what a finished scan produced.
type result struct {
	report []byte // the report body in the job's MIME type
	log    string
}

// Metadata is Harbor's ScannerAdapterMetadata.
type Metadata struct {
	Scanner      scan.Scanner      `json:"scanner"`
	Capabilities []Capability      `json:"capabilities"`
	Properties   map[string]string `json:"properties,omitempty"`
}

// Capability is one capability of a scanner.
type Capability struct {
	Type              string   `json:"type,omitempty"`
	ConsumesMimeTypes []string `json:"consumes_mime_types"`
	ProducesMimeTypes []string `json:"produces_mime_types"`
}

// produces reports whether md offers kind in mime type mt.
func (md Metadata) produces(kind, mt string) bool {
	for _, c := range md.Capabilities {
		if c.Type == "" && kind != KindVulnerability || c.Type != "" && c.Type != kind {
			continue
		}
		for _, p := range c.ProducesMimeTypes {
			if p == mt {
				return true
			}
		}
	}
	return false
}

// reportMimeType picks the report MIME type to ask md for: Harbor's v1.1
// vulnerability report before its v1.0 one, the SBOM report for SBOMs.
func (md Metadata) reportMimeType(kind string) (string, bool) {
	want := []string{scan.MediaTypeVulnReport, scan.MediaTypeHarborVulnReport}
	if kind == KindSBOM {
		want = []string{scan.MediaTypeSBOMReport}
	}
	for _, mt := range want {
		if md.produces(kind, mt) {
			return mt, true
		}
	}
	return "", false
}

// Manifest media types a scanner consumes.
var imageManifestTypes = []string{oci.MediaTypeImageManifest, oci.MediaTypeDockerManifest}

// builtin is the engine in this process, reading blobs straight from the
// registry's store.
type builtin struct{ s *Service }

func (b builtin) metadata(ctx context.Context) (Metadata, error) {
	md := Metadata{
		Scanner: b.s.engine.Scanner(),
		Capabilities: []Capability{
			{Type: KindVulnerability, ConsumesMimeTypes: imageManifestTypes,
				ProducesMimeTypes: []string{scan.MediaTypeVulnReport}},
			{Type: KindSBOM, ConsumesMimeTypes: imageManifestTypes,
				ProducesMimeTypes: []string{scan.MediaTypeSBOMReport}},
		},
		Properties: map[string]string{"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"},
	}
	if info, err := b.s.engine.DBInfo(ctx); err == nil && info.Loaded {
		at := info.UpdatedAt
		if at.IsZero() {
			at = info.ImportedAt
		}
		md.Properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = at.UTC().Format(time.RFC3339)
		md.Properties["berth.vulnerability-database-source"] = info.Source
	}
	if md.Scanner.Version == "" {
		md.Scanner.Version = version.Version
	}
	return md, nil
}

// image reads the manifest of j and describes it for the engine.
func (b builtin) image(ctx context.Context, j meta.ScanJob) (scan.Image, error) {
	m, err := b.s.reg.GetManifest(ctx, j.Repository, string(j.Digest))
	if err != nil {
		return scan.Image{}, fmt.Errorf("read manifest: %w", err)
	}
	pm, err := oci.ParseManifest(m.MediaType, m.Content)
	if err != nil {
		return scan.Image{}, errs.New(errs.Invalid, "", "manifest %s: %v", j.Digest, err)
	}
	img := scan.Image{Repository: j.Repository, Digest: string(j.Digest), MediaType: m.MediaType}
	if pm.Config != nil {
		_, rc, err := b.s.reg.OpenBlob(ctx, j.Repository, string(pm.Config.Digest), 0, -1)
		if err != nil {
			return scan.Image{}, fmt.Errorf("read config: %w", err)
		}
		img.Config, err = io.ReadAll(io.LimitReader(rc, 4<<20))
		rc.Close()
		if err != nil {
			return scan.Image{}, fmt.Errorf("read config: %w", err)
		}
	}
	for _, l := range pm.Layers {
		d := string(l.Digest)
		img.Layers = append(img.Layers, scan.Layer{Digest: d, MediaType: l.MediaType, Size: l.Size,
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				_, rc, err := b.s.reg.OpenBlob(ctx, j.Repository, d, 0, -1)
				return rc, err
			}})
	}
	return img, nil
}

func (b builtin) scan(ctx context.Context, j meta.ScanJob, mimeType string, progress func(int)) (result, error) {
	img, err := b.image(ctx, j)
	if err != nil {
		return result{}, err
	}
	progress(10)
	if j.Kind == KindSBOM {
		doc, mt, err := b.s.engine.SBOM(ctx, img, scan.MediaTypeSPDX)
		if err != nil {
			return result{}, err
		}
		rep := scan.SBOMReport{GeneratedAt: time.Now().UTC(), Scanner: b.s.engine.Scanner(), MediaType: mt, SBOM: doc,
			Artifact: &scan.Artifact{Repository: j.Repository, Digest: string(j.Digest), MimeType: j.MediaType}}
		body, err := json.Marshal(rep)
		return result{report: body, log: fmt.Sprintf("generated an SBOM of %d bytes (%s)\n", len(doc), mt)}, err
	}
	rep, err := b.s.engine.Scan(ctx, img)
	if err != nil {
		return result{}, err
	}
	if rep.Artifact == nil {
		rep.Artifact = &scan.Artifact{Repository: j.Repository, Digest: string(j.Digest), MimeType: j.MediaType}
	}
	body, err := json.Marshal(rep)
	return result{report: body, log: fmt.Sprintf("found %d vulnerabilities (highest severity %s)\n",
		len(rep.Vulnerabilities), rep.Severity)}, err
}
