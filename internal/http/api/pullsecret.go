package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/http/httputil"
)

// A Kubernetes image-pull secret for a robot account (berth's own, not
// Harbor's). A robot's secret is only known when it is made, so this
// endpoint refreshes it, exactly as PATCH /robots/{id} does and with the
// same permission, and answers with the kubernetes.io/dockerconfigjson
// Secret that carries the new one.

// pullSecretReqJSON is the optional body of POST /robots/{id}/pullsecret.
type pullSecretReqJSON struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Registry  string `json:"registry"`
}

// k8sSecretJSON is a core/v1 Secret as kubectl apply reads it.
type k8sSecretJSON struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   k8sMetaJSON       `json:"metadata"`
	Type       string            `json:"type"`
	Data       map[string]string `json:"data"`
}

type k8sMetaJSON struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// dockerConfigJSON is the content of .dockerconfigjson.
type dockerConfigJSON struct {
	Auths map[string]dockerAuthJSON `json:"auths"`
}

type dockerAuthJSON struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// dns1123 is a Kubernetes object or namespace name (RFC 1123 label).
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// dns1123Sub is a Kubernetes Secret name (RFC 1123 subdomain).
var dns1123Sub = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// registryHost is a host[:port] for the auths key.
var registryHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

func (h *Handler) routesPullSecret() {
	h.handle("POST /robots/{robot_id}/pullsecret", h.robotPullSecret)
}

// secretNameFor derives a Secret name from a robot name: robot$alpha+ci
// becomes robot-alpha-ci.
func secretNameFor(robot string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(robot) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if s == "" {
		s = "berth-pull-secret"
	}
	return s
}

func (h *Handler) robotPullSecret(w http.ResponseWriter, r *http.Request, p access.Principal) {
	if p.IsAnonymous() {
		h.fail(w, r, denied(p, "manage robot accounts"))
		return
	}
	id, err := pathInt(r, "robot_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var body pullSecretReqJSON
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.fail(w, r, errs.New(errs.TooLarge, "", "the request body is larger than %d bytes", maxBody))
		return
	}
	if len(bytes.TrimSpace(raw)) > 0 { // an empty body takes every default
		r.Body = io.NopCloser(bytes.NewReader(raw))
		if err := decode(w, r, &body); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if body.Namespace == "" {
		body.Namespace = "default"
	}
	if !dns1123.MatchString(body.Namespace) {
		h.fail(w, r, errs.New(errs.Invalid, "", "namespace %q is not a valid Kubernetes namespace", body.Namespace))
		return
	}
	if body.Name != "" && (len(body.Name) > 253 || !dns1123Sub.MatchString(body.Name)) {
		h.fail(w, r, errs.New(errs.Invalid, "", "name %q is not a valid Kubernetes Secret name", body.Name))
		return
	}
	host := body.Registry
	if host == "" {
		base := httputil.ExternalBase(r, h.sys.externalURL)
		host = base[strings.Index(base, "://")+3:]
		host, _, _ = strings.Cut(host, "/")
	} else if !registryHost.MatchString(host) {
		h.fail(w, r, errs.New(errs.Invalid, "", "registry %q is not a host[:port]", host))
		return
	}
	rb, err := h.acc.GetRobot(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	secret, err := h.acc.RefreshRobotSecret(r.Context(), p, auth.Source(r), id, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if body.Name == "" {
		body.Name = secretNameFor(rb.Name)
	}
	cfg, err := json.Marshal(dockerConfigJSON{Auths: map[string]dockerAuthJSON{host: {
		Username: rb.Name, Password: secret,
		Auth: base64.StdEncoding.EncodeToString([]byte(rb.Name + ":" + secret)),
	}}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, k8sSecretJSON{
		APIVersion: "v1", Kind: "Secret",
		Metadata: k8sMetaJSON{Name: body.Name, Namespace: body.Namespace},
		Type:     "kubernetes.io/dockerconfigjson",
		Data:     map[string]string{".dockerconfigjson": base64.StdEncoding.EncodeToString(cfg)},
	})
}
