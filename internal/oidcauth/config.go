// Package oidcauth signs users in through an OpenID Connect provider
// (authorization code flow with PKCE, state and nonce), turns the
// provider's claims into berth accounts and groups through access, and
// re-checks OIDC users with their refresh token when their CLI secret is
// used. It speaks to the provider; it never writes HTTP responses (the
// /c/oidc endpoints live in internal/http/api).
package oidcauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
)

// Configuration keys, as Harbor names them.
const (
	KeyName          = "oidc_name"
	KeyEndpoint      = "oidc_endpoint"
	KeyClientID      = "oidc_client_id"
	KeyClientSecret  = "oidc_client_secret"
	KeyScope         = "oidc_scope"
	KeyVerifyCert    = "oidc_verify_cert"
	KeyUserClaim     = "oidc_user_claim"
	KeyGroupsClaim   = "oidc_groups_claim"
	KeyAdminGroup    = "oidc_admin_group"
	KeyAutoOnboard   = "oidc_auto_onboard"
	KeyExtraRedirect = "oidc_extra_redirect_parms"
)

// DefaultScope asks for a refresh token (offline_access), without which a
// CLI secret cannot be re-checked with the provider.
const DefaultScope = "openid,profile,email,offline_access"

// ConfigKeys are the oidc_* run-time configuration keys.
func ConfigKeys() []access.ConfigKey {
	str := func(name, def string, check func(string) error) access.ConfigKey {
		return access.ConfigKey{Name: name, Type: access.KeyString, Default: def, Check: check}
	}
	return []access.ConfigKey{
		str(KeyName, "", nil),
		str(KeyEndpoint, "", checkEndpoint),
		str(KeyClientID, "", nil),
		{Name: KeyClientSecret, Type: access.KeyString, Secret: true},
		str(KeyScope, DefaultScope, checkScope),
		{Name: KeyVerifyCert, Type: access.KeyBool, Default: "true"},
		str(KeyUserClaim, "", nil),
		str(KeyGroupsClaim, "", nil),
		str(KeyAdminGroup, "", nil),
		{Name: KeyAutoOnboard, Type: access.KeyBool, Default: "false"},
		str(KeyExtraRedirect, "", checkExtraParams),
	}
}

func checkEndpoint(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errs.New(errs.Invalid, "", "oidc_endpoint must be the provider's issuer URL (http(s)://host[/path]), got %q", v)
	}
	return nil
}

func checkScope(v string) error {
	if v != "" && !containsWord(splitScope(v), "openid") {
		return errs.New(errs.Invalid, "", "oidc_scope must include openid, got %q", v)
	}
	return nil
}

func checkExtraParams(v string) error {
	if v == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return errs.New(errs.Invalid, "", `oidc_extra_redirect_parms must be a JSON object of strings, e.g. {"prompt":"login"}`)
	}
	for k := range m {
		switch k {
		case "state", "nonce", "code_challenge", "code_challenge_method", "redirect_uri", "client_id", "response_type", "scope":
			return errs.New(errs.Invalid, "", "oidc_extra_redirect_parms must not set %s", k)
		}
	}
	return nil
}

func splitScope(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' })
}

func containsWord(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// Settings is the OIDC configuration in force.
type Settings struct {
	Name, Endpoint, ClientID, ClientSecret string
	Scopes                                 []string
	VerifyCert                             bool
	UserClaim, GroupsClaim, AdminGroup     string
	AutoOnboard                            bool
	ExtraParams                            map[string]string
}

// settings reads the configuration; Unavailable when OIDC is not set up.
func (rp *RP) settings(ctx context.Context) (Settings, error) {
	c, err := rp.acc.Configuration(ctx)
	if err != nil {
		return Settings{}, err
	}
	x := c.Extra
	s := Settings{
		Name: x[KeyName], Endpoint: strings.TrimSuffix(x[KeyEndpoint], "/"), ClientID: x[KeyClientID],
		ClientSecret: x[KeyClientSecret], Scopes: splitScope(x[KeyScope]),
		VerifyCert: x[KeyVerifyCert] != "false", UserClaim: x[KeyUserClaim], GroupsClaim: x[KeyGroupsClaim],
		AdminGroup: x[KeyAdminGroup], AutoOnboard: x[KeyAutoOnboard] == "true",
	}
	if len(s.Scopes) == 0 {
		s.Scopes = splitScope(DefaultScope)
	}
	if x[KeyExtraRedirect] != "" {
		_ = json.Unmarshal([]byte(x[KeyExtraRedirect]), &s.ExtraParams)
	}
	if c.AuthMode != access.AuthOIDC {
		return Settings{}, errs.New(errs.Conflict, "PRECONDITION", "OIDC sign-in is off: the auth mode is %s", c.AuthMode)
	}
	if s.Endpoint == "" || s.ClientID == "" {
		return Settings{}, errs.New(errs.Unavailable, "UNAVAILABLE", "OIDC is not configured: set %s and %s", KeyEndpoint, KeyClientID)
	}
	return s, nil
}

func (s Settings) String() string { return fmt.Sprintf("OIDC provider %s (%s)", s.Name, s.Endpoint) }
