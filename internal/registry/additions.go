package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// What berth reads out of an artifact's blobs for Harbor's API: the
// extra attributes (a summary of the config) and the additions (an
// image's build history; a Helm chart's values, readme and
// dependencies). Blobs are untrusted input: every read is bounded.

// Addition names, as in Harbor's paths.
const (
	AdditionBuildHistory = "build_history"
	AdditionValues       = "values.yaml"
	AdditionReadme       = "readme.md"
	AdditionDependencies = "dependencies"
)

// knownAdditions are the names Harbor's API defines; those berth cannot
// produce for an artifact are answered as absent.
var knownAdditions = map[string]bool{
	AdditionBuildHistory: true, AdditionValues: true, AdditionReadme: true, AdditionDependencies: true,
	AdditionSBOM: true, "license": true, "files": true,
}

// Limits on what is read from blobs.
const (
	maxConfigRead = 4 << 20  // a config blob
	maxChartRead  = 64 << 20 // a chart's compressed layer
	maxChartFile  = 4 << 20  // one file inside it, uncompressed
	maxChartTotal = 64 << 20 // everything inside it, uncompressed
)

// Media types of Helm chart layers.
const (
	mediaTypeHelmChart       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	mediaTypeHelmChartLegacy = "application/tar+gzip"
)

// additionsOf lists the additions an artifact offers.
func additionsOf(kind, manifestMediaType string) []string {
	switch {
	case kind == meta.KindImage && !oci.IsIndexType(manifestMediaType):
		return []string{AdditionBuildHistory}
	case kind == meta.KindChart:
		return []string{AdditionValues, AdditionReadme, AdditionDependencies}
	}
	return nil
}

// readBlob reads blob d whole, refusing more than limit bytes.
func (s *Service) readBlob(ctx context.Context, d oci.Digest, limit int64) ([]byte, error) {
	rc, err := s.blobs.Open(ctx, d, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	if int64(len(b)) > limit {
		return nil, errs.New(errs.TooLarge, "", "blob %s is larger than %d bytes", d, limit)
	}
	return b, nil
}

// imageConfig is the part of an image config berth shows.
type imageConfig struct {
	Created      *string         `json:"created"`
	Author       string          `json:"author"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant"`
	Config       json.RawMessage `json:"config"`
	History      json.RawMessage `json:"history"`
}

// extraAttrs returns the artifact's extra attributes: for an image its
// architecture, OS, author, creation time and run configuration; for a
// chart its Chart.yaml metadata; for other artifacts with a JSON config,
// that config. They are cached in the store after the first read.
// Failures are logged and give no attributes (not cached).
func (s *Service) extraAttrs(ctx context.Context, row meta.Artifact, m *oci.Manifest, kind string) map[string]any {
	if row.ExtraAttrs != nil {
		var out map[string]any
		if err := json.Unmarshal(row.ExtraAttrs, &out); err == nil {
			return out
		}
	}
	out, err := s.computeExtraAttrs(ctx, m, kind)
	if err != nil {
		s.log.Warn("read artifact config", "digest", row.Digest, "err", err)
		return map[string]any{}
	}
	b, err := json.Marshal(out)
	if err == nil {
		err = s.db.Q().SetExtraAttrs(context.WithoutCancel(ctx), row.RepoID, row.Digest, b)
	}
	if err != nil {
		s.log.Warn("cache artifact extra attributes", "digest", row.Digest, "err", err)
	}
	return out
}

func (s *Service) computeExtraAttrs(ctx context.Context, m *oci.Manifest, kind string) (map[string]any, error) {
	out := map[string]any{}
	c := m.Config
	if c == nil || c.Size > maxConfigRead || c.MediaType == oci.MediaTypeEmptyJSON {
		return out, nil
	}
	if kind != meta.KindImage && kind != meta.KindChart && !strings.HasSuffix(c.MediaType, "json") {
		return out, nil
	}
	b, err := s.readBlob(ctx, c.Digest, maxConfigRead)
	if err != nil {
		return nil, err
	}
	if kind != meta.KindImage {
		// A chart's config is its Chart.yaml as JSON; others are shown as
		// they are when they are a JSON object.
		if json.Unmarshal(b, &out) != nil {
			return map[string]any{}, nil
		}
		return out, nil
	}
	var cfg imageConfig
	if json.Unmarshal(b, &cfg) != nil {
		return out, nil
	}
	out["architecture"] = cfg.Architecture
	out["os"] = cfg.OS
	out["author"] = cfg.Author
	if cfg.Variant != "" {
		out["variant"] = cfg.Variant
	}
	if cfg.Created != nil {
		out["created"] = *cfg.Created
	}
	if len(cfg.Config) > 0 && string(cfg.Config) != "null" {
		var v any
		if json.Unmarshal(cfg.Config, &v) == nil {
			out["config"] = v
		}
	}
	return out, nil
}

// Addition is the content of an artifact's addition.
type Addition struct {
	ContentType string
	Content     []byte
	Filename    string // when set, served as an attachment of this name
}

func additionAbsent(name, ref string) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "artifact %s has no %s", truncate(ref), name)
}

// Addition returns addition name of artifact ref (a tag or a digest) of
// repository name: an image's build history (JSON); a chart's
// values.yaml, readme.md or dependencies (JSON); an SBOM artifact's
// document (sbomaddition.go). NotFound when the artifact has no such
// addition.
func (s *Service) Addition(ctx context.Context, name, ref, addition string) (Addition, error) {
	if !knownAdditions[addition] {
		return Addition{}, errs.New(errs.Invalid, "", "unknown addition %q", truncate(addition))
	}
	a, err := s.GetArtifact(ctx, name, ref, ArtifactOptions{})
	if err != nil {
		return Addition{}, err
	}
	if addition == AdditionSBOM {
		m, err := oci.ParseManifest(a.MediaType, a.Content)
		if err != nil {
			return Addition{}, additionAbsent(addition, ref)
		}
		return s.sbomAddition(ctx, m, ref)
	}
	offered := false
	for _, n := range a.Additions {
		offered = offered || n == addition
	}
	if !offered {
		return Addition{}, additionAbsent(addition, ref)
	}
	m, err := oci.ParseManifest(a.MediaType, a.Content)
	if err != nil || m.Config == nil {
		return Addition{}, additionAbsent(addition, ref)
	}
	if addition == AdditionBuildHistory {
		return s.buildHistory(ctx, m, ref)
	}
	return s.chartAddition(ctx, m, ref, addition)
}

func (s *Service) buildHistory(ctx context.Context, m *oci.Manifest, ref string) (Addition, error) {
	b, err := s.readBlob(ctx, m.Config.Digest, maxConfigRead)
	if err != nil {
		return Addition{}, err
	}
	var cfg imageConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Addition{}, errs.New(errs.Invalid, "", "the config of %s is not valid JSON", truncate(ref))
	}
	var history []json.RawMessage
	if len(cfg.History) > 0 && json.Unmarshal(cfg.History, &history) != nil {
		return Addition{}, errs.New(errs.Invalid, "", "the history in the config of %s is not a list", truncate(ref))
	}
	if history == nil {
		history = []json.RawMessage{}
	}
	out, err := json.Marshal(history)
	if err != nil {
		return Addition{}, fmt.Errorf("build history of %s: %w", ref, err)
	}
	return Addition{ContentType: "application/json; charset=utf-8", Content: out}, nil
}

// chartDependency is one of a chart's dependencies, as Helm names the
// fields.
type chartDependency struct {
	Name         string   `yaml:"name" json:"name"`
	Version      string   `yaml:"version" json:"version,omitempty"`
	Repository   string   `yaml:"repository" json:"repository"`
	Condition    string   `yaml:"condition" json:"condition,omitempty"`
	Tags         []string `yaml:"tags" json:"tags,omitempty"`
	Enabled      bool     `yaml:"enabled" json:"enabled,omitempty"`
	ImportValues []any    `yaml:"import-values" json:"import-values,omitempty"`
	Alias        string   `yaml:"alias" json:"alias,omitempty"`
}

func (s *Service) chartAddition(ctx context.Context, m *oci.Manifest, ref, addition string) (Addition, error) {
	var layer *oci.Descriptor
	for i, l := range m.Layers {
		if l.MediaType == mediaTypeHelmChart || l.MediaType == mediaTypeHelmChartLegacy {
			layer = &m.Layers[i]
			break
		}
	}
	if layer == nil || layer.Size > maxChartRead {
		return Addition{}, additionAbsent(addition, ref)
	}
	b, err := s.readBlob(ctx, layer.Digest, maxChartRead)
	if err != nil {
		return Addition{}, err
	}
	files, err := chartFiles(b)
	if err != nil {
		return Addition{}, errs.New(errs.Invalid, "", "the chart of %s cannot be read: %v", truncate(ref), err)
	}
	switch addition {
	case AdditionValues:
		if v, ok := files["values.yaml"]; ok {
			return Addition{ContentType: "text/plain; charset=utf-8", Content: v}, nil
		}
	case AdditionReadme:
		if v, ok := files["readme.md"]; ok {
			return Addition{ContentType: "text/markdown; charset=utf-8", Content: v}, nil
		}
	case AdditionDependencies:
		var doc struct {
			Dependencies []chartDependency `yaml:"dependencies"`
		}
		// Helm 3 charts list them in Chart.yaml, Helm 2 charts in
		// requirements.yaml.
		for _, f := range []string{"chart.yaml", "requirements.yaml"} {
			if v, ok := files[f]; ok && len(doc.Dependencies) == 0 {
				if err := yaml.Unmarshal(v, &doc); err != nil {
					return Addition{}, errs.New(errs.Invalid, "", "the %s of %s is not valid YAML", f, truncate(ref))
				}
			}
		}
		if doc.Dependencies == nil {
			doc.Dependencies = []chartDependency{}
		}
		out, err := json.Marshal(doc.Dependencies)
		if err != nil {
			return Addition{}, fmt.Errorf("dependencies of %s: %w", ref, err)
		}
		return Addition{ContentType: "application/json; charset=utf-8", Content: out}, nil
	}
	return Addition{}, additionAbsent(addition, ref)
}

// chartFiles reads the files at the top of a chart archive ("<chart>/…"),
// keyed by lower-cased base name: chart.yaml, values.yaml, readme.md,
// requirements.yaml. Sizes are bounded; anything else is skipped.
func chartFiles(tgz []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	want := map[string]bool{"chart.yaml": true, "values.yaml": true, "readme.md": true, "requirements.yaml": true}
	out := map[string][]byte{}
	tr := tar.NewReader(io.LimitReader(zr, maxChartTotal))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		key := strings.ToLower(base)
		if !want[key] || strings.Count(dir, "/") != 1 {
			continue
		}
		if _, seen := out[key]; seen {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxChartFile+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxChartFile {
			return nil, fmt.Errorf("%s is larger than %d bytes", name, maxChartFile)
		}
		out[key] = b
	}
}
