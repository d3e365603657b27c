package api

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/http/httputil"
	"github.com/berth-registry/berth/internal/pullsecret"
)

// A Kubernetes image-pull secret for a robot account (berth's own, not
// Harbor's). A robot's secret is only known when it is made, so this
// endpoint refreshes it, exactly as PATCH /robots/{id} does and with the
// same permission, and answers with the kubernetes.io/dockerconfigjson
// Secret that carries the new one: as JSON (the default), as YAML
// (?format=yaml) or as the kubectl command that makes it (?format=kubectl).

// pullSecretReqJSON is the optional body of POST /robots/{id}/pullsecret.
type pullSecretReqJSON struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Registry  string `json:"registry"`
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
	format := r.URL.Query().Get("format")
	switch format {
	case "", "json", "yaml", "kubectl":
	default:
		h.fail(w, r, errs.New(errs.Invalid, "", "format %q is not json, yaml or kubectl", truncate(format)))
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
		h.fail(w, r, errs.New(errs.Invalid, "", "namespace %q is not a valid Kubernetes namespace", truncate(body.Namespace)))
		return
	}
	if body.Name != "" && (len(body.Name) > 253 || !dns1123Sub.MatchString(body.Name)) {
		h.fail(w, r, errs.New(errs.Invalid, "", "name %q is not a valid Kubernetes Secret name", truncate(body.Name)))
		return
	}
	host := body.Registry
	if host == "" {
		base := httputil.ExternalBase(r, h.sys.externalURL)
		host = base[strings.Index(base, "://")+3:]
		host, _, _ = strings.Cut(host, "/")
	} else if !registryHost.MatchString(host) {
		h.fail(w, r, errs.New(errs.Invalid, "", "registry %q is not a host[:port]", truncate(host)))
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
	sec := pullsecret.Secret{Name: body.Name, Namespace: body.Namespace, Server: host, Username: rb.Name, Password: secret}
	var out []byte
	switch format {
	case "yaml":
		w.Header().Set("Content-Type", "application/yaml")
		out = sec.YAML()
	case "kubectl":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		out = []byte(sec.Kubectl())
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		out = sec.JSON()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
