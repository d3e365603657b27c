package ldapauth

import (
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
)

// The run-time configuration keys of LDAP, Harbor's ldap_* names plus
// two of berth's own (ldap_start_tls, ldap_ca_cert). The access service
// stores them (ldap_search_password sealed and write-only) and shows them
// through /configurations.
const (
	KeyURL                 = "ldap_url"
	KeySearchDN            = "ldap_search_dn"
	KeySearchPassword      = "ldap_search_password"
	KeyBaseDN              = "ldap_base_dn"
	KeyFilter              = "ldap_filter"
	KeyUID                 = "ldap_uid"
	KeyScope               = "ldap_scope"
	KeyTimeout             = "ldap_timeout"
	KeyVerifyCert          = "ldap_verify_cert"
	KeyStartTLS            = "ldap_start_tls"
	KeyCACert              = "ldap_ca_cert"
	KeyGroupBaseDN         = "ldap_group_base_dn"
	KeyGroupFilter         = "ldap_group_search_filter"
	KeyGroupNameAttribute  = "ldap_group_attribute_name"
	KeyGroupAdminDN        = "ldap_group_admin_dn"
	KeyMembershipAttribute = "ldap_group_membership_attribute"
	KeyGroupScope          = "ldap_group_search_scope"
	// Accepted for Harbor's clients, which send it; berth reads groups
	// in one search either way.
	KeyGroupAttachParallel = "ldap_group_attach_parallel"
)

// maxTimeout bounds ldap_timeout, in seconds.
const maxTimeout = 60

// ConfigKeys declares the keys to the access service (access.WithConfigKeys).
func ConfigKeys() []access.ConfigKey {
	str := func(name, def string, check func(string) error) access.ConfigKey {
		return access.ConfigKey{Name: name, Type: access.KeyString, Default: def, Check: check}
	}
	dn := func(name string) access.ConfigKey {
		return str(name, "", func(v string) error { return checkDN(name, v) })
	}
	attr := func(name, def string) access.ConfigKey {
		return str(name, def, func(v string) error {
			if v == "" {
				return nil
			}
			return checkAttribute(name, v)
		})
	}
	filter := func(name string) access.ConfigKey {
		return str(name, "", func(v string) error { _, err := normalizeFilter(name, v, ""); return err })
	}
	scope := func(name string) access.ConfigKey {
		return access.ConfigKey{Name: name, Type: access.KeyInt, Default: strconv.Itoa(ScopeSubtree),
			Check: func(v string) error { n, _ := strconv.Atoi(v); return checkScope(name, n) }}
	}
	return []access.ConfigKey{
		str(KeyURL, "", func(v string) error {
			if v == "" {
				return nil
			}
			_, err := parseURL(v)
			return err
		}),
		dn(KeySearchDN),
		{Name: KeySearchPassword, Type: access.KeyString, Secret: true},
		dn(KeyBaseDN),
		filter(KeyFilter),
		attr(KeyUID, DefaultUID),
		scope(KeyScope),
		{Name: KeyTimeout, Type: access.KeyInt, Default: strconv.Itoa(int(DefaultTimeout.Seconds())),
			Check: func(v string) error { return checkTimeout(v) }},
		{Name: KeyVerifyCert, Type: access.KeyBool, Default: "true"},
		{Name: KeyStartTLS, Type: access.KeyBool, Default: "false"},
		str(KeyCACert, "", func(v string) error {
			if v == "" {
				return nil
			}
			_, err := caPool(v)
			return err
		}),
		dn(KeyGroupBaseDN),
		filter(KeyGroupFilter),
		attr(KeyGroupNameAttribute, DefaultGroupNameAttribute),
		dn(KeyGroupAdminDN),
		attr(KeyMembershipAttribute, DefaultMembershipAttribute),
		scope(KeyGroupScope),
		{Name: KeyGroupAttachParallel, Type: access.KeyBool, Default: "false"},
	}
}

func checkTimeout(v string) error {
	n, _ := strconv.Atoi(v)
	if n < 1 || n > maxTimeout {
		return errs.Invalidf("ldap_timeout must be between 1 and %d seconds, not %s", maxTimeout, clip(v))
	}
	return nil
}

// ConfigFrom builds a Config from key values (access.Configuration.Extra);
// keys that are missing keep their zero value, which New treats as the
// default.
func ConfigFrom(v map[string]string) Config {
	atoi := func(k string, def int) int {
		n, err := strconv.Atoi(v[k])
		if err != nil {
			return def
		}
		return n
	}
	b := func(k string, def bool) bool {
		x, err := strconv.ParseBool(v[k])
		if err != nil {
			return def
		}
		return x
	}
	return Config{
		URL:                 v[KeyURL],
		SearchDN:            v[KeySearchDN],
		SearchPassword:      v[KeySearchPassword],
		BaseDN:              v[KeyBaseDN],
		Filter:              v[KeyFilter],
		UID:                 v[KeyUID],
		Scope:               atoi(KeyScope, ScopeSubtree),
		Timeout:             time.Duration(atoi(KeyTimeout, int(DefaultTimeout.Seconds()))) * time.Second,
		VerifyCert:          b(KeyVerifyCert, true),
		StartTLS:            b(KeyStartTLS, false),
		CACert:              v[KeyCACert],
		GroupBaseDN:         v[KeyGroupBaseDN],
		GroupFilter:         v[KeyGroupFilter],
		GroupNameAttribute:  v[KeyGroupNameAttribute],
		GroupAdminDN:        v[KeyGroupAdminDN],
		MembershipAttribute: v[KeyMembershipAttribute],
		GroupScope:          atoi(KeyGroupScope, ScopeSubtree),
	}
}
