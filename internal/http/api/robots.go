package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
)

// Harbor's /robots API. The rules (levels, permissions, who may grant
// what, secrets) are access's; these handlers only translate JSON.

// robotJSON is Harbor's Robot definition. secret is always "": a secret is
// shown only by create and refresh.
type robotJSON struct {
	ID           int64                    `json:"id"`
	Name         string                   `json:"name"`
	Description  string                   `json:"description"`
	Secret       string                   `json:"secret"`
	Level        string                   `json:"level"`
	Duration     int64                    `json:"duration"`
	Editable     bool                     `json:"editable"`
	Disable      bool                     `json:"disable"`
	ExpiresAt    int64                    `json:"expires_at"`
	Permissions  []access.RobotPermission `json:"permissions"`
	CreatorType  string                   `json:"creator_type"`
	CreatorRef   int64                    `json:"creator_ref"`
	CreationTime time.Time                `json:"creation_time"`
	UpdateTime   time.Time                `json:"update_time"`
}

func toRobotJSON(r access.RobotAccount) robotJSON {
	return robotJSON{
		ID: r.ID, Name: r.Name, Description: r.Description, Level: r.Level, Duration: r.Duration,
		Editable: true, Disable: r.Disabled, ExpiresAt: r.ExpiresAt, Permissions: r.Permissions,
		CreatorType: r.CreatorType, CreatorRef: r.CreatorRef,
		CreationTime: r.CreatedAt.UTC(), UpdateTime: r.UpdatedAt.UTC(),
	}
}

// robotCreateJSON is Harbor's RobotCreate.
type robotCreateJSON struct {
	Name        string                   `json:"name"`
	Description string                   `json:"description"`
	Level       string                   `json:"level"`
	Duration    *int64                   `json:"duration"`
	Disable     bool                     `json:"disable"`
	Permissions []access.RobotPermission `json:"permissions"`
	Secret      string                   `json:"secret"`
}

// robotCreatedJSON is Harbor's RobotCreated.
type robotCreatedJSON struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Secret       string    `json:"secret"`
	CreationTime time.Time `json:"creation_time"`
	ExpiresAt    int64     `json:"expires_at"`
}

// robotUpdateJSON is Harbor's Robot as clients send it back on PUT: the
// read-only fields are accepted (clients echo what they read) and
// ignored; name and level may not change.
type robotUpdateJSON struct {
	Name         string                   `json:"name"`
	Description  string                   `json:"description"`
	Level        string                   `json:"level"`
	Duration     *int64                   `json:"duration"`
	Disable      bool                     `json:"disable"`
	Permissions  []access.RobotPermission `json:"permissions"`
	ID           json.RawMessage          `json:"id"`
	Secret       json.RawMessage          `json:"secret"`
	Editable     json.RawMessage          `json:"editable"`
	ExpiresAt    json.RawMessage          `json:"expires_at"`
	CreatorType  json.RawMessage          `json:"creator_type"`
	CreatorRef   json.RawMessage          `json:"creator_ref"`
	CreationTime json.RawMessage          `json:"creation_time"`
	UpdateTime   json.RawMessage          `json:"update_time"`
}

// robotSecJSON is Harbor's RobotSec.
type robotSecJSON struct {
	Secret string `json:"secret"`
}

func (h *Handler) routesRobots() {
	h.handle("GET /robots", h.listRobots)
	h.handle("POST /robots", h.createRobot)
	h.handle("GET /robots/{robot_id}", h.getRobot)
	h.handle("PUT /robots/{robot_id}", h.updateRobot)
	h.handle("PATCH /robots/{robot_id}", h.refreshRobot)
	h.handle("DELETE /robots/{robot_id}", h.deleteRobot)
}

func (h *Handler) listRobots(w http.ResponseWriter, r *http.Request, p access.Principal) {
	o, err := listOptions(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	robots, total, err := h.acc.ListRobots(r.Context(), p, o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]robotJSON, len(robots))
	for i, rb := range robots {
		out[i] = toRobotJSON(rb)
	}
	writePage(w, r, o, total, out)
}

func (h *Handler) createRobot(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if p.IsAnonymous() {
		h.fail(w, r, denied(p, "manage robot accounts"))
		return
	}
	var body robotCreateJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	rb, secret, err := h.acc.CreateRobot(r.Context(), p, auth.Source(r), access.RobotSpec{
		Name: body.Name, Description: body.Description, Level: body.Level, Duration: body.Duration,
		Disable: body.Disable, Permissions: body.Permissions, Secret: body.Secret,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	created(w, Prefix+"/robots/"+strconv.FormatInt(rb.ID, 10), robotCreatedJSON{
		ID: rb.ID, Name: rb.Name, Secret: secret, CreationTime: rb.CreatedAt.UTC(), ExpiresAt: rb.ExpiresAt,
	})
}

func (h *Handler) getRobot(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "robot_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rb, err := h.acc.GetRobot(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRobotJSON(rb))
}

func (h *Handler) updateRobot(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if p.IsAnonymous() {
		h.fail(w, r, denied(p, "manage robot accounts"))
		return
	}
	id, err := pathInt(r, "robot_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body robotUpdateJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	_, err = h.acc.UpdateRobot(r.Context(), p, auth.Source(r), id, access.RobotSpec{
		Name: body.Name, Description: body.Description, Level: body.Level, Duration: body.Duration,
		Disable: body.Disable, Permissions: body.Permissions,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}

// refreshRobot is PATCH /robots/{id}: an empty body or secret asks for a
// generated secret, which is returned; a supplied one is not echoed.
func (h *Handler) refreshRobot(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if p.IsAnonymous() {
		h.fail(w, r, denied(p, "manage robot accounts"))
		return
	}
	id, err := pathInt(r, "robot_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = errs.New(errs.TooLarge, "", "the request body is larger than %d bytes", maxBody)
		} else {
			err = errs.New(errs.Invalid, "", "could not read the request body")
		}
		h.fail(w, r, err)
		return
	}
	var body robotSecJSON
	if len(bytes.TrimSpace(raw)) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(raw))
		if err := decode(w, r, &body); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	secret, err := h.acc.RefreshRobotSecret(r.Context(), p, auth.Source(r), id, body.Secret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, robotSecJSON{Secret: secret})
}

func (h *Handler) deleteRobot(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if p.IsAnonymous() {
		h.fail(w, r, denied(p, "manage robot accounts"))
		return
	}
	id, err := pathInt(r, "robot_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.DeleteRobot(r.Context(), p, auth.Source(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
