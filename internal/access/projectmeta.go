package access

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Project metadata: Harbor's string map of per-project settings ("public",
// "auto_scan", "severity", …), which keys exist and what values they take,
// and the /projects/{p}/metadatas API.

// Metadata keys of a project.
const (
	MetaPublic = "public"
)

// boolMetadata are the metadata keys that hold "true" or "false".
var boolMetadata = map[string]bool{
	MetaPublic:                    true,
	"enable_content_trust":        true,
	"enable_content_trust_cosign": true,
	"prevent_vul":                 true,
	"auto_scan":                   true,
	"auto_sbom_generation":        true,
	"reuse_sys_cve_allowlist":     true,
}

// proxyMetadata only mean something for proxy cache projects, which berth
// does not have; creation and update drop them, as Harbor does for a
// project that is not a proxy cache.
var proxyMetadata = map[string]bool{
	"proxy_speed_kb":                 true,
	"max_upstream_conn":              true,
	"proxy_cache_local_on_not_found": true,
	"proxy_referrer_api":             true,
	"proxy_cache_filter_pattern":     true,
	"proxy_cache_filter_kind":        true,
}

var severities = []string{"negligible", "low", "medium", "high", "critical"}

// checkMetadata validates one metadata entry and returns its value in
// canonical form.
func checkMetadata(key, value string) (string, error) {
	switch {
	case boolMetadata[key]:
		if value != "true" && value != "false" {
			return "", errs.New(errs.Invalid, "", "metadata.%s should only be 'true' or 'false', but got: '%s'", key, clip(value))
		}
		return value, nil
	case key == "severity":
		v := strings.ToLower(value)
		for _, s := range severities {
			if v == s {
				return v, nil
			}
		}
		return "", errs.New(errs.Invalid, "", "metadata.severity must be one of %s, got %q", strings.Join(severities, ", "), clip(value))
	case key == "retention_id":
		if n, err := strconv.ParseInt(value, 10, 64); err != nil || n <= 0 {
			return "", errs.New(errs.Invalid, "", "metadata.retention_id must be a positive integer, got %q", clip(value))
		}
		return value, nil
	case proxyMetadata[key]:
		return "", errs.New(errs.Invalid, "", "metadata.%s only applies to proxy cache projects, which berth does not support", clip(key))
	}
	return "", errs.New(errs.Invalid, "", "unknown project metadata key %q", clip(key))
}

// GetProjectMetadata returns the project's metadata (Harbor's string map
// including "public"), or only the entry key when key is not "".
func (s *Service) GetProjectMetadata(ctx context.Context, p Principal, ref ProjectRef, key string) (map[string]string, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActRead)
	if err != nil {
		return nil, err
	}
	md := ProjectView{Project: pr}.PublicMetadata()
	if key == "" {
		return md, nil
	}
	v, ok := md[key]
	if !ok {
		return nil, errs.New(errs.NotFound, "NOT_FOUND", "project %s has no metadata %q", pr.Name, clip(key))
	}
	return map[string]string{key: v}, nil
}

// AddProjectMetadata adds metadata entries; Conflict if one exists.
func (s *Service) AddProjectMetadata(ctx context.Context, p Principal, source string, ref ProjectRef, md map[string]string) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActCreate)
	if err != nil {
		return err
	}
	if len(md) == 0 {
		return errs.New(errs.Invalid, "", "no metadata given")
	}
	current := ProjectView{Project: pr}.PublicMetadata()
	for k := range md {
		// "public" always has a value, so adding it is a change: allow it.
		if _, ok := current[k]; ok && k != MetaPublic {
			return errs.New(errs.Conflict, "CONFLICT", "project %s already has metadata %q", pr.Name, clip(k))
		}
	}
	return s.setMetadata(ctx, p, source, pr, md)
}

// UpdateProjectMetadata sets metadata key, which must exist; md must hold
// exactly that key.
func (s *Service) UpdateProjectMetadata(ctx context.Context, p Principal, source string, ref ProjectRef, key string, md map[string]string) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActUpdate)
	if err != nil {
		return err
	}
	if _, ok := md[key]; !ok || len(md) != 1 {
		return errs.New(errs.Invalid, "", "the body must hold exactly the metadata %q", clip(key))
	}
	if _, ok := (ProjectView{Project: pr}).PublicMetadata()[key]; !ok {
		return errs.New(errs.NotFound, "NOT_FOUND", "project %s has no metadata %q", pr.Name, clip(key))
	}
	return s.setMetadata(ctx, p, source, pr, md)
}

func (s *Service) setMetadata(ctx context.Context, p Principal, source string, pr meta.Project, md map[string]string) error {
	for k, v := range md {
		v, err := checkMetadata(k, v)
		if err != nil {
			return err
		}
		if pr.Metadata == nil {
			pr.Metadata = map[string]string{}
		}
		if k == MetaPublic {
			pr.Public = v == "true"
		}
		pr.Metadata[k] = v
	}
	if err := s.db.Q().UpdateProject(ctx, pr); err != nil {
		return fmt.Errorf("update metadata of project %s: %w", pr.Name, err)
	}
	s.auditProject(ctx, p, source, pr, "update", "metadata")
	return nil
}

// DeleteProjectMetadata removes metadata key. "public" cannot be removed,
// only set to "false".
func (s *Service) DeleteProjectMetadata(ctx context.Context, p Principal, source string, ref ProjectRef, key string) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActDelete)
	if err != nil {
		return err
	}
	if key == MetaPublic {
		return errs.New(errs.Invalid, "", "metadata \"public\" cannot be deleted; set it to \"false\" instead")
	}
	if _, ok := pr.Metadata[key]; !ok {
		return errs.New(errs.NotFound, "NOT_FOUND", "project %s has no metadata %q", pr.Name, clip(key))
	}
	delete(pr.Metadata, key)
	if err := s.db.Q().UpdateProject(ctx, pr); err != nil {
		return fmt.Errorf("delete metadata of project %s: %w", pr.Name, err)
	}
	s.auditProject(ctx, p, source, pr, "update", "metadata")
	return nil
}
