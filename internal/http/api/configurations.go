package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/http/httputil"
)

// Harbor's /configurations API, for system administrators. GET shows
// each key as {value, editable}; PUT takes a flat {key: value} object of
// the keys to change. Keys that come from berth's configuration file
// (robot prefix, token lifetime) and those with a single possible value
// (auth mode) are shown with editable false; setting one to its current
// value is accepted, to anything else refused.

// configItem is Harbor's StringConfigItem, BoolConfigItem or
// IntegerConfigItem.
type configItem struct {
	Value    any  `json:"value"`
	Editable bool `json:"editable"`
}

// configFile names the configuration-file key behind a non-editable item.
var configFile = map[string]string{
	"token_expiration":  "auth.token_expiry",
	"robot_name_prefix": "auth.robot_prefix",
}

func (h *Handler) routesConfig() {
	h.handle("GET /configurations", h.getConfigurations)
	h.handle("PUT /configurations", h.updateConfigurations)
}

// configurations returns every key berth shows: the core ones and the
// identity providers' (access.ConfigKey), whose secret values are never
// shown.
func (h *Handler) configurations(c access.Configuration) map[string]configItem {
	items := map[string]configItem{
		"auth_mode":                    {c.AuthMode, true},
		"primary_auth_mode":            {false, false},
		"project_creation_restriction": {c.ProjectCreation, true},
		"self_registration":            {c.SelfRegistration, true},
		"read_only":                    {c.ReadOnly, true},
		"token_expiration":             {int64(h.acc.TokenTTL().Minutes()), false},
		"robot_token_duration":         {c.RobotTokenDuration, true},
		"robot_name_prefix":            {h.acc.RobotPrefix(), false},
		"notification_enable":          {false, false},
		"quota_per_project_enable":     {true, false},
		"storage_per_project":          {c.StoragePerProject, true},
		"banner_message":               {c.BannerMessage, true},
	}
	for _, k := range h.acc.ConfigKeys() {
		v := c.Extra[k.Name]
		switch {
		case k.Secret:
			continue // write-only, as Harbor's oidc_client_secret
		case k.Type == access.KeyBool:
			b, _ := strconv.ParseBool(v)
			items[k.Name] = configItem{b, true}
		case k.Type == access.KeyInt:
			n, _ := strconv.ParseInt(v, 10, 64)
			items[k.Name] = configItem{n, true}
		default:
			items[k.Name] = configItem{v, true}
		}
	}
	return items
}

func (h *Handler) getConfigurations(w http.ResponseWriter, r *http.Request, p access.Principal) {
	c, err := h.acc.GetConfiguration(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.configurations(c))
}

func (h *Handler) updateConfigurations(w http.ResponseWriter, r *http.Request, p access.Principal) {
	ctx := r.Context()
	// Read the current values first: that is also the permission check,
	// which comes before anything about the body is said.
	cur, err := h.acc.GetConfiguration(ctx, p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body map[string]json.RawMessage
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	shown := h.configurations(cur)
	var u access.ConfigurationUpdate
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first bad key named is always the same
	for _, k := range keys {
		raw := body[k]
		if string(raw) == "null" {
			continue
		}
		if h.isProviderKey(k) {
			if err := h.setConfig(&u, k, raw); err != nil {
				h.fail(w, r, err)
				return
			}
			continue
		}
		item, known := shown[k]
		if !known {
			h.fail(w, r, unknownConfig(k))
			return
		}
		if !item.Editable {
			same, err := sameValue(item.Value, raw)
			if err != nil {
				h.fail(w, r, errs.New(errs.Invalid, "", "%s: %v", k, err))
				return
			}
			if same {
				continue
			}
			msg := fmt.Sprintf("%s cannot be changed in berth", k)
			if f, ok := configFile[k]; ok {
				msg = fmt.Sprintf("%s comes from berth's configuration file (%s) and cannot be changed through the API", k, f)
			}
			h.fail(w, r, errs.New(errs.Invalid, "", "%s", msg))
			return
		}
		if err := h.setConfig(&u, k, raw); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if err := h.acc.UpdateConfiguration(ctx, p, auth.Source(r), u); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func unknownConfig(k string) error {
	for _, prefix := range []string{"ldap_", "oidc_", "uaa_", "http_authproxy_"} {
		if strings.HasPrefix(k, prefix) {
			return errs.New(errs.Invalid, "", "%s: this berth does not support that identity provider setting", truncate(k))
		}
	}
	return errs.New(errs.Invalid, "", "unknown or unsupported configuration key %q", truncate(k))
}

func (h *Handler) isProviderKey(k string) bool {
	for _, key := range h.acc.ConfigKeys() {
		if key.Name == k {
			return true
		}
	}
	return false
}

// setConfig reads one editable value into u.
func (h *Handler) setConfig(u *access.ConfigurationUpdate, k string, raw json.RawMessage) error {
	for _, key := range h.acc.ConfigKeys() {
		if key.Name != k {
			continue
		}
		var v string
		switch key.Type {
		case access.KeyBool:
			b, err := jsonBool(k, raw)
			if err != nil {
				return err
			}
			v = strconv.FormatBool(b)
		case access.KeyInt:
			n, err := jsonInt(k, raw)
			if err != nil {
				return err
			}
			v = strconv.FormatInt(n, 10)
		default:
			s, err := jsonString(k, raw)
			if err != nil {
				return err
			}
			v = s
		}
		if u.Extra == nil {
			u.Extra = map[string]string{}
		}
		u.Extra[k] = v
		return nil
	}
	switch k {
	case "auth_mode":
		s, err := jsonString(k, raw)
		u.AuthMode = &s
		return err
	case "self_registration":
		b, err := jsonBool(k, raw)
		u.SelfRegistration = &b
		return err
	case "read_only":
		b, err := jsonBool(k, raw)
		u.ReadOnly = &b
		return err
	case "project_creation_restriction":
		s, err := jsonString(k, raw)
		u.ProjectCreation = &s
		return err
	case "banner_message":
		s, err := jsonString(k, raw)
		u.BannerMessage = &s
		return err
	case "storage_per_project":
		n, err := jsonInt(k, raw)
		u.StoragePerProject = &n
		return err
	case "robot_token_duration":
		n, err := jsonInt(k, raw)
		u.RobotTokenDuration = &n
		return err
	}
	return unknownConfig(k)
}

// Values may come as JSON of their type or, as some clients send them, as
// strings.

func jsonBool(k string, raw json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, errs.New(errs.Invalid, "", "%s must be true or false, got %s", k, truncate(string(raw)))
}

func jsonInt(k string, raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if v, err := n.Int64(); err == nil {
			return v, nil
		}
	}
	return 0, errs.New(errs.Invalid, "", "%s must be an integer, got %s", k, truncate(string(raw)))
}

func jsonString(k string, raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errs.New(errs.Invalid, "", "%s must be a string, got %s", k, truncate(string(raw)))
	}
	return s, nil
}

// sameValue reports whether raw says the same as cur.
func sameValue(cur any, raw json.RawMessage) (bool, error) {
	switch v := cur.(type) {
	case bool:
		b, err := jsonBool("the value", raw)
		return b == v, err
	case int64:
		n, err := jsonInt("the value", raw)
		return n == v, err
	case string:
		s, err := jsonString("the value", raw)
		return s == v, err
	}
	return false, nil
}

// OIDCRedirectURL is the OIDC redirect (callback) URL of this registry:
// the external base URL and /c/oidc/callback.
func OIDCRedirectURL(r *http.Request, externalURL string) string {
	return httputil.ExternalBase(r, externalURL) + "/c/oidc/callback"
}
