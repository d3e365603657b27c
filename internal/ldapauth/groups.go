package ldapauth

import (
	"context"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/ldapdn"
	"github.com/go-ldap/ldap/v3"
)

// groupsOf returns the groups of a user entry: groups under the group
// base DN, matching the group filter, that list the user (member or
// uniqueMember = the user's DN, memberUid = the user name), together with
// the groups the user's membership attribute (memberOf) names, kept when
// they lie under the group base DN and match the filter. Without a group
// base DN, groups are not used.
func (c *Client) groupsOf(lc *conn, e *ldap.Entry) ([]Group, error) {
	if c.cfg.GroupBaseDN == "" {
		return nil, nil
	}
	dn := ldap.EscapeFilter(e.DN)
	var uids []string
	for _, v := range e.GetEqualFoldAttributeValues(c.cfg.UID) {
		uids = append(uids, "(memberUid="+ldap.EscapeFilter(v)+")")
	}
	filter := "(&" + c.cfg.GroupFilter + "(|(member=" + dn + ")(uniqueMember=" + dn + ")" + strings.Join(uids, "") + "))"
	found, err := c.findGroups(lc, c.cfg.GroupBaseDN, c.cfg.scope(c.cfg.GroupScope), filter)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, g := range found {
		seen[normDN(g.DN)] = true
	}
	base, _ := ldap.ParseDN(c.cfg.GroupBaseDN)
	for _, v := range e.GetEqualFoldAttributeValues(c.cfg.MembershipAttribute) {
		if len(found) >= maxGroups {
			break
		}
		gdn, err := ldap.ParseDN(v)
		if err != nil || seen[normDN(v)] || !(base.EqualFold(gdn) || base.AncestorOfFold(gdn)) {
			continue
		}
		seen[normDN(v)] = true
		// Read the group itself, so that the filter and the name
		// attribute apply as for searched groups.
		gs, err := c.findGroups(lc, v, ldap.ScopeBaseObject, c.cfg.GroupFilter)
		if err != nil {
			return nil, err
		}
		found = append(found, gs...)
	}
	return found, nil
}

func (c *Client) findGroups(lc *conn, base string, scope int, filter string) ([]Group, error) {
	res, err := lc.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases,
		maxGroups, int(c.cfg.Timeout.Seconds()), false, filter, []string{c.cfg.GroupNameAttribute}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil {
		err = nil
	}
	if err != nil {
		return nil, unavailable(err, "search groups under %q", base)
	}
	out := make([]Group, 0, len(res.Entries))
	for _, e := range res.Entries {
		name := e.GetEqualFoldAttributeValue(c.cfg.GroupNameAttribute)
		if name == "" {
			continue
		}
		out = append(out, Group{DN: e.DN, Name: name})
	}
	return out, nil
}

// isAdmin reports whether the admin group is among groups.
func (c *Client) isAdmin(groups []Group) bool {
	if c.cfg.GroupAdminDN == "" {
		return false
	}
	admin := normDN(c.cfg.GroupAdminDN)
	for _, g := range groups {
		if normDN(g.DN) == admin {
			return true
		}
	}
	return false
}

// SearchGroups finds groups under the group base DN by name (exact match
// of the name attribute) or by DN; both empty lists all (up to a limit).
func (c *Client) SearchGroups(ctx context.Context, name, dn string) ([]Group, error) {
	if c.cfg.GroupBaseDN == "" {
		return nil, errs.New(errs.Conflict, "PRECONDITION", "ldap_group_base_dn is not configured")
	}
	if len(name) > maxUsername || len(dn) > 1024 {
		return nil, errs.Invalidf("group name or DN too long")
	}
	lc, err := c.cfg.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer lc.close()
	if dn != "" {
		gdn, err := ldap.ParseDN(dn)
		if err != nil {
			return nil, errs.Invalidf("groupdn %q is not a DN", dn)
		}
		base, _ := ldap.ParseDN(c.cfg.GroupBaseDN)
		if !(base.EqualFold(gdn) || base.AncestorOfFold(gdn)) {
			return []Group{}, nil
		}
		filter := c.cfg.GroupFilter
		if name != "" {
			filter = "(&" + filter + "(" + c.cfg.GroupNameAttribute + "=" + ldap.EscapeFilter(name) + "))"
		}
		return c.findGroups(lc, dn, ldap.ScopeBaseObject, filter)
	}
	filter := c.cfg.GroupFilter
	if name != "" {
		filter = "(&" + filter + "(" + c.cfg.GroupNameAttribute + "=" + ldap.EscapeFilter(name) + "))"
	}
	return c.findGroups(lc, c.cfg.GroupBaseDN, c.cfg.scope(c.cfg.GroupScope), filter)
}

// normDN is a DN's comparable form (ldapdn.Key), so that
// "CN=Admins, ou=Groups" equals "cn=admins,ou=groups".
func normDN(s string) string { return ldapdn.Key(s) }

// NormalizeDN is the comparable form of a DN (for matching stored group
// DNs with the directory's spelling).
func NormalizeDN(s string) string { return normDN(s) }
