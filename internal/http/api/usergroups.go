package api

import (
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /usergroups API: groups from the identity provider that can
// be project members.

// userGroupJSON is Harbor's UserGroup.
type userGroupJSON struct {
	ID          int64  `json:"id"`
	GroupName   string `json:"group_name"`
	GroupType   int    `json:"group_type"`
	LdapGroupDN string `json:"ldap_group_dn"`
}

// userGroupSearchJSON is Harbor's UserGroupSearchItem.
type userGroupSearchJSON struct {
	ID        int64  `json:"id"`
	GroupName string `json:"group_name"`
	GroupType int    `json:"group_type"`
}

func toUserGroupJSON(g meta.UserGroup) userGroupJSON {
	return userGroupJSON{ID: g.ID, GroupName: g.Name, GroupType: g.Type, LdapGroupDN: g.LDAPDN}
}

func (h *Handler) routesUserGroups() {
	h.handle("GET /usergroups", h.listUserGroups)
	h.handle("POST /usergroups", h.createUserGroup)
	h.handle("GET /usergroups/search", h.searchUserGroups)
	h.handle("GET /usergroups/{group_id}", h.getUserGroup)
	h.handle("PUT /usergroups/{group_id}", h.updateUserGroup)
	h.handle("DELETE /usergroups/{group_id}", h.deleteUserGroup)
}

func (h *Handler) listUserGroups(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	groups, total, err := h.acc.ListUserGroups(r.Context(), p,
		access.GroupQuery{Name: q.Get("group_name"), LDAPDN: q.Get("ldap_group_dn")}, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userGroupJSON, len(groups))
	for i, g := range groups {
		out[i] = toUserGroupJSON(g)
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) searchUserGroups(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	groups, total, err := h.acc.SearchUserGroups(r.Context(), p, r.URL.Query().Get("groupname"), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userGroupSearchJSON, len(groups))
	for i, g := range groups {
		out[i] = userGroupSearchJSON{ID: g.ID, GroupName: g.Name, GroupType: g.Type}
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) createUserGroup(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var body userGroupJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	g, err := h.acc.CreateUserGroup(r.Context(), p, auth.Source(r), meta.UserGroup{
		Name: body.GroupName, Type: body.GroupType, LDAPDN: body.LdapGroupDN,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, Prefix+"/usergroups/"+strconv.FormatInt(g.ID, 10), nil)
}

func (h *Handler) getUserGroup(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "group_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	g, err := h.acc.GetUserGroup(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserGroupJSON(g))
}

func (h *Handler) updateUserGroup(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "group_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body userGroupJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.RenameUserGroup(r.Context(), p, auth.Source(r), id, body.GroupName); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) deleteUserGroup(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "group_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.DeleteUserGroup(r.Context(), p, auth.Source(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
