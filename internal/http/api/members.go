package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /projects/{project}/members API. The rules are access's; these
// handlers only translate JSON.

// memberJSON is Harbor's ProjectMemberEntity.
type memberJSON struct {
	ID         int64  `json:"id"`
	ProjectID  int64  `json:"project_id"`
	EntityName string `json:"entity_name"`
	EntityType string `json:"entity_type"`
	EntityID   int64  `json:"entity_id"`
	RoleID     int    `json:"role_id"`
	RoleName   string `json:"role_name"`
}

func toMemberJSON(m meta.Member) memberJSON {
	return memberJSON{
		ID: m.ID, ProjectID: m.ProjectID, EntityName: m.EntityName, EntityType: m.EntityType,
		EntityID: m.EntityID, RoleID: m.RoleID, RoleName: access.RoleName(m.RoleID),
	}
}

// memberReqJSON is Harbor's ProjectMember.
type memberReqJSON struct {
	RoleID     int `json:"role_id"`
	MemberUser *struct {
		UserID   int64  `json:"user_id"`
		Username string `json:"username"`
	} `json:"member_user"`
	MemberGroup *struct {
		ID          int64  `json:"id"`
		GroupName   string `json:"group_name"`
		GroupType   int    `json:"group_type"`
		LdapGroupDN string `json:"ldap_group_dn"`
	} `json:"member_group"`
}

// roleReqJSON is Harbor's RoleRequest.
type roleReqJSON struct {
	RoleID *int `json:"role_id"`
}

func (h *Handler) routesMembers() {
	h.handleProject("GET /projects/{project}/members", h.listMembers)
	h.handleProject("POST /projects/{project}/members", h.addMember)
	h.handleProject("GET /projects/{project}/members/{mid}", h.getMember)
	h.handleProject("PUT /projects/{project}/members/{mid}", h.updateMember)
	h.handleProject("DELETE /projects/{project}/members/{mid}", h.removeMember)
}

func (h *Handler) listMembers(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	members, total, err := h.acc.ListMembers(r.Context(), p, ref, r.URL.Query().Get("entityname"), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]memberJSON, len(members))
	for i, m := range members {
		out[i] = toMemberJSON(m)
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	var body memberReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	spec := access.MemberSpec{RoleID: body.RoleID}
	switch {
	case body.MemberUser != nil:
		spec.UserID, spec.Username = body.MemberUser.UserID, body.MemberUser.Username
	case body.MemberGroup != nil:
		g := body.MemberGroup
		spec.Group, spec.GroupID, spec.GroupName, spec.GroupType, spec.GroupDN = true, g.ID, g.GroupName, g.GroupType, g.LdapGroupDN
	}
	m, err := h.acc.AddMember(r.Context(), p, auth.Source(r), ref, spec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Harbor's Location is the request's collection path and the new ID.
	created(w, strings.TrimSuffix(r.URL.Path, "/")+"/"+strconv.FormatInt(m.ID, 10), nil)
}

func (h *Handler) getMember(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	id, err := pathInt(r, "mid")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m, err := h.acc.GetMember(r.Context(), p, ref, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMemberJSON(m))
}

func (h *Handler) updateMember(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	id, err := pathInt(r, "mid")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body roleReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if body.RoleID == nil {
		h.fail(w, r, errs.New(errs.Invalid, "", "role_id is required"))
		return
	}
	if err := h.acc.UpdateMember(r.Context(), p, auth.Source(r), ref, id, *body.RoleID); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	id, err := pathInt(r, "mid")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.RemoveMember(r.Context(), p, auth.Source(r), ref, id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
