package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/httputil"
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

// generalInfoJSON is Harbor's GeneralInfo. Anonymous callers get the
// first five fields only.
type generalInfoJSON struct {
	AuthMode                    string     `json:"auth_mode"`
	PrimaryAuthMode             bool       `json:"primary_auth_mode"`
	SelfRegistration            bool       `json:"self_registration"`
	BannerMessage               string     `json:"banner_message"`
	OIDCProviderName            string     `json:"oidc_provider_name"`
	HarborVersion               *string    `json:"harbor_version,omitempty"`
	ExternalURL                 *string    `json:"external_url,omitempty"`
	RegistryURL                 *string    `json:"registry_url,omitempty"`
	HasCARoot                   *bool      `json:"has_ca_root,omitempty"`
	ReadOnly                    *bool      `json:"read_only,omitempty"`
	ProjectCreationRestriction  *string    `json:"project_creation_restriction,omitempty"`
	RegistryStorageProviderName *string    `json:"registry_storage_provider_name,omitempty"`
	NotificationEnable          *bool      `json:"notification_enable,omitempty"`
	CurrentTime                 *time.Time `json:"current_time,omitempty"`
}

func (h *Handler) systemInfo(w http.ResponseWriter, r *http.Request, p access.Principal) {
	conf, err := h.acc.Configuration(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	info := generalInfoJSON{
		AuthMode:         conf.AuthMode,
		SelfRegistration: conf.SelfRegistration && conf.AuthMode == access.AuthDB,
		BannerMessage:    conf.BannerMessage,
	}
	if conf.AuthMode == access.AuthOIDC {
		info.OIDCProviderName = conf.Extra["oidc_name"]
	}
	if !p.IsAnonymous() {
		external := httputil.ExternalBase(r, h.sys.externalURL)
		_, host, _ := strings.Cut(external, "://")
		now, v := h.acc.Now().UTC(), version.Version
		info.HarborVersion = &v
		info.ExternalURL = &external
		info.RegistryURL = &host
		info.HasCARoot = &h.sys.hasCARoot
		info.ReadOnly = &conf.ReadOnly
		info.ProjectCreationRestriction = &conf.ProjectCreation
		info.RegistryStorageProviderName = &h.sys.storageName
		info.NotificationEnable = new(bool)
		info.CurrentTime = &now
	}
	writeJSON(w, http.StatusOK, info)
}
