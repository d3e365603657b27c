package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/ldapauth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /ldap endpoints, for system administrators: test an LDAP
// configuration, search the directory's users and groups, and import
// users ahead of their first login. The directory work is ldapauth's.

// ldapDirectory is what the handlers need of ldapauth.Provider.
type ldapDirectory interface {
	Ping(ctx context.Context, p access.Principal, override map[string]string) (ldapauth.PingResult, error)
	SearchUsers(ctx context.Context, p access.Principal, username string) ([]ldapauth.User, error)
	ImportUsers(ctx context.Context, p access.Principal, uids []string) ([]ldapauth.FailedImport, error)
	SearchGroups(ctx context.Context, p access.Principal, name, dn string) ([]meta.UserGroup, error)
}

// WithLDAP serves /ldap/* from d; without it they answer 404.
func WithLDAP(d ldapDirectory) Option { return func(s *system) { s.ldap = d } }

func (h *Handler) routesLDAP() {
	h.handle("POST /ldap/ping", h.pingLDAP)
	h.handle("GET /ldap/users/search", h.searchLDAPUsers)
	h.handle("POST /ldap/users/import", h.importLDAPUsers)
	h.handle("GET /ldap/groups/search", h.searchLDAPGroups)
}

// ldapJSON is Harbor's LdapUser.
type ldapUserJSON struct {
	Username string `json:"username"`
	Realname string `json:"realname"`
	Email    string `json:"email"`
}

// ldapFailedJSON is Harbor's LdapFailedImportUser.
type ldapFailedJSON struct {
	UID   string `json:"uid"`
	Error string `json:"error"`
}

// ldapDir returns the directory, or an error when berth runs without one.
func (h *Handler) ldapDir() (ldapDirectory, error) {
	if h.sys.ldap == nil {
		return nil, errs.New(errs.NotFound, "NOT_FOUND", "LDAP is not available in this berth")
	}
	return h.sys.ldap, nil
}

// pingLDAP is POST /ldap/ping with an optional Harbor LdapConf: its keys
// override the stored configuration for this test only.
func (h *Handler) pingLDAP(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, err := h.ldapDir()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The permission check comes before anything about the body is said.
	if !p.SysAdmin {
		h.fail(w, r, denied(p, "test the LDAP configuration"))
		return
	}
	override, err := decodeLDAPConf(w, r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := d.Ping(r.Context(), p, override)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": res.Success, "message": res.Message})
}

// ldapConfKeys are the fields of Harbor's LdapConf and berth's own TLS
// keys, with the type each must have; ldap_connection_timeout is
// LdapConf's name for ldap_timeout.
var ldapConfKeys = map[string]string{
	ldapauth.KeyURL: access.KeyString, ldapauth.KeySearchDN: access.KeyString,
	ldapauth.KeySearchPassword: access.KeyString, ldapauth.KeyBaseDN: access.KeyString,
	ldapauth.KeyFilter: access.KeyString, ldapauth.KeyUID: access.KeyString,
	ldapauth.KeyScope: access.KeyInt, "ldap_connection_timeout": access.KeyInt,
	ldapauth.KeyVerifyCert: access.KeyBool, ldapauth.KeyStartTLS: access.KeyBool,
	ldapauth.KeyCACert: access.KeyString,
}

// decodeLDAPConf reads an optional LdapConf body into key values; an
// empty body is no override.
func decodeLDAPConf(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errs.New(errs.TooLarge, "", "the request body is larger than %d bytes", maxBody)
		}
		return nil, errs.Invalidf("read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, errs.Invalidf("invalid JSON body: %v", err)
	}
	out := map[string]string{}
	for k, v := range raw {
		typ, known := ldapConfKeys[k]
		if !known {
			return nil, errs.Invalidf("unknown LdapConf field %q", truncate(k))
		}
		if string(v) == "null" {
			continue
		}
		var s string
		switch typ {
		case access.KeyBool:
			x, err := jsonBool(k, v)
			if err != nil {
				return nil, err
			}
			s = strconv.FormatBool(x)
		case access.KeyInt:
			x, err := jsonInt(k, v)
			if err != nil {
				return nil, err
			}
			s = strconv.FormatInt(x, 10)
		default:
			if s, err = jsonString(k, v); err != nil {
				return nil, err
			}
		}
		if k == "ldap_connection_timeout" {
			k = ldapauth.KeyTimeout
		}
		out[k] = s
	}
	return out, nil
}

// searchLDAPUsers is GET /ldap/users/search?username=…: an exact match on
// the user name attribute, or every user when username is empty.
func (h *Handler) searchLDAPUsers(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, err := h.ldapDir()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	users, err := d.SearchUsers(r.Context(), p, strings.TrimSpace(r.URL.Query().Get("username")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]ldapUserJSON, len(users))
	for i, u := range users {
		out[i] = ldapUserJSON{Username: u.Username, Realname: u.Realname, Email: u.Email}
	}
	writeJSON(w, http.StatusOK, out)
}

// importLDAPUsers is POST /ldap/users/import {"ldap_uid_list": […]}:
// 200 when every user was imported, else 404 with those that were not.
func (h *Handler) importLDAPUsers(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, err := h.ldapDir()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !p.SysAdmin {
		h.fail(w, r, denied(p, "import LDAP users"))
		return
	}
	var body struct {
		UIDs []string `json:"ldap_uid_list"`
	}
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	failed, err := d.ImportUsers(r.Context(), p, body.UIDs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(failed) == 0 {
		ok(w)
		return
	}
	out := make([]ldapFailedJSON, len(failed))
	for i, f := range failed {
		out[i] = ldapFailedJSON{UID: f.UID, Error: f.Error}
	}
	writeJSON(w, http.StatusNotFound, out)
}

// searchLDAPGroups is GET /ldap/groups/search?groupname=…&groupdn=….
func (h *Handler) searchLDAPGroups(w http.ResponseWriter, r *http.Request, p access.Principal) {
	d, err := h.ldapDir()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	groups, err := d.SearchGroups(r.Context(), p, strings.TrimSpace(q.Get("groupname")), strings.TrimSpace(q.Get("groupdn")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userGroupJSON, len(groups))
	for i, g := range groups {
		out[i] = toUserGroupJSON(g)
	}
	writeJSON(w, http.StatusOK, out)
}
