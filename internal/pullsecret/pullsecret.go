// Package pullsecret renders a Kubernetes image-pull Secret (type
// kubernetes.io/dockerconfigjson) for registry credentials, in the three
// forms people paste: the Secret as JSON, as YAML, and as the `kubectl
// create secret docker-registry` command. The API answers with one of
// them; the CLI reads the JSON and prints the others. It does no I/O.
package pullsecret

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Secret is what an image-pull Secret says.
type Secret struct {
	Name      string // the Secret's name
	Namespace string
	Server    string // registry host[:port], the key of "auths"
	Username  string
	Password  string
}

// manifest is a core/v1 Secret as kubectl apply reads it.
type manifest struct {
	APIVersion string            `json:"apiVersion" yaml:"apiVersion"`
	Kind       string            `json:"kind" yaml:"kind"`
	Metadata   metadata          `json:"metadata" yaml:"metadata"`
	Type       string            `json:"type" yaml:"type"`
	Data       map[string]string `json:"data" yaml:"data"`
}

type metadata struct {
	Name      string `json:"name" yaml:"name"`
	Namespace string `json:"namespace" yaml:"namespace"`
}

type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// Type is the Secret type of image-pull Secrets.
const Type = "kubernetes.io/dockerconfigjson"

const dataKey = ".dockerconfigjson"

func (s Secret) manifest() manifest {
	cfg, _ := json.Marshal(dockerConfig{Auths: map[string]dockerAuth{s.Server: {
		Username: s.Username, Password: s.Password,
		Auth: base64.StdEncoding.EncodeToString([]byte(s.Username + ":" + s.Password)),
	}}}) // strings only: cannot fail
	return manifest{
		APIVersion: "v1", Kind: "Secret", Type: Type,
		Metadata: metadata{Name: s.Name, Namespace: s.Namespace},
		Data:     map[string]string{dataKey: base64.StdEncoding.EncodeToString(cfg)},
	}
}

// JSON is the Secret manifest as JSON.
func (s Secret) JSON() []byte {
	b, _ := json.Marshal(s.manifest())
	return b
}

// YAML is the Secret manifest as YAML.
func (s Secret) YAML() []byte {
	b, _ := yaml.Marshal(s.manifest())
	return b
}

// Kubectl is the command that creates the same Secret, its values quoted
// for a POSIX shell (robot names hold '$').
func (s Secret) Kubectl() string {
	return fmt.Sprintf("kubectl create secret docker-registry %s --namespace %s --docker-server=%s --docker-username=%s --docker-password=%s\n",
		shellQuote(s.Name), shellQuote(s.Namespace), shellQuote(s.Server), shellQuote(s.Username), shellQuote(s.Password))
}

// shellQuote single-quotes v unless it is made only of characters no
// shell treats specially.
func shellQuote(v string) string {
	safe := v != ""
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:/@%+=,", c)) {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// Parse reads a Secret manifest in JSON (as JSON renders it) back.
func Parse(b []byte) (Secret, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Secret{}, fmt.Errorf("not a Secret: %w", err)
	}
	if m.Kind != "Secret" || m.Type != Type {
		return Secret{}, fmt.Errorf("not an image-pull Secret (kind %q, type %q)", m.Kind, m.Type)
	}
	raw, err := base64.StdEncoding.DecodeString(m.Data[dataKey])
	if err != nil {
		return Secret{}, fmt.Errorf("%s: %w", dataKey, err)
	}
	var cfg dockerConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Secret{}, fmt.Errorf("%s: %w", dataKey, err)
	}
	if len(cfg.Auths) != 1 {
		return Secret{}, errors.New(dataKey + " must hold the credentials of exactly one registry")
	}
	s := Secret{Name: m.Metadata.Name, Namespace: m.Metadata.Namespace}
	for server, a := range cfg.Auths {
		s.Server, s.Username, s.Password = server, a.Username, a.Password
	}
	return s, nil
}
