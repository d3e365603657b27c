package registry

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// PutResult says what a manifest push stored.
type PutResult struct {
	Digest  oci.Digest
	Subject oci.Digest // the subject's digest when the manifest has one
	Tags    []string   // the tags now pointing at it
}

func manifestInvalid(format string, args ...any) error {
	return errs.New(errs.Invalid, "MANIFEST_INVALID", format, args...)
}

func manifestBlobUnknown(d oci.Digest, what string) error {
	return errs.New(errs.Invalid, "MANIFEST_BLOB_UNKNOWN", "the manifest references %s %s, which is not in this repository", what, d).
		WithDetail(map[string]string{"digest": string(d)})
}

// parseRef parses a manifest reference, mapping errors to OCI codes.
func parseRef(ref string) (oci.Reference, error) {
	r, err := oci.ParseReference(ref)
	if err == nil {
		return r, nil
	}
	if len(ref) > 0 && containsColon(ref) {
		return r, digestInvalid("%v", err)
	}
	return r, manifestInvalid("%v", err)
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// PutManifest stores body as a manifest of repository name under ref (a
// tag or a digest). Every blob it references must be live and in the
// repository, and every manifest an index lists must be in the repository.
//
// tags are extra tags to point at the manifest (the tag query parameter of
// a push by digest); they are all set in the same transaction.
func (s *Service) PutManifest(ctx context.Context, name, ref, contentType string, body []byte, tags ...string) (PutResult, error) {
	if err := oci.ValidateName(name); err != nil {
		return PutResult{}, nameInvalid(err)
	}
	r, err := parseRef(ref)
	if err != nil {
		return PutResult{}, err
	}
	if int64(len(body)) > s.maxManifest {
		return PutResult{}, errs.New(errs.TooLarge, "SIZE_INVALID", "the manifest is %d bytes; the limit is %d", len(body), s.maxManifest)
	}
	for _, t := range tags {
		if err := oci.ValidateTag(t); err != nil {
			return PutResult{}, manifestInvalid("%v", err)
		}
	}
	if !r.IsDigest() {
		tags = append(tags, r.Tag)
	}
	alg := oci.SHA256
	if r.IsDigest() {
		alg = r.Digest.Algorithm()
	}
	d, err := oci.FromBytesAlg(alg, body)
	if err != nil {
		return PutResult{}, digestInvalid("%v", err)
	}
	if r.IsDigest() && d != r.Digest {
		return PutResult{}, digestInvalid("the manifest has digest %s, not %s", d, r.Digest)
	}
	m, err := oci.ParseManifest(contentType, body)
	if err != nil {
		return PutResult{}, manifestInvalid("%v", err)
	}
	repo, err := s.ensureRepo(ctx, name)
	if err != nil {
		return PutResult{}, err
	}
	if !r.IsDigest() {
		// Tagging content first pushed by a sha512 digest keeps that digest.
		if d512, _ := oci.FromBytesAlg(oci.SHA512, body); d512 != "" {
			have, err := s.db.Q().ManifestExists(ctx, repo.ID, []oci.Digest{d, d512})
			if err != nil {
				return PutResult{}, fmt.Errorf("look up manifest %s: %w", d, err)
			}
			if have[d512] && !have[d] {
				d = d512
			}
		}
	}

	descs := m.Blobs()
	blobs := make([]oci.Digest, 0, len(descs))
	for _, b := range descs {
		blobs = append(blobs, b.Digest)
	}
	children := make([]oci.Digest, 0, len(m.Manifests))
	for _, c := range m.Manifests {
		children = append(children, c.Digest)
	}
	row := meta.Manifest{
		RepoID:       repo.ID,
		Digest:       d,
		MediaType:    m.MediaType,
		ArtifactType: m.EffectiveArtifactType(),
		Size:         int64(len(body)),
		Annotations:  m.Annotations,
		Content:      body,
		CreatedAt:    s.now().UTC(),
	}
	if m.Subject != nil {
		row.Subject = m.Subject.Digest
	}
	// Concurrent manifest pushes (and blob commits) share one commit on
	// SQLite (GroupTx), which must not be cancelled half-way: the
	// manifest has been received in full by now.
	err = s.db.GroupTx(context.WithoutCancel(ctx), func(q *meta.Q) error {
		// Lock the referenced blobs so GC cannot take them from under us.
		rows, err := q.LockBlobsShared(ctx, blobs)
		if err != nil {
			return err
		}
		for _, desc := range descs {
			b, ok := rows[desc.Digest]
			if !ok || b.State != meta.BlobLive {
				return manifestBlobUnknown(desc.Digest, "blob")
			}
			linked, err := q.IsBlobLinked(ctx, repo.ID, desc.Digest)
			if err != nil {
				return err
			}
			if !linked {
				return manifestBlobUnknown(desc.Digest, "blob")
			}
			if b.Size != desc.Size {
				return manifestInvalid("the descriptor of %s says %d bytes, but the blob has %d", desc.Digest, desc.Size, b.Size)
			}
		}
		if len(children) > 0 {
			// Locked (FOR SHARE) so that GC cannot delete a child
			// between this check and the commit (docs/gc.md).
			have, err := q.LockManifestsShared(ctx, repo.ID, children)
			if err != nil {
				return err
			}
			for _, c := range children {
				if !have[c] {
					return manifestBlobUnknown(c, "manifest")
				}
			}
		}
		if _, err := q.PutManifest(ctx, row, blobs, children); err != nil {
			return err
		}
		for _, t := range tags {
			if err := q.PutTag(ctx, repo.ID, t, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return PutResult{}, err
		}
		return PutResult{}, fmt.Errorf("put manifest %s in %s: %w", d, name, err)
	}
	for _, f := range s.onPush {
		f(ctx, name, d)
	}
	return PutResult{Digest: d, Subject: row.Subject, Tags: tags}, nil
}

// GetManifest returns the manifest ref (tag or digest) of repository name.
func (s *Service) GetManifest(ctx context.Context, name, ref string) (meta.Manifest, error) {
	r, err := parseRef(ref)
	if err != nil {
		return meta.Manifest{}, err
	}
	if err := oci.ValidateName(name); err != nil {
		return meta.Manifest{}, nameInvalid(err)
	}
	q := s.db.Q()
	// One query on the hot path; when it finds nothing, the lookups
	// below say whether the repository, tag or manifest is missing.
	tag := ""
	if !r.IsDigest() {
		tag = r.Tag
	}
	m, err := q.ResolveManifest(ctx, name, tag, r.Digest)
	if err == nil {
		return m, nil
	}
	if !errs.Is(err, errs.NotFound) {
		return meta.Manifest{}, err
	}
	repo, err := s.repo(ctx, name)
	if err != nil {
		return meta.Manifest{}, err
	}
	d := r.Digest
	if !r.IsDigest() {
		t, err := q.GetTag(ctx, repo.ID, r.Tag)
		if errs.Is(err, errs.NotFound) {
			return meta.Manifest{}, manifestUnknown(ref)
		}
		if err != nil {
			return meta.Manifest{}, fmt.Errorf("get tag %s: %w", ref, err)
		}
		d = t.Digest
	}
	m, err = q.GetManifest(ctx, repo.ID, d)
	if errs.Is(err, errs.NotFound) {
		return meta.Manifest{}, manifestUnknown(ref)
	}
	if err != nil {
		return meta.Manifest{}, fmt.Errorf("get manifest %s: %w", d, err)
	}
	return m, nil
}

// DeleteManifest deletes a tag, or a manifest by digest together with
// every tag that points at it and its tag-scheme accessories. The bytes
// they referenced stay until GC.
func (s *Service) DeleteManifest(ctx context.Context, name, ref string) error {
	r, err := parseRef(ref)
	if err != nil {
		return err
	}
	repo, err := s.repo(ctx, name)
	if err != nil {
		return err
	}
	q := s.db.Q()
	if !r.IsDigest() {
		err := q.DeleteTag(ctx, repo.ID, r.Tag)
		if errs.Is(err, errs.NotFound) {
			return manifestUnknown(ref)
		}
		return err
	}
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		parents, err := q.ManifestParents(ctx, repo.ID, r.Digest)
		if err != nil {
			return err
		}
		if len(parents) > 0 {
			return errs.New(errs.Conflict, "DENIED",
				"manifest %s is listed by index %s; delete the index first", r.Digest, parents[0])
		}
		// Its tag-scheme accessories go with it, as with the API's delete,
		// rather than linger until GC finds them orphaned. Referrers by
		// subject stay: the OCI API deletes only what was named.
		if _, err := q.GetManifest(ctx, repo.ID, r.Digest); err != nil {
			return err
		}
		res := DeletedArtifact{Digest: r.Digest}
		if err := deleteSchemeAccessories(ctx, q, repo.ID, r.Digest, &res, map[oci.Digest]bool{r.Digest: true}); err != nil {
			return err
		}
		return q.DeleteManifest(ctx, repo.ID, r.Digest)
	})
	if errs.Is(err, errs.NotFound) {
		return manifestUnknown(ref)
	}
	return err
}
