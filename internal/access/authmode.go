package access

import (
	"context"
	"fmt"
	"strconv"

	"github.com/berth-registry/berth/internal/errs"
)

// Authentication modes (Harbor's auth_mode). In every mode the first
// administrator (user id 1) signs in with its database password, so the
// registry can always be reached; other users sign in the mode's way:
// db_auth with their password, oidc_auth through the provider (and their
// CLI secret on the command line), ldap_auth with their directory
// password.
const (
	AuthDB   = "db_auth"
	AuthOIDC = "oidc_auth"
	AuthLDAP = "ldap_auth"
)

const confAuthMode = "config.auth_mode"

func checkAuthMode(v string) error {
	switch v {
	case AuthDB, AuthOIDC, AuthLDAP:
		return nil
	}
	return errs.New(errs.Invalid, "", "auth_mode must be %q, %q or %q, got %q", AuthDB, AuthOIDC, AuthLDAP, clip(v))
}

// AuthMode returns the current authentication mode; db_auth when the
// configuration cannot be read, which only the admin can use anyway.
func (s *Service) AuthMode(ctx context.Context) string {
	return s.currentConfiguration().AuthMode
}

// checkAuthModeChange refuses to change the mode once users other than
// the first administrator exist: their accounts belong to one mode.
func (s *Service) checkAuthModeChange(ctx context.Context, cur, next string) error {
	if err := checkAuthMode(next); err != nil || cur == next {
		return err
	}
	n, err := s.db.Q().CountUsers(ctx, adminUserID)
	if err != nil {
		return err
	}
	if n > 0 {
		return errs.New(errs.Invalid, "", "auth_mode cannot be changed from %s to %s: %d users other than the admin exist", cur, next, n)
	}
	return nil
}

// ConfigKey is a run-time configuration key of an identity provider
// (oidc_*, ldap_*), shown and set through /configurations like the core
// keys and stored as text in the settings table. The package that uses
// the keys declares them and passes them to New with WithConfigKeys.
type ConfigKey struct {
	Name    string // Harbor's key, e.g. "ldap_url"
	Type    string // "string", "bool" or "int": how the API shows and reads it
	Default string
	// Secret keys are write-only: GET shows them empty, and the value is
	// sealed at rest.
	Secret bool
	// Check validates a new value (after type parsing); nil accepts any.
	Check func(v string) error
}

// Config key types.
const (
	KeyString = "string"
	KeyBool   = "bool"
	KeyInt    = "int"
)

// WithConfigKeys adds provider configuration keys.
func WithConfigKeys(keys ...ConfigKey) Option {
	return func(s *Service) { s.extraKeys = append(s.extraKeys, keys...) }
}

// ConfigKeys lists the provider configuration keys in the order given.
func (s *Service) ConfigKeys() []ConfigKey { return s.extraKeys }

func (s *Service) configKey(name string) (ConfigKey, bool) {
	for _, k := range s.extraKeys {
		if k.Name == name {
			return k, true
		}
	}
	return ConfigKey{}, false
}

func extraSetting(name string) string { return "config." + name }

// ConfigValue returns the current value of a provider configuration key
// (secret ones unsealed), or its default when never set.
func (s *Service) ConfigValue(ctx context.Context, name string) (string, error) {
	c, err := s.Configuration(ctx)
	if err != nil {
		return "", err
	}
	v, ok := c.Extra[name]
	if !ok {
		return "", fmt.Errorf("unknown configuration key %s", name)
	}
	return v, nil
}

// ConfigBool is ConfigValue read as a boolean (false when unset or bad).
func (s *Service) ConfigBool(ctx context.Context, name string) (bool, error) {
	v, err := s.ConfigValue(ctx, name)
	if err != nil {
		return false, err
	}
	b, _ := strconv.ParseBool(v)
	return b, nil
}

// checkExtra validates one provider key's new value.
func (s *Service) checkExtra(name, v string) error {
	k, ok := s.configKey(name)
	if !ok {
		return errs.New(errs.Invalid, "", "unknown or unsupported configuration key %q", clip(name))
	}
	if err := checkText(name, v); err != nil {
		return err
	}
	if len(v) > 8192 {
		return errs.New(errs.Invalid, "", "%s is longer than 8192 bytes", name)
	}
	switch k.Type {
	case KeyBool:
		if _, err := strconv.ParseBool(v); err != nil {
			return errs.New(errs.Invalid, "", "%s must be true or false, got %q", name, clip(v))
		}
	case KeyInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errs.New(errs.Invalid, "", "%s must be an integer, got %q", name, clip(v))
		}
	}
	if k.Check != nil {
		return k.Check(v)
	}
	return nil
}
