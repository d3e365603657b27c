package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/version"
)

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (h *Handler) routesMisc() {
	h.handle("GET /ping", func(w http.ResponseWriter, r *http.Request, _ access.Principal) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(`"Pong"`))
	})
	h.handle("GET /systeminfo", h.systemInfo)
}

func (h *Handler) systemInfo(w http.ResponseWriter, r *http.Request, p access.Principal) {
	info := map[string]any{
		"auth_mode":          "db_auth",
		"primary_auth_mode":  false,
		"self_registration":  false,
		"banner_message":     "",
		"oidc_provider_name": "",
	}
	if !p.IsAnonymous() {
		info["harbor_version"] = version.Version
		info["project_creation_restriction"] = h.acc.ProjectCreation()
		info["read_only"] = false
		info["registry_storage_provider_name"] = "filesystem"
		info["notification_enable"] = false
		info["current_time"] = h.acc.Now().UTC()
	}
	writeJSON(w, http.StatusOK, info)
}
