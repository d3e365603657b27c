package registry

import (
	"context"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Tags of one artifact, as Harbor's API manages them: listed with their
// ids and times, created without ever moving an existing tag, deleted
// one by one (the artifact stays, untagged after its last tag goes).

// artifactDigest resolves ref (a tag or a digest) to an artifact that
// repository name holds.
func (s *Service) artifactDigest(ctx context.Context, name, ref string) (meta.Repo, oci.Digest, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return meta.Repo{}, "", err
	}
	q := s.db.Q()
	d, err := resolve(ctx, q, repo, ref)
	if err != nil {
		return meta.Repo{}, "", err
	}
	have, err := q.ManifestExists(ctx, repo.ID, []oci.Digest{d})
	if err != nil {
		return meta.Repo{}, "", err
	}
	if !have[d] {
		return meta.Repo{}, "", artifactNotFound(name, ref)
	}
	return repo, d, nil
}

// ListArtifactTags lists the tags of artifact ref of repository name that
// match o.
func (s *Service) ListArtifactTags(ctx context.Context, name, ref string, o meta.ListOptions) ([]meta.TagInfo, int, error) {
	if err := checkQuery(o); err != nil {
		return nil, 0, err
	}
	repo, d, err := s.artifactDigest(ctx, name, ref)
	if err != nil {
		return nil, 0, err
	}
	return s.db.Q().ListTagInfos(ctx, repo.ID, d, o)
}

// CreateArtifactTag tags artifact ref of repository name. A tag of that
// name that already exists, on this artifact or another, is a conflict:
// Harbor's API never moves a tag (a push does).
func (s *Service) CreateArtifactTag(ctx context.Context, name, ref, tag string) (meta.TagInfo, error) {
	if err := oci.ValidateTag(tag); err != nil {
		return meta.TagInfo{}, errs.New(errs.Invalid, "", "%v", err)
	}
	repo, d, err := s.artifactDigest(ctx, name, ref)
	if err != nil {
		return meta.TagInfo{}, err
	}
	q := s.db.Q()
	err = q.CreateTag(ctx, repo.ID, tag, d)
	switch {
	case errs.Is(err, errs.Conflict):
		return meta.TagInfo{}, errs.New(errs.Conflict, "CONFLICT", "the tag %s already exists in %s", tag, name)
	case errs.Is(err, errs.NotFound):
		return meta.TagInfo{}, artifactNotFound(name, ref)
	case err != nil:
		return meta.TagInfo{}, err
	}
	return q.GetTagInfo(ctx, repo.ID, tag)
}

// DeleteArtifactTag deletes tag from artifact ref of repository name;
// NotFound unless the tag points at that artifact.
func (s *Service) DeleteArtifactTag(ctx context.Context, name, ref, tag string) error {
	if err := oci.ValidateTag(tag); err != nil {
		return errs.New(errs.NotFound, "NOT_FOUND", "tag %q not found", truncate(tag))
	}
	repo, d, err := s.artifactDigest(ctx, name, ref)
	if err != nil {
		return err
	}
	err = s.db.Q().DeleteTagOf(ctx, repo.ID, tag, d)
	if errs.Is(err, errs.NotFound) {
		return errs.New(errs.NotFound, "NOT_FOUND", "the tag %s is not on artifact %s of %s", tag, truncate(ref), name)
	}
	return err
}
