package access

import (
	"context"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/ldapdn"
	"github.com/berth-registry/berth/internal/meta"
)

// GroupResolver looks an LDAP group up in the directory, as Harbor does
// before an LDAP group becomes a user group or a project member.
// ResolveLDAPGroup returns the group with the directory's DN and name:
// NotFound when the directory has no such group under the group base DN,
// Unavailable when it cannot be asked.
type GroupResolver interface {
	ResolveLDAPGroup(ctx context.Context, dn string) (meta.UserGroup, error)
}

// SetGroupResolver makes r check LDAP group DNs in ldap_auth mode.
func (s *Service) SetGroupResolver(r GroupResolver) {
	s.providers.mu.Lock()
	defer s.providers.mu.Unlock()
	s.providers.groups = r
}

func (s *Service) groupResolver() GroupResolver {
	s.providers.mu.RLock()
	defer s.providers.mu.RUnlock()
	return s.providers.groups
}

// checkLDAPDN refuses ldap_group_dn text that is not a DN.
func checkLDAPDN(dn string) error {
	if _, err := ldapdn.Canonical(dn); err != nil {
		return errs.New(errs.Invalid, "", "ldap_group_dn %q is not a DN", clip(dn))
	}
	return nil
}

// resolveLDAPGroup checks that g (an LDAP group, already checked by
// checkGroupSpec) exists in the directory and returns it with the
// directory's spelling of the DN, and the directory's name unless the
// caller named it. Without a resolver nothing is taken on trust.
func (s *Service) resolveLDAPGroup(ctx context.Context, g meta.UserGroup, named bool) (meta.UserGroup, error) {
	r := s.groupResolver()
	if r == nil {
		return meta.UserGroup{}, errs.New(errs.Unavailable, "", "no LDAP directory is set up to check ldap_group_dn")
	}
	found, err := r.ResolveLDAPGroup(ctx, g.LDAPDN)
	if errs.Is(err, errs.NotFound) {
		return meta.UserGroup{}, errs.New(errs.NotFound, "NOT_FOUND", "LDAP group %q was not found in the LDAP directory (under ldap_group_base_dn, matching ldap_group_search_filter)", clip(g.LDAPDN))
	}
	if err != nil {
		return meta.UserGroup{}, err
	}
	g.LDAPDN = found.LDAPDN
	if !named {
		g.Name = found.Name
	}
	return g, nil
}
