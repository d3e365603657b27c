package registry

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/signature"
)

// Artifacts: manifests as Harbor's management API shows them, with their
// tags, the children of an index, accessories (the manifests whose subject
// they are), a summary of their config and the additions a client can
// fetch. Listing a page costs a fixed number of queries, whatever its size.

// Artifact is one artifact as the management API shows it.
type Artifact struct {
	meta.Artifact
	Repo            string
	Kind            string              // meta.KindImage, KindChart, KindCNAB or KindUnknown
	ConfigMediaType string              // Harbor's media_type: the config's, or the index's own
	TotalSize       int64               // the manifest, its blobs and an index's children
	Extra           map[string]any      // Harbor's extra_attrs (see extraAttrs)
	References      []ArtifactReference // an index's children, in the index's order
	Tags            []meta.TagInfo      // when asked for
	Labels          []meta.Label        // when asked for
	Accessories     []Accessory         // when asked for
	Inherited       []Accessory         // signatures of the indexes listing it, when asked for
	Additions       []string            // additions that may be fetched (see Addition)
}

// ArtifactReference is one child of an index.
type ArtifactReference struct {
	ParentID    int64
	ChildID     int64
	ChildDigest oci.Digest
	Platform    *oci.Platform
	Annotations map[string]string
	URLs        []string
}

// Accessory types, as Harbor names them.
const (
	AccessoryCosign     = "signature.cosign"
	AccessoryNotation   = "signature.notation"
	AccessoryHarborSBOM = "harbor.sbom"
	AccessoryNydus      = "accelerator.nydus"
	AccessorySubject    = "subject.accessory"
)

// Accessory is a manifest of the repository whose subject is an artifact,
// or that cosign's tag scheme links to it (sha256-<hex>.sig, .att,
// .sbom): a signature, an SBOM, an attestation.
type Accessory struct {
	ID            int64 // the accessory's own artifact id
	SubjectID     int64
	SubjectDigest oci.Digest
	Repo          string
	Digest        oci.Digest
	Type          string
	Size          int64
	CreatedAt     time.Time
}

// accessoryType names the kind of accessory an artifact type stands for.
// A Sigstore bundle is a cosign signature unless its predicate says it is
// an attestation or an SBOM (cosign attest): unlike Harbor, berth does
// not show those as signatures.
func accessoryType(artifactType string, annotations map[string]string) string {
	switch artifactType {
	case "application/vnd.dev.sigstore.bundle.v0.3+json":
		if p := annotations[signature.AnnotationBundlePredicate]; p != "" && p != signature.PredicateCosignSign {
			return AccessorySubject
		}
		return AccessoryCosign
	case "application/vnd.dev.cosign.artifact.sig.v1+json", "application/vnd.dev.cosign.simplesigning.v1+json":
		return AccessoryCosign
	case "application/vnd.cncf.notary.signature":
		return AccessoryNotation
	case "application/vnd.goharbor.harbor.sbom.v1":
		return AccessoryHarborSBOM
	case "application/vnd.nydus.image.manifest.v1+json":
		return AccessoryNydus
	}
	return AccessorySubject
}

// ArtifactOptions says what to add to each artifact besides its own data.
type ArtifactOptions struct {
	WithTags        bool
	WithLabels      bool
	WithAccessories bool
	WithInherited   bool // Harbor's with_inherited_accessory (signatures.go)
}

func artifactNotFound(repo, ref string) error {
	return errs.New(errs.NotFound, "NOT_FOUND", "artifact %s not found in repository %s", truncate(ref), repo)
}

// checkQuery refuses q values that are not plain text (PostgreSQL refuses
// invalid UTF-8 and NUL) before they reach the store.
func checkQuery(o meta.ListOptions) error {
	for _, c := range o.Query {
		for _, v := range c.Values {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return errs.New(errs.Invalid, "", "the query value of %q must be UTF-8 text without NUL characters", truncate(c.Key))
			}
		}
	}
	return nil
}

// resolve returns the digest that ref (a tag or a digest) names in repo.
func resolve(ctx context.Context, q *meta.Q, repo meta.Repo, ref string) (oci.Digest, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	if r.IsDigest() {
		return r.Digest, nil
	}
	t, err := q.GetTag(ctx, repo.ID, r.Tag)
	if errs.Is(err, errs.NotFound) {
		return "", artifactNotFound(repo.Name, ref)
	}
	if err != nil {
		return "", fmt.Errorf("get tag %s: %w", ref, err)
	}
	return t.Digest, nil
}

// ListArtifacts lists the artifacts of repository name (those that stand
// on their own: not children of an index, not accessories) matching o.
func (s *Service) ListArtifacts(ctx context.Context, name string, o meta.ListOptions, opts ArtifactOptions) ([]Artifact, int, error) {
	if err := checkQuery(o); err != nil {
		return nil, 0, err
	}
	repo, err := s.repo(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	rows, total, err := s.db.Q().ListArtifacts(ctx, repo.ID, o)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.assemble(ctx, repo, rows, opts)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// GetArtifact returns artifact ref (a tag or a digest) of repository
// name. Children of an index and accessories can be read this way too.
func (s *Service) GetArtifact(ctx context.Context, name, ref string, opts ArtifactOptions) (Artifact, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return Artifact{}, err
	}
	q := s.db.Q()
	d, err := resolve(ctx, q, repo, ref)
	if err != nil {
		return Artifact{}, err
	}
	row, err := q.GetArtifact(ctx, repo.ID, d)
	if errs.Is(err, errs.NotFound) {
		return Artifact{}, artifactNotFound(name, ref)
	}
	if err != nil {
		return Artifact{}, err
	}
	out, err := s.assemble(ctx, repo, []meta.Artifact{row}, opts)
	if err != nil {
		return Artifact{}, err
	}
	return out[0], nil
}

// assemble completes rows with what the API shows: a fixed number of
// queries for the whole slice, plus a blob read for each artifact whose
// config summary is not cached yet.
func (s *Service) assemble(ctx context.Context, repo meta.Repo, rows []meta.Artifact, opts ArtifactOptions) ([]Artifact, error) {
	q := s.db.Q()
	out := make([]Artifact, len(rows))
	parsed := make([]*oci.Manifest, len(rows))
	digests := make([]oci.Digest, len(rows))
	var indexes []oci.Digest
	for i, row := range rows {
		digests[i] = row.Digest
		m, err := oci.ParseManifest(row.MediaType, row.Content)
		if err != nil {
			// Stored manifests were parsed on push; one that no longer
			// parses (a stricter parser) is shown without its details.
			s.log.Warn("stored manifest does not parse", "repository", repo.Name, "digest", row.Digest, "err", err)
			m = &oci.Manifest{MediaType: row.MediaType}
		}
		parsed[i] = m
		if oci.IsIndexType(row.MediaType) {
			indexes = append(indexes, row.Digest)
		}
	}
	children, err := q.ChildrenOf(ctx, repo.ID, indexes)
	if err != nil {
		return nil, err
	}
	var childDigests []oci.Digest
	for _, cs := range children {
		childDigests = append(childDigests, cs...)
	}
	childRows, err := q.ArtifactsByDigest(ctx, repo.ID, childDigests)
	if err != nil {
		return nil, err
	}
	var referrers map[oci.Digest][]meta.Artifact
	sized := append(append([]oci.Digest{}, digests...), childDigests...)
	if opts.WithAccessories {
		if referrers, err = q.ReferrersOf(ctx, repo.ID, digests); err != nil {
			return nil, err
		}
		if err := s.addSchemeAccessories(ctx, q, repo.ID, digests, referrers); err != nil {
			return nil, err
		}
		for _, rs := range referrers {
			for _, r := range rs {
				sized = append(sized, r.Digest)
			}
		}
	}
	blobSizes, err := q.BlobSizes(ctx, repo.ID, sized)
	if err != nil {
		return nil, err
	}
	var tags map[oci.Digest][]meta.TagInfo
	if opts.WithTags {
		if tags, err = q.TagsOf(ctx, repo.ID, digests); err != nil {
			return nil, err
		}
	}
	var labels map[oci.Digest][]meta.Label
	if opts.WithLabels {
		if labels, err = q.LabelsOf(ctx, repo.ID, digests); err != nil {
			return nil, err
		}
	}
	for i, row := range rows {
		m := parsed[i]
		a := Artifact{Artifact: row, Repo: repo.Name, Kind: meta.ArtifactKind(row.Manifest)}
		a.ConfigMediaType = row.MediaType
		if m.Config != nil {
			a.ConfigMediaType = m.Config.MediaType
		}
		a.TotalSize = row.Size + blobSizes[row.Digest]
		for _, c := range children[row.Digest] {
			if cr, ok := childRows[c]; ok {
				a.TotalSize += cr.Size + blobSizes[c]
			}
		}
		a.References = []ArtifactReference{}
		for _, desc := range m.Manifests {
			ref := ArtifactReference{ParentID: row.ID, ChildDigest: desc.Digest, Platform: desc.Platform,
				Annotations: desc.Annotations, URLs: desc.URLs}
			if cr, ok := childRows[desc.Digest]; ok {
				ref.ChildID = cr.ID
			}
			a.References = append(a.References, ref)
		}
		if opts.WithTags {
			a.Tags = tags[row.Digest]
			if a.Tags == nil {
				a.Tags = []meta.TagInfo{}
			}
		}
		if opts.WithLabels {
			a.Labels = labels[row.Digest]
			if a.Labels == nil {
				a.Labels = []meta.Label{}
			}
		}
		if opts.WithAccessories {
			a.Accessories = []Accessory{}
			for _, r := range referrers[row.Digest] {
				a.Accessories = append(a.Accessories, Accessory{
					ID: r.ID, SubjectID: row.ID, SubjectDigest: row.Digest, Repo: repo.Name, Digest: r.Digest,
					Type: accessoryTypeOf(r), Size: r.Size + blobSizes[r.Digest], CreatedAt: r.CreatedAt,
				})
			}
		}
		a.Extra = s.extraAttrs(ctx, row, m, a.Kind)
		a.Additions = additionsOf(a.Kind, row.MediaType)
		out[i] = a
	}
	if opts.WithInherited {
		if err := s.addInherited(ctx, q, repo, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListAccessories lists the accessories of artifact ref of repository
// name, one page of them (o's paging only; they come in digest order).
func (s *Service) ListAccessories(ctx context.Context, name, ref string, o meta.ListOptions) ([]Accessory, int, error) {
	a, err := s.GetArtifact(ctx, name, ref, ArtifactOptions{WithAccessories: true})
	if err != nil {
		return nil, 0, err
	}
	all := a.Accessories
	size := o.PageSize
	if size <= 0 {
		size = 10
	}
	start := (max(o.Page, 1) - 1) * size
	if start >= len(all) {
		return []Accessory{}, len(all), nil
	}
	return all[start:min(start+size, len(all))], len(all), nil
}

// RecordPull counts a pull of manifest m, fetched by ref (a tag or a
// digest), for Harbor's pull counts and times. It is best effort: a
// failure is logged, never returned, so that counting cannot fail a pull.
// With a PullRecorder the record is written later, in a batch.
func (s *Service) RecordPull(ctx context.Context, m meta.Manifest, ref string) {
	tag := ""
	if !strings.Contains(ref, ":") {
		tag = ref
	}
	if s.pulls != nil {
		s.pulls.Pull(m.RepoID, m.Digest, tag, s.now())
		return
	}
	if err := s.db.Q().RecordPull(context.WithoutCancel(ctx), m.RepoID, m.Digest, tag, s.now()); err != nil {
		s.log.Warn("record pull", "repository", m.RepoID, "digest", m.Digest, "err", err)
	}
}
