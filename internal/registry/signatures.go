package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/signature"
)

// Signatures of artifacts: berth finds them in the repository (referrers
// of the artifact, cosign's sha256-<hex>.sig/.att/.sbom tags, and the
// referrers tag schema's sha256-<hex> index that some copiers write), reads
// them with internal/signature and checks them against the keys and
// certificates the project trusts. All reads are bounded: a subject has at
// most maxSignatureCandidates candidates, each layer at most
// maxSignatureLayer bytes.

const (
	maxSignatureCandidates = 64
	maxSignatureLayer      = 1 << 20
	maxInheritParents      = 8
)

// ArtifactSignature is a signature of an artifact, or of an index that
// lists it (InheritedFrom is then the index).
type ArtifactSignature struct {
	signature.Signature
	InheritedFrom oci.Digest
}

// projectName is the project part of a repository name.
func projectName(repo string) string {
	p, _, _ := strings.Cut(repo, "/")
	return p
}

// projectTrust returns the project of repository name and the keys and
// certificates it trusts. A stored key that no longer parses is skipped
// with a warning: it cannot verify anything.
func (s *Service) projectTrust(ctx context.Context, name string) (meta.Project, signature.Trust, error) {
	pr, err := s.db.Q().GetProjectByName(ctx, projectName(name))
	if err != nil {
		return meta.Project{}, signature.Trust{}, err
	}
	t, err := s.trustOf(ctx, pr)
	return pr, t, err
}

// trustOf returns the keys and certificates project pr trusts.
func (s *Service) trustOf(ctx context.Context, pr meta.Project) (signature.Trust, error) {
	keys, err := s.db.Q().ListTrustKeys(ctx, pr.ID)
	if err != nil {
		return signature.Trust{}, err
	}
	var t signature.Trust
	for _, k := range keys {
		switch k.Type {
		case meta.TrustCosign:
			key, err := signature.ParseKey(k.Name, k.PEM)
			if err != nil {
				s.log.Warn("stored cosign key does not parse", "project", pr.Name, "key", k.Name, "err", err)
				continue
			}
			t.CosignKeys = append(t.CosignKeys, key)
		case meta.TrustNotation:
			root, err := signature.ParseRoot(k.Name, k.PEM)
			if err != nil {
				s.log.Warn("stored notation certificate does not parse", "project", pr.Name, "certificate", k.Name, "err", err)
				continue
			}
			t.NotationRoots = append(t.NotationRoots, root)
		}
	}
	return t, nil
}

// signatureCandidates lists the manifests of the repository that may
// hold signatures of d.
func (s *Service) signatureCandidates(ctx context.Context, q *meta.Q, repoID int64, d oci.Digest) ([]signature.Candidate, error) {
	var out []signature.Candidate
	add := func(md oci.Digest, tag string) error {
		if len(out) >= maxSignatureCandidates {
			return nil
		}
		m, err := q.GetManifest(ctx, repoID, md)
		if errs.Is(err, errs.NotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		out = append(out, signature.Candidate{Digest: m.Digest, MediaType: m.MediaType, Content: m.Content, Tag: tag, Created: m.CreatedAt})
		return nil
	}
	refs, err := q.ListReferrers(ctx, repoID, d, "")
	if err != nil {
		return nil, err
	}
	seen := map[oci.Digest]bool{}
	for _, r := range refs {
		seen[r.Digest] = true
		if err := add(r.Digest, ""); err != nil {
			return nil, err
		}
	}
	names := schemeTagNames(d)
	tagged, err := q.TagDigests(ctx, repoID, names)
	if err != nil {
		return nil, err
	}
	for _, n := range names[1:] {
		if td, ok := tagged[n]; ok && !seen[td] {
			seen[td] = true
			if err := add(td, n); err != nil {
				return nil, err
			}
		}
	}
	// The referrers tag schema: an index tagged sha256-<hex> listing the
	// referrers, written by clients and copiers that found no referrers API.
	if idx, ok := tagged[names[0]]; ok {
		m, err := q.GetManifest(ctx, repoID, idx)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return nil, err
		}
		if err == nil && oci.IsIndexType(m.MediaType) {
			if pm, perr := oci.ParseManifest(m.MediaType, m.Content); perr == nil {
				for _, c := range pm.Manifests {
					if !seen[c.Digest] {
						seen[c.Digest] = true
						if err := add(c.Digest, ""); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	return out, nil
}

// signaturesOf inspects every candidate of d.
func (s *Service) signaturesOf(ctx context.Context, q *meta.Q, repoID int64, d oci.Digest, trust signature.Trust) ([]signature.Signature, error) {
	cands, err := s.signatureCandidates(ctx, q, repoID, d)
	if err != nil {
		return nil, err
	}
	read := func(desc oci.Descriptor) ([]byte, error) {
		if desc.Size > maxSignatureLayer {
			return nil, fmt.Errorf("layer %s is %d bytes, more than %d", desc.Digest, desc.Size, maxSignatureLayer)
		}
		return s.readBlob(ctx, desc.Digest, maxSignatureLayer)
	}
	var out []signature.Signature
	tk := trustKey(trust)
	for _, c := range cands {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		key := cacheKey(c, tk)
		sigs, ok := s.sigs.get(key, s.now())
		if !ok {
			sigs = signature.Inspect(c, read, trust)
			if !unreadable(sigs) {
				s.sigs.put(key, sigs, s.now())
			}
		}
		out = append(out, sigs...)
	}
	return out, nil
}

// Signatures returns the signatures, attestations and SBOMs of artifact
// ref (a tag or a digest) of repository name, each checked against the
// project's trusted keys, followed by those of the indexes of the
// repository that list it (InheritedFrom set).
func (s *Service) Signatures(ctx context.Context, name, ref string) ([]ArtifactSignature, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return nil, err
	}
	q := s.db.Q()
	d, err := resolve(ctx, q, repo, ref)
	if err != nil {
		return nil, err
	}
	if _, err := q.GetManifest(ctx, repo.ID, d); err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, artifactNotFound(name, ref)
		}
		return nil, err
	}
	_, trust, err := s.projectTrust(ctx, name)
	if err != nil {
		return nil, err
	}
	own, err := s.signaturesOf(ctx, q, repo.ID, d, trust)
	if err != nil {
		return nil, err
	}
	out := []ArtifactSignature{}
	for _, sg := range own {
		out = append(out, ArtifactSignature{Signature: sg})
	}
	parents, err := q.ManifestParents(ctx, repo.ID, d)
	if err != nil {
		return nil, err
	}
	for _, p := range parents[:min(len(parents), maxInheritParents)] {
		sigs, err := s.signaturesOf(ctx, q, repo.ID, p, trust)
		if err != nil {
			return nil, err
		}
		for _, sg := range sigs {
			out = append(out, ArtifactSignature{Signature: sg, InheritedFrom: p})
		}
	}
	return out, nil
}

// schemeTagNames are the tags that link accessories to d without a
// subject field: cosign's sha256-<hex>.sig, .att and .sbom, and the
// referrers tag schema's sha256-<hex> index.
func schemeTagNames(d oci.Digest) []string {
	names := []string{signature.TagFor(d, "")}
	for _, sfx := range signature.TagSuffixes {
		names = append(names, signature.TagFor(d, sfx))
	}
	return names
}

// isSchemeAccessory reports whether manifest a, named by tag-scheme tag
// name, is an accessory: a signature, attestation or SBOM, or the
// referrers tag schema's index. An image someone tagged so is not.
func isSchemeAccessory(ctx context.Context, q *meta.Q, repoID int64, name string, a oci.Digest) (bool, error) {
	m, err := q.GetManifest(ctx, repoID, a)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, sfx, _ := signature.SubjectOfTag(name); sfx == "" {
		return oci.IsIndexType(m.MediaType), nil
	}
	_, _, _, ok := signature.Classify(signature.Candidate{Digest: a, MediaType: m.MediaType, Content: m.Content, Tag: name})
	return ok, nil
}

// schemeAccessoryTags returns the tag-scheme tags of d that exist, in the
// order of schemeTagNames, and the digest each names.
func schemeAccessoryTags(ctx context.Context, q *meta.Q, repoID int64, d oci.Digest) ([]string, map[string]oci.Digest, error) {
	names := schemeTagNames(d)
	tagged, err := q.TagDigests(ctx, repoID, names)
	if err != nil {
		return nil, nil, err
	}
	var present []string
	for _, n := range names {
		if _, ok := tagged[n]; ok {
			present = append(present, n)
		}
	}
	return present, tagged, nil
}

// schemeTagKey marks a tag-scheme accessory among referrer rows: its
// Subject is empty, so accessoryTypeOf reads the suffix from here.
const schemeTagKey = "berth.tag-scheme"

// addSchemeAccessories adds to referrers, for each of digests, the
// accessories cosign's tag scheme links to it (one query for the tags,
// one for the rows).
func (s *Service) addSchemeAccessories(ctx context.Context, q *meta.Q, repoID int64, digests []oci.Digest, referrers map[oci.Digest][]meta.Artifact) error {
	var names []string
	for _, d := range digests {
		for _, sfx := range signature.TagSuffixes {
			names = append(names, signature.TagFor(d, sfx))
		}
	}
	tagged, err := q.TagDigests(ctx, repoID, names)
	if err != nil || len(tagged) == 0 {
		return err
	}
	var ds []oci.Digest
	for _, d := range tagged {
		ds = append(ds, d)
	}
	rows, err := q.ArtifactsByDigest(ctx, repoID, ds)
	if err != nil {
		return err
	}
	for _, d := range digests {
		have := map[oci.Digest]bool{}
		for _, r := range referrers[d] {
			have[r.Digest] = true
		}
		for _, sfx := range signature.TagSuffixes {
			name := signature.TagFor(d, sfx)
			ad, ok := tagged[name]
			row, found := rows[ad]
			if !ok || !found || have[ad] || ad == d {
				continue
			}
			if _, _, _, ok := signature.Classify(signature.Candidate{Digest: ad, MediaType: row.MediaType, Content: row.Content, Tag: name}); !ok {
				continue // an image under such a tag is no accessory
			}
			have[ad] = true
			row.Annotations = map[string]string{schemeTagKey: sfx}
			referrers[d] = append(referrers[d], row)
		}
	}
	return nil
}

// accessoryTypeOf is Harbor's accessory type of an accessory row.
func accessoryTypeOf(r meta.Artifact) string {
	if r.Subject == "" {
		if r.Annotations[schemeTagKey] == "sig" {
			return AccessoryCosign
		}
		return AccessorySubject
	}
	return accessoryType(r.ArtifactType, r.Annotations)
}

// addInherited fills in the Inherited accessories of arts: the cosign and
// Notation signatures of the indexes of the repository that list each
// (Harbor's inherited_accessories; one lookup of parents per artifact). A
// signature of an index covers its children, and content trust honours
// that for children pulled by digest (contenttrust.go).
func (s *Service) addInherited(ctx context.Context, q *meta.Q, repo meta.Repo, arts []Artifact) error {
	for i := range arts {
		arts[i].Inherited = []Accessory{}
		parents, err := q.ManifestParents(ctx, repo.ID, arts[i].Digest)
		if err != nil {
			return err
		}
		if len(parents) == 0 {
			continue
		}
		parents = parents[:min(len(parents), maxInheritParents)]
		refs, err := q.ReferrersOf(ctx, repo.ID, parents)
		if err != nil {
			return err
		}
		if err := s.addSchemeAccessories(ctx, q, repo.ID, parents, refs); err != nil {
			return err
		}
		parentRows, err := q.ArtifactsByDigest(ctx, repo.ID, parents)
		if err != nil {
			return err
		}
		var ds []oci.Digest
		for _, rs := range refs {
			for _, r := range rs {
				ds = append(ds, r.Digest)
			}
		}
		sizes, err := q.BlobSizes(ctx, repo.ID, ds)
		if err != nil {
			return err
		}
		for _, p := range parents {
			for _, r := range refs[p] {
				typ := accessoryTypeOf(r)
				if typ != AccessoryCosign && typ != AccessoryNotation {
					continue
				}
				arts[i].Inherited = append(arts[i].Inherited, Accessory{
					ID: r.ID, SubjectID: parentRows[p].ID, SubjectDigest: p, Repo: repo.Name, Digest: r.Digest,
					Type: typ, Size: r.Size + sizes[r.Digest], CreatedAt: r.CreatedAt,
				})
			}
		}
	}
	return nil
}

// unreadable reports whether inspecting failed for want of a blob (a
// passing storage error): such a result is not cached.
func unreadable(sigs []signature.Signature) bool {
	for _, sg := range sigs {
		if strings.HasPrefix(sg.Problem, "read ") {
			return true
		}
	}
	return false
}
