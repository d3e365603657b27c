package registry

import (
	"context"
	"html"
	"strings"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Repositories as Harbor's API shows them: description, pull count and
// artifact count besides the name.

// maxDescription bounds a repository description, in bytes as stored.
const maxDescription = 64 << 10

// Repository returns repository name.
func (s *Service) Repository(ctx context.Context, name string) (meta.RepoInfo, error) {
	if _, err := s.repo(ctx, name); err != nil {
		return meta.RepoInfo{}, err
	}
	r, err := s.db.Q().GetRepoInfo(ctx, name)
	if errs.Is(err, errs.NotFound) {
		return meta.RepoInfo{}, nameUnknown(name)
	}
	return r, err
}

// ListRepositories lists the repositories of project that match o.
func (s *Service) ListRepositories(ctx context.Context, project string, o meta.ListOptions) ([]meta.RepoInfo, int, error) {
	if err := checkQuery(o); err != nil {
		return nil, 0, err
	}
	return s.db.Q().ListProjectRepos(ctx, project, o)
}

// ListVisibleRepositories lists the repositories, across projects, of the
// projects f admits, that match o.
func (s *Service) ListVisibleRepositories(ctx context.Context, o meta.ListOptions, f meta.ProjectFilter) ([]meta.RepoInfo, int, error) {
	if err := checkQuery(o); err != nil {
		return nil, 0, err
	}
	return s.db.Q().ListVisibleRepos(ctx, o, f)
}

// SetRepositoryDescription sets repository name's description. It is
// stored HTML-escaped, as Harbor stores it, so that every reader can show
// it as it is.
func (s *Service) SetRepositoryDescription(ctx context.Context, name, description string) error {
	if !utf8.ValidString(description) || strings.ContainsRune(description, 0) {
		return errs.New(errs.Invalid, "", "the description must be UTF-8 text without NUL characters")
	}
	escaped := html.EscapeString(description)
	if len(escaped) > maxDescription {
		return errs.New(errs.Invalid, "", "the description is longer than %d bytes", maxDescription)
	}
	repo, err := s.repo(ctx, name)
	if err != nil {
		return err
	}
	err = s.db.Q().SetRepoDescription(ctx, repo.ID, escaped)
	if errs.Is(err, errs.NotFound) {
		return nameUnknown(name)
	}
	return err
}
