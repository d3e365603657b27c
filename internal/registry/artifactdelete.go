package registry

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// DeletedArtifact says what an artifact delete removed.
type DeletedArtifact struct {
	Digest oci.Digest
	Tags   []string     // the tags that pointed at it
	Also   []oci.Digest // accessories and index children that went with it
}

// DeleteArtifact deletes artifact ref (a tag or a digest) of repository
// name as Harbor does: the manifest with every tag that points at it, its
// accessories (the manifests whose subject it is, those cosign's
// sha256-<hex>.sig/.att/.sbom tags name, and theirs), and the
// children of an index that no tag names and no other index lists. While
// an index of the repository lists the artifact it is refused with a
// precondition failure (412), as Harbor refuses to break a reference.
// Only rows go, in one transaction; the bytes stay until garbage
// collection finds them unreferenced.
func (s *Service) DeleteArtifact(ctx context.Context, name, ref string) (DeletedArtifact, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return DeletedArtifact{}, err
	}
	var res DeletedArtifact
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		res = DeletedArtifact{}
		d, err := resolve(ctx, q, repo, ref)
		if err != nil {
			return err
		}
		if _, err := q.GetManifest(ctx, repo.ID, d); err != nil {
			if errs.Is(err, errs.NotFound) {
				return artifactNotFound(name, ref)
			}
			return err
		}
		parents, err := q.ManifestParents(ctx, repo.ID, d)
		if err != nil {
			return err
		}
		if len(parents) > 0 {
			return errs.New(errs.Conflict, "PRECONDITION",
				"artifact %s is referenced by index %s; delete the index instead", d, parents[0])
		}
		if res.Tags, err = q.TagsFor(ctx, repo.ID, d); err != nil {
			return err
		}
		res.Digest = d
		return deleteDeep(ctx, q, repo.ID, d, &res, map[oci.Digest]bool{})
	})
	if err != nil {
		return DeletedArtifact{}, err
	}
	return res, nil
}

// deleteDeep deletes manifest d with its accessories and the children
// only it holds on to, recording in res what went besides d itself.
func deleteDeep(ctx context.Context, q *meta.Q, repoID int64, d oci.Digest, res *DeletedArtifact, seen map[oci.Digest]bool) error {
	if seen[d] {
		return nil
	}
	seen[d] = true
	referrers, err := q.ListReferrers(ctx, repoID, d, "")
	if err != nil {
		return err
	}
	for _, r := range referrers {
		// An accessory that an index lists belongs to that index too.
		ps, err := q.ManifestParents(ctx, repoID, r.Digest)
		if err != nil {
			return err
		}
		if len(ps) > 0 {
			continue
		}
		if err := deleteDeep(ctx, q, repoID, r.Digest, res, seen); err != nil {
			return err
		}
	}
	if err := deleteSchemeAccessories(ctx, q, repoID, d, res, seen); err != nil {
		return err
	}
	children, err := q.ChildrenOf(ctx, repoID, []oci.Digest{d})
	if err != nil {
		return err
	}
	if err := q.DeleteManifest(ctx, repoID, d); err != nil {
		return fmt.Errorf("delete manifest %s: %w", d, err)
	}
	if d != res.Digest {
		res.Also = append(res.Also, d)
	}
	for _, c := range children[d] {
		ps, err := q.ManifestParents(ctx, repoID, c)
		if err != nil {
			return err
		}
		tags, err := q.TagsFor(ctx, repoID, c)
		if err != nil {
			return err
		}
		if len(ps) > 0 || len(tags) > 0 || seen[c] {
			continue
		}
		exists, err := q.ManifestExists(ctx, repoID, []oci.Digest{c})
		if err != nil {
			return err
		}
		if !exists[c] {
			continue
		}
		if err := deleteDeep(ctx, q, repoID, c, res, seen); err != nil {
			return err
		}
	}
	return nil
}

// deleteSchemeAccessories deletes the accessories linked to d by cosign's
// tag scheme (sha256-<hex>.sig/.att/.sbom, signatures.go), with theirs;
// such a tag on anything else (an image) only loses the tag. An accessory
// an index lists stays with that index.
func deleteSchemeAccessories(ctx context.Context, q *meta.Q, repoID int64, d oci.Digest, res *DeletedArtifact, seen map[oci.Digest]bool) error {
	names, tagged, err := schemeAccessoryTags(ctx, q, repoID, d)
	if err != nil {
		return err
	}
	for _, n := range names {
		a := tagged[n]
		ok, err := isSchemeAccessory(ctx, q, repoID, n, a)
		if err != nil {
			return err
		}
		if !ok {
			if err := q.DeleteTag(ctx, repoID, n); err != nil {
				return err
			}
			continue
		}
		ps, err := q.ManifestParents(ctx, repoID, a)
		if err != nil {
			return err
		}
		if len(ps) > 0 || a == d {
			continue
		}
		if err := deleteDeep(ctx, q, repoID, a, res, seen); err != nil {
			return err
		}
	}
	return nil
}
