package registry

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// Page is one page of a sorted listing. More is true when entries after
// the last one returned exist.
type Page struct {
	Items []string
	More  bool
}

// maxPage bounds one page so that a huge repository cannot be dumped in one
// response by accident; clients follow the Link header for the rest.
const maxPage = 10000

// ListTags lists the tags of repository name in byte order, after last,
// at most n of them (n < 0: the server's page size).
func (s *Service) ListTags(ctx context.Context, name, last string, n int) (Page, error) {
	repo, err := s.repo(ctx, name)
	if err != nil {
		return Page{}, err
	}
	n = pageSize(n)
	if n == 0 {
		return Page{Items: []string{}}, nil
	}
	tags, err := s.db.Q().ListTags(ctx, repo.ID, last, n+1)
	if err != nil {
		return Page{}, fmt.Errorf("list tags of %s: %w", name, err)
	}
	return page(tags, n), nil
}

// Catalog lists repository names in byte order, after last, at most n.
// When visible is not nil only names it accepts are listed.
func (s *Service) Catalog(ctx context.Context, last string, n int, visible func(context.Context, string) (bool, error)) (Page, error) {
	n = pageSize(n)
	if n == 0 {
		return Page{Items: []string{}}, nil
	}
	if visible == nil {
		names, err := s.db.Q().ListRepos(ctx, last, n+1)
		if err != nil {
			return Page{}, fmt.Errorf("list repositories: %w", err)
		}
		return page(names, n), nil
	}
	// Filter batch by batch until the page is full or names run out.
	out := []string{}
	batch := max(2*n, 100)
	for len(out) <= n {
		names, err := s.db.Q().ListRepos(ctx, last, batch)
		if err != nil {
			return Page{}, fmt.Errorf("list repositories: %w", err)
		}
		for _, name := range names {
			ok, err := visible(ctx, name)
			if err != nil {
				return Page{}, err
			}
			if ok {
				out = append(out, name)
				if len(out) > n {
					break
				}
			}
		}
		if len(names) < batch {
			break
		}
		last = names[len(names)-1]
	}
	return page(out, n), nil
}

func pageSize(n int) int {
	if n < 0 || n > maxPage {
		return maxPage
	}
	return n
}

func page(items []string, n int) Page {
	if items == nil {
		items = []string{}
	}
	if len(items) > n {
		return Page{Items: items[:n], More: true}
	}
	return Page{Items: items}
}

// Referrers lists the manifests of repository name whose subject is
// digest, optionally only those of one artifact type. A repository or
// subject that does not exist has no referrers.
func (s *Service) Referrers(ctx context.Context, name, digest, artifactType string) ([]oci.Descriptor, error) {
	d, err := oci.ParseDigest(digest)
	if err != nil {
		return nil, digestInvalid("%v", err)
	}
	repo, err := s.repo(ctx, name)
	if errs.Is(err, errs.NotFound) {
		return []oci.Descriptor{}, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Q().ListReferrers(ctx, repo.ID, d, artifactType)
	if err != nil {
		return nil, fmt.Errorf("referrers of %s in %s: %w", d, name, err)
	}
	out := make([]oci.Descriptor, 0, len(rows))
	for _, m := range rows {
		out = append(out, oci.Descriptor{
			MediaType:    m.MediaType,
			Digest:       m.Digest,
			Size:         m.Size,
			ArtifactType: m.ArtifactType,
			Annotations:  m.Annotations,
		})
	}
	return out, nil
}
