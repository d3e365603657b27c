package api

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/auth"
)

// OIDC users' CLI secrets: shown to their owner in /users/current as
// Harbor's oidc_user_meta, replaced with PUT /users/{id}/cli_secret
// (Harbor's), revoked with DELETE (berth's addition).

// oidcUserMetaJSON is Harbor's OIDCUserInfo.
type oidcUserMetaJSON struct {
	ID           int64     `json:"id"`
	UserID       int64     `json:"user_id"`
	Subiss       string    `json:"subiss"`
	Secret       string    `json:"secret"`
	CreationTime time.Time `json:"creation_time"`
	UpdateTime   time.Time `json:"update_time"`
}

// cliSecretJSON is Harbor's OIDCCliSecretReq.
type cliSecretJSON struct {
	Secret string `json:"secret"`
}

func (h *Handler) routesCLISecret() {
	h.handle("PUT /users/{user_id}/cli_secret", h.setCLISecret)
	h.handle("DELETE /users/{user_id}/cli_secret", h.revokeCLISecret)
}

// oidcUserMeta returns the caller's own OIDC record with its secret, nil
// for users who did not come from OIDC.
func (h *Handler) oidcUserMeta(r *http.Request, p access.Principal, userID int64) (*oidcUserMetaJSON, error) {
	secret, ident, ok, err := h.acc.UserCLISecret(r.Context(), p, userID)
	if err != nil || !ok {
		return nil, err
	}
	return &oidcUserMetaJSON{
		ID: ident.UserID, UserID: ident.UserID, Subiss: ident.Subject + ident.Issuer, Secret: secret,
		CreationTime: ident.CreatedAt.UTC(), UpdateTime: ident.UpdatedAt.UTC(),
	}, nil
}

func (h *Handler) setCLISecret(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body cliSecretJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	secret, err := h.acc.SetCLISecret(r.Context(), p, auth.Source(r), id, body.Secret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// Harbor answers 200 with no body; berth also returns the new secret
	// so that a generated one can be shown at once.
	writeJSON(w, http.StatusOK, cliSecretJSON{Secret: secret})
}

func (h *Handler) revokeCLISecret(w http.ResponseWriter, r *http.Request, p access.Principal) {
	id, err := pathInt(r, "user_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.RevokeCLISecret(r.Context(), p, auth.Source(r), id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
