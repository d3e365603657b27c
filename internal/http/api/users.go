package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// Harbor's /users API. The rules are access's; these handlers only
// translate JSON.

// userJSON is Harbor's UserResp. It has no field for the password hash.
type userJSON struct {
	UserID          int64     `json:"user_id"`
	Username        string    `json:"username"`
	Email           string    `json:"email"`
	Realname        string    `json:"realname"`
	Comment         string    `json:"comment"`
	SysadminFlag    bool      `json:"sysadmin_flag"`
	AdminRoleInAuth bool      `json:"admin_role_in_auth"`
	CreationTime    time.Time `json:"creation_time"`
	UpdateTime      time.Time `json:"update_time"`
	// OIDCUserMeta is the caller's own OIDC record with its CLI secret
	// (GET /users/current of an OIDC user only).
	OIDCUserMeta *oidcUserMetaJSON `json:"oidc_user_meta,omitempty"`
}

func toUserJSON(u meta.User) userJSON {
	return userJSON{
		UserID: u.ID, Username: u.Username, Email: u.Email, Realname: u.Realname, Comment: u.Comment,
		SysadminFlag: u.SysAdmin, CreationTime: u.CreatedAt.UTC(), UpdateTime: u.UpdatedAt.UTC(),
	}
}

// userCreateJSON is Harbor's UserCreationReq.
type userCreateJSON struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Realname string `json:"realname"`
	Password string `json:"password"`
	Comment  string `json:"comment"`
}

// userProfileJSON is Harbor's UserProfile.
type userProfileJSON struct {
	Email    *string `json:"email"`
	Realname *string `json:"realname"`
	Comment  *string `json:"comment"`
}

// passwordJSON is Harbor's PasswordReq.
type passwordJSON struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// sysAdminJSON is Harbor's UserSysAdminFlag.
type sysAdminJSON struct {
	SysadminFlag *bool `json:"sysadmin_flag"`
}

// userSearchJSON is Harbor's UserSearchRespItem.
type userSearchJSON struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
}

// permissionJSON is Harbor's Permission.
type permissionJSON struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
}

func (h *Handler) routesUsers() {
	h.handle("GET /users", h.listUsers)
	h.handle("POST /users", h.createUser)
	h.handle("GET /users/current", h.currentUser)
	h.handle("GET /users/current/permissions", h.currentPermissions)
	h.handle("GET /users/search", h.searchUsers)
	h.handle("GET /users/{user_id}", h.getUser)
	h.handle("PUT /users/{user_id}", h.updateUser)
	h.handle("DELETE /users/{user_id}", h.deleteUser)
	h.handle("PUT /users/{user_id}/sysadmin", h.setSysAdmin)
	h.handle("PUT /users/{user_id}/password", h.changePassword)
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	users, total, err := h.acc.ListUsers(r.Context(), p, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userJSON, len(users))
	for i, u := range users {
		out[i] = toUserJSON(u)
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, p access.Principal) {
	var body userCreateJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.acc.CreateUser(r.Context(), p, auth.Source(r), access.NewUser{
		Username: body.Username, Email: body.Email, Realname: body.Realname, Comment: body.Comment, Password: body.Password,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, Prefix+"/users/"+strconv.FormatInt(u.ID, 10), nil)
}

func (h *Handler) currentUser(w http.ResponseWriter, r *http.Request, p access.Principal) {
	u, err := h.acc.CurrentUser(r.Context(), p)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := toUserJSON(u)
	if out.OIDCUserMeta, err = h.oidcUserMeta(r, p, u.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) currentPermissions(w http.ResponseWriter, r *http.Request, p access.Principal) {
	relative, err := queryBool(r, "relative")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	perms, err := h.acc.Permissions(r.Context(), p, r.URL.Query().Get("scope"), relative != nil && *relative)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]permissionJSON, len(perms))
	for i, perm := range perms {
		out[i] = permissionJSON{Resource: perm.Resource, Action: perm.Action}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	users, total, err := h.acc.SearchUsers(r.Context(), p, r.URL.Query().Get("username"), o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]userSearchJSON, len(users))
	for i, u := range users {
		out[i] = userSearchJSON{UserID: u.ID, Username: u.Username}
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.acc.GetUser(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body userProfileJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	_, err = h.acc.UpdateUserProfile(r.Context(), p, auth.Source(r), id, access.UserProfile{
		Email: body.Email, Realname: body.Realname, Comment: body.Comment,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.DeleteUser(r.Context(), p, auth.Source(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) setSysAdmin(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body sysAdminJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if body.SysadminFlag == nil {
		h.fail(w, r, errs.New(errs.Invalid, "", "sysadmin_flag is required"))
		return
	}
	if err := h.acc.SetSysAdmin(r.Context(), p, auth.Source(r), id, *body.SysadminFlag); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body passwordJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.ChangePassword(r.Context(), p, auth.Source(r), id, body.OldPassword, body.NewPassword); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

// queryBool reads an optional boolean query parameter.
func queryBool(r *http.Request, name string) (*bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, errs.New(errs.Invalid, "", "%s must be true or false, got %q", name, truncate(s))
	}
	return &b, nil
}
