package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// ParseArtifactRef splits Harbor's copy source, "project/repo:tag" or
// "project/repo@sha256:…", into the repository name and the reference.
func ParseArtifactRef(s string) (repo, ref string, err error) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		repo, ref = s[:i], s[i+1:]
		if _, err := oci.ParseDigest(ref); err != nil {
			return "", "", errs.New(errs.Invalid, "", "invalid digest in %q: %v", truncate(s), err)
		}
	} else if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		repo, ref = s[:i], s[i+1:]
		if err := oci.ValidateTag(ref); err != nil {
			return "", "", errs.New(errs.Invalid, "", "invalid tag in %q: %v", truncate(s), err)
		}
	} else {
		return "", "", errs.New(errs.Invalid, "", `%q must look like "project/repository:tag" or "project/repository@digest"`, truncate(s))
	}
	if err := oci.ValidateName(repo); err != nil {
		return "", "", errs.New(errs.Invalid, "", "invalid repository in %q: %v", truncate(s), err)
	}
	return repo, ref, nil
}

// copyItem is one manifest to copy, with what it references.
type copyItem struct {
	row      meta.Manifest
	blobs    []oci.Digest
	children []oci.Digest
}

// CopyArtifact copies artifact ref (a tag or a digest) of repository src
// into repository dst, which is created if needed: the manifest with the
// children of an index and its accessories (and theirs, including those
// linked by cosign's sha256-<hex>.sig tags, with those tags), and the tags of
// the artifact, which move in dst if they named something else. Blobs are
// global, so nothing is read or written in the blob store: the copy links
// the blobs into dst and adds rows, in one transaction that holds the
// blobs' rows against garbage collection (as a push does). Copying an
// artifact that dst already holds adds what it lacks. It returns the
// artifact's digest.
func (s *Service) CopyArtifact(ctx context.Context, src, ref, dst string) (oci.Digest, error) {
	srcRepo, err := s.repo(ctx, src)
	if err != nil {
		return "", err
	}
	q := s.db.Q()
	root, err := resolve(ctx, q, srcRepo, ref)
	if err != nil {
		return "", err
	}
	// Gather the closure: breadth first, so that reversing the order puts
	// children and accessories before what holds them.
	var items []copyItem
	var schemeTags []meta.Tag
	seen := map[oci.Digest]bool{root: true}
	queue := []oci.Digest{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		row, err := q.GetManifest(ctx, srcRepo.ID, d)
		if errs.Is(err, errs.NotFound) {
			if d == root {
				return "", artifactNotFound(src, ref)
			}
			continue // went away meanwhile; what remains is still consistent
		}
		if err != nil {
			return "", err
		}
		m, err := oci.ParseManifest(row.MediaType, row.Content)
		if err != nil {
			return "", fmt.Errorf("parse stored manifest %s of %s: %w", d, src, err)
		}
		it := copyItem{row: row}
		for _, b := range m.Blobs() {
			it.blobs = append(it.blobs, b.Digest)
		}
		for _, c := range m.Manifests {
			it.children = append(it.children, c.Digest)
		}
		items = append(items, it)
		referrers, err := q.ListReferrers(ctx, srcRepo.ID, d, "")
		if err != nil {
			return "", err
		}
		next := slices.Clone(it.children)
		for _, r := range referrers {
			next = append(next, r.Digest)
		}
		// Accessories of cosign's tag scheme come along with their tags.
		names, tagged, err := schemeAccessoryTags(ctx, q, srcRepo.ID, d)
		if err != nil {
			return "", err
		}
		for _, n := range names {
			ok, err := isSchemeAccessory(ctx, q, srcRepo.ID, n, tagged[n])
			if err != nil {
				return "", err
			}
			if ok {
				schemeTags = append(schemeTags, meta.Tag{Name: n, Digest: tagged[n]})
				next = append(next, tagged[n])
			}
		}
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	slices.Reverse(items)
	tags, err := q.TagsFor(ctx, srcRepo.ID, root)
	if err != nil {
		return "", err
	}
	dstRepo, err := s.ensureRepo(ctx, dst)
	if err != nil {
		return "", err
	}
	var blobs []oci.Digest
	for _, it := range items {
		blobs = append(blobs, it.blobs...)
	}
	now := s.now().UTC()
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		// Lock the blobs so that GC cannot take them while rows that
		// point at them are being added.
		rows, err := q.LockBlobsShared(ctx, blobs)
		if err != nil {
			return err
		}
		for _, b := range uniqDigests(blobs) {
			if r, ok := rows[b]; !ok || r.State != meta.BlobLive {
				return errs.New(errs.Unavailable, "", "blob %s of the artifact is being garbage collected; try again", b)
			}
			// Quota (quota.go): a copy adds to dst's project what a push
			// of the same blobs would.
			if err := s.checkQuota(ctx, q, dstRepo, b, rows[b].Size); err != nil {
				return err
			}
			if err := q.LinkBlob(ctx, dstRepo.ID, b); err != nil {
				return err
			}
		}
		for _, it := range items {
			row := it.row
			row.RepoID, row.CreatedAt = dstRepo.ID, now
			if _, err := q.PutManifest(ctx, row, it.blobs, it.children); err != nil {
				return err
			}
		}
		for _, t := range tags {
			if err := q.PutTag(ctx, dstRepo.ID, t, root); err != nil {
				return err
			}
		}
		for _, t := range schemeTags {
			if err := q.PutTag(ctx, dstRepo.ID, t.Name, t.Digest); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return "", err
		}
		return "", fmt.Errorf("copy %s@%s to %s: %w", src, root, dst, err)
	}
	return root, nil
}

func uniqDigests(ds []oci.Digest) []oci.Digest {
	seen := make(map[oci.Digest]bool, len(ds))
	out := ds[:0:0]
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}
