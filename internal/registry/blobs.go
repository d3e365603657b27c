package registry

import (
	"context"
	"fmt"
	"io"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// BlobInfo describes a blob as a repository serves it.
type BlobInfo struct {
	Digest oci.Digest
	Size   int64
}

// StatBlob returns the blob digest of repository name. A blob is only
// visible in repositories it was pushed or mounted into.
func (s *Service) StatBlob(ctx context.Context, name, digest string) (BlobInfo, error) {
	d, err := oci.ParseDigest(digest)
	if err != nil {
		return BlobInfo{}, digestInvalid("%v", err)
	}
	if err := oci.ValidateName(name); err != nil {
		return BlobInfo{}, nameInvalid(err)
	}
	// One query on the hot path; when it finds nothing, or a blob that is
	// not live, the lookups below give the precise answer.
	b, err := s.db.Q().ResolveLinkedBlob(ctx, name, d)
	if err == nil && b.State == meta.BlobLive {
		return BlobInfo{Digest: d, Size: b.Size}, nil
	}
	if err != nil && !errs.Is(err, errs.NotFound) {
		return BlobInfo{}, err
	}
	repo, err := s.repo(ctx, name)
	if err != nil {
		return BlobInfo{}, err
	}
	return s.statLinked(ctx, repo, d)
}

func (s *Service) statLinked(ctx context.Context, repo meta.Repo, d oci.Digest) (BlobInfo, error) {
	q := s.db.Q()
	linked, err := q.IsBlobLinked(ctx, repo.ID, d)
	if err != nil {
		return BlobInfo{}, fmt.Errorf("blob %s in %s: %w", d, repo.Name, err)
	}
	if !linked {
		return BlobInfo{}, blobUnknown(d)
	}
	b, err := q.GetBlob(ctx, d)
	if errs.Is(err, errs.NotFound) || (err == nil && b.State != meta.BlobLive) {
		return BlobInfo{}, blobUnknown(d)
	}
	if err != nil {
		return BlobInfo{}, fmt.Errorf("blob %s: %w", d, err)
	}
	return BlobInfo{Digest: d, Size: b.Size}, nil
}

// OpenBlob returns the blob's info and a reader of length bytes from
// offset (length < 0: to the end).
func (s *Service) OpenBlob(ctx context.Context, name, digest string, offset, length int64) (BlobInfo, io.ReadCloser, error) {
	info, err := s.StatBlob(ctx, name, digest)
	if err != nil {
		return BlobInfo{}, nil, err
	}
	rc, err := s.blobs.Open(ctx, info.Digest, offset, length)
	if errs.Is(err, errs.NotFound) {
		// A row without bytes would break invariant 1; say so loudly.
		s.log.Error("blob row has no bytes", "digest", info.Digest, "repository", name)
		return BlobInfo{}, nil, blobUnknown(info.Digest)
	}
	if err != nil {
		return BlobInfo{}, nil, fmt.Errorf("open blob %s: %w", info.Digest, err)
	}
	return info, rc, nil
}

// BlobRedirect returns a short-lived URL from which a client may fetch
// blob d itself (checked already with StatBlob), when redirects are on
// and the blob store can make one; "" to serve the bytes directly.
func (s *Service) BlobRedirect(ctx context.Context, d oci.Digest) (string, error) {
	if s.redirect <= 0 {
		return "", nil
	}
	r, ok := s.blobs.(blob.Redirecter)
	if !ok {
		return "", nil
	}
	u, err := r.RedirectURL(ctx, d, s.redirect)
	if err != nil {
		return "", fmt.Errorf("redirect URL of blob %s: %w", d, err)
	}
	return u, nil
}

// ReadBlob returns a reader of length bytes from offset of a blob that
// StatBlob has just found (the handler needs its size before it can read
// a range; stating twice cost three queries per pull). A blob deleted in
// between is unknown, as it would be a moment later.
func (s *Service) ReadBlob(ctx context.Context, info BlobInfo, offset, length int64) (io.ReadCloser, error) {
	rc, err := s.blobs.Open(ctx, info.Digest, offset, length)
	if errs.Is(err, errs.NotFound) {
		return nil, blobUnknown(info.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", info.Digest, err)
	}
	return rc, nil
}

// DeleteBlob removes blob digest from repository name. The bytes stay
// until garbage collection finds nothing else uses them.
func (s *Service) DeleteBlob(ctx context.Context, name, digest string) error {
	d, err := oci.ParseDigest(digest)
	if err != nil {
		return digestInvalid("%v", err)
	}
	repo, err := s.repo(ctx, name)
	if err != nil {
		return err
	}
	removed, err := s.db.Q().UnlinkBlob(ctx, repo.ID, d)
	if err != nil {
		return fmt.Errorf("unlink blob %s from %s: %w", d, name, err)
	}
	if !removed {
		return blobUnknown(d)
	}
	return nil
}
