package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/errs"
)

type pullSecretResp struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// dockerAuths decodes the Secret's .dockerconfigjson.
func dockerAuths(t *testing.T, s pullSecretResp) map[string]dockerAuth {
	t.Helper()
	if len(s.Data) != 1 {
		t.Fatalf("data has %d keys, want only .dockerconfigjson: %v", len(s.Data), s.Data)
	}
	raw, err := base64.StdEncoding.DecodeString(s.Data[".dockerconfigjson"])
	if err != nil {
		t.Fatalf(".dockerconfigjson is not base64: %v", err)
	}
	var cfg struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf(".dockerconfigjson %s: %v", raw, err)
	}
	return cfg.Auths
}

func TestRobotPullSecret(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		authOK := func(name, secret string) bool {
			t.Helper()
			_, err := e.acc.Authenticate(e.ctx, name, secret, "test-"+strconv.FormatInt(time.Now().UnixNano(), 36))
			if err != nil && !errs.Is(err, errs.Unauthorized) {
				t.Fatalf("Authenticate(%s): %v", name, err)
			}
			return err == nil
		}
		r := e.do(e.as("pa"), "POST", "/robots", map[string]any{
			"name": "ci", "level": "project", "duration": -1,
			"permissions": []map[string]any{{"kind": "project", "namespace": "priv",
				"access": []map[string]string{{"resource": "repository", "action": "pull"}}}},
		})
		want(t, r, http.StatusCreated, "create robot")
		var created struct {
			ID     int64  `json:"id"`
			Name   string `json:"name"`
			Secret string `json:"secret"`
		}
		decodeInto(t, r, &created)
		if !authOK(created.Name, created.Secret) {
			t.Fatal("the created robot does not authenticate")
		}
		path := "/robots/" + strconv.FormatInt(created.ID, 10) + "/pullsecret"
		host := strings.TrimPrefix(e.srv.URL, "http://")

		// Defaults: namespace default, a name from the robot's, this host.
		r = e.do(e.as("pa"), "POST", path, nil)
		want(t, r, http.StatusOK, "pull secret with defaults")
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		var s pullSecretResp
		decodeInto(t, r, &s)
		if s.APIVersion != "v1" || s.Kind != "Secret" || s.Type != "kubernetes.io/dockerconfigjson" ||
			s.Metadata.Namespace != "default" || s.Metadata.Name != "robot-priv-ci" {
			t.Fatalf("Secret shape: %s", r.body)
		}
		auths := dockerAuths(t, s)
		a, ok := auths[host]
		if len(auths) != 1 || !ok {
			t.Fatalf("auths %v, want one entry for %s", auths, host)
		}
		if a.Username != created.Name || a.Password == "" || a.Password == created.Secret {
			t.Fatalf("credentials %+v: want %s with a new secret", a, created.Name)
		}
		if a.Auth != base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)) {
			t.Errorf("auth %q is not base64(username:password)", a.Auth)
		}
		if !authOK(a.Username, a.Password) {
			t.Error("the Secret's credentials do not authenticate")
		}
		if authOK(created.Name, created.Secret) {
			t.Error("the old secret still authenticates")
		}
		// Over HTTP too: the new credentials sign in (the robot may not
		// read the project through the API: 403, not 401), the old do not.
		if r := e.do(cred{a.Username, a.Password}, "GET", "/projects/priv", nil); r.status == http.StatusUnauthorized {
			t.Errorf("new secret over HTTP: %s", r)
		}
		want(t, e.do(cred{created.Name, created.Secret}, "GET", "/projects/priv", nil), http.StatusUnauthorized, "old secret over HTTP")

		// Chosen namespace, name and registry; the admin may too.
		r = e.do(e.as("admin"), "POST", path, map[string]string{
			"namespace": "ci-jobs", "name": "berth-pull", "registry": "registry.example.com:5443"})
		want(t, r, http.StatusOK, "pull secret with choices")
		var s2 pullSecretResp
		decodeInto(t, r, &s2)
		if s2.Metadata.Namespace != "ci-jobs" || s2.Metadata.Name != "berth-pull" {
			t.Errorf("metadata %+v", s2.Metadata)
		}
		a2, ok := dockerAuths(t, s2)["registry.example.com:5443"]
		if !ok || a2.Password == a.Password || !authOK(a2.Username, a2.Password) || authOK(a.Username, a.Password) {
			t.Errorf("second refresh: %+v; want a new working secret replacing the previous one", a2)
		}

		// The host of server.external_url or X-Forwarded-Host is used.
		r = e.do(e.as("pa"), "POST", path, "", "X-Forwarded-Host", "berth.example.org")
		want(t, r, http.StatusOK, "pull secret behind a proxy")
		var s3 pullSecretResp
		decodeInto(t, r, &s3)
		if _, ok := dockerAuths(t, s3)["berth.example.org"]; !ok {
			t.Errorf("auths %s lacks the forwarded host", r.body)
		}
		last := dockerAuths(t, s3)["berth.example.org"]

		// Refusals change nothing.
		want(t, e.do(e.as("developer"), "POST", path, nil), http.StatusForbidden, "developer (no robot:update)")
		want(t, e.do(e.as("outsider"), "POST", path, nil), http.StatusForbidden, "outsider")
		want(t, e.do(anon, "POST", path, nil), http.StatusUnauthorized, "anonymous")
		wantErr(t, e.do(e.as("pa"), "POST", path, map[string]string{"namespace": "Bad_NS"}),
			http.StatusBadRequest, "namespace", "invalid namespace")
		want(t, e.do(e.as("pa"), "POST", path, map[string]string{"name": "x", "other": "y"}),
			http.StatusBadRequest, "unknown field")
		want(t, e.do(e.as("pa"), "POST", path, map[string]string{"registry": "https://" + url.PathEscape("a/b")}),
			http.StatusBadRequest, "registry with a scheme")
		want(t, e.do(e.as("admin"), "POST", "/robots/999999/pullsecret", nil), http.StatusNotFound, "missing robot")
		want(t, e.do(e.as("pa"), "POST", path+"?format=xml", nil), http.StatusBadRequest, "unknown format")
		if !authOK(last.Username, last.Password) {
			t.Error("a refused request changed the secret")
		}

		// The same Secret as YAML, and as the kubectl command.
		r = e.do(e.as("pa"), "POST", path+"?format=yaml", nil)
		want(t, r, http.StatusOK, "pull secret as YAML")
		if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
			t.Errorf("YAML Content-Type %q", ct)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(r.body, &doc); err != nil {
			t.Fatalf("YAML Secret %v: %s", err, r.body)
		}
		var sy pullSecretResp
		asJSON, _ := json.Marshal(doc)
		if err := json.Unmarshal(asJSON, &sy); err != nil || sy.Kind != "Secret" || sy.Metadata.Name != "robot-priv-ci" {
			t.Fatalf("YAML Secret %v: %s", err, r.body)
		}
		if ay := dockerAuths(t, sy)[host]; !authOK(ay.Username, ay.Password) {
			t.Errorf("the YAML Secret's credentials do not authenticate")
		}
		r = e.do(e.as("pa"), "POST", path+"?format=kubectl", map[string]string{"namespace": "ci-jobs"})
		want(t, r, http.StatusOK, "pull secret as a kubectl command")
		prefix := "kubectl create secret docker-registry robot-priv-ci --namespace ci-jobs --docker-server=" + host +
			" --docker-username='" + created.Name + "' --docker-password="
		if !strings.HasPrefix(string(r.body), prefix) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("kubectl command %q, want it to start %q", r.body, prefix)
		}
		pw := strings.Trim(strings.TrimSpace(strings.TrimPrefix(string(r.body), prefix)), "'")
		if !authOK(created.Name, pw) {
			t.Errorf("the kubectl command's password does not authenticate")
		}
	})
}
