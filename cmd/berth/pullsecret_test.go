package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// TestPullSecretCommand runs `berth pull-secret` against a real berth:
// by robot name and by id, in each form, and checks that the credentials
// it prints are the robot's working ones.
func TestPullSecretCommand(t *testing.T) {
	const admin = "PullSecret123"
	bin, err := berthproc.Binary(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := berthproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "berth.log")
	p, err := berthproc.Start(berthproc.Options{
		Argv: []string{bin, "serve", "--tls=off", "--addr", addr, "--data-dir", t.TempDir()},
		Env:  append(os.Environ(), "BERTH_ADMIN_PASSWORD="+admin), LogPath: logPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(10 * time.Second) })
	base := "http://" + addr
	if err := p.WaitHealthy(http.DefaultClient, base+"/healthz", 60*time.Second, 50*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, berthproc.Tail(logPath, 20))
	}
	api := func(method, path, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.SetBasicAuth("admin", admin)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return b
	}
	api("POST", "/api/v2.0/projects", `{"project_name":"apps","metadata":{"public":"false"}}`)
	var robot struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	json.Unmarshal(api("POST", "/api/v2.0/robots", `{"name":"deploy","level":"project","duration":-1,`+
		`"permissions":[{"kind":"project","namespace":"apps","access":[{"resource":"repository","action":"pull"}]}]}`), &robot)
	if robot.Name != "robot$apps+deploy" {
		t.Fatalf("robot %+v", robot)
	}
	// Credentials work when /v2/ lets them in.
	works := func(user, pass string) bool {
		req, _ := http.NewRequest("GET", base+"/v2/", nil)
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode == 200
	}
	pullSecret := func(e env, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"pull-secret", "--url", base}, args...), &out, &errOut, e.get)
		return out.String(), errOut.String(), code
	}
	withPassword := env{"BERTH_PASSWORD": admin}

	// By name, both forms: YAML to apply, the command as a comment.
	out, errOut, code := pullSecret(withPassword, "--robot", robot.Name, "--namespace", "apps")
	if code != 0 {
		t.Fatalf("pull-secret by name: %d %s", code, errOut)
	}
	var doc struct {
		Kind     string
		Type     string
		Metadata struct{ Name, Namespace string }
		Data     map[string]string
	}
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, out)
	}
	raw, _ := base64.StdEncoding.DecodeString(doc.Data[".dockerconfigjson"])
	var cfg struct {
		Auths map[string]struct{ Username, Password string }
	}
	json.Unmarshal(raw, &cfg)
	a := cfg.Auths[addr]
	if doc.Kind != "Secret" || doc.Type != "kubernetes.io/dockerconfigjson" || doc.Metadata.Namespace != "apps" ||
		doc.Metadata.Name != "robot-apps-deploy" || a.Username != robot.Name || !works(a.Username, a.Password) {
		t.Fatalf("Secret %+v with auths %+v (for %s)", doc, cfg.Auths, addr)
	}
	wantCmd := fmt.Sprintf("# kubectl create secret docker-registry robot-apps-deploy --namespace apps --docker-server=%s --docker-username='robot$apps+deploy' --docker-password=%s\n", addr, a.Password)
	if !strings.Contains(out, wantCmd) {
		t.Errorf("output lacks the command %q:\n%s", wantCmd, out)
	}

	// By id, as the command alone: a new secret, the old one dead.
	out, errOut, code = pullSecret(withPassword, "--robot", fmt.Sprint(robot.ID), "--format", "kubectl")
	prefix := fmt.Sprintf("kubectl create secret docker-registry robot-apps-deploy --namespace default --docker-server=%s --docker-username='robot$apps+deploy' --docker-password=", addr)
	if code != 0 || !strings.HasPrefix(out, prefix) {
		t.Fatalf("pull-secret --format kubectl: %d %q %s", code, out, errOut)
	}
	pass := strings.Trim(strings.TrimSpace(strings.TrimPrefix(out, prefix)), "'")
	if !works(robot.Name, pass) || works(robot.Name, a.Password) {
		t.Errorf("after a second pull-secret: new secret works %t, old one works %t", works(robot.Name, pass), works(robot.Name, a.Password))
	}

	// Refusals.
	for _, c := range []struct {
		env  env
		args []string
		code int
		msg  string
	}{
		{env{}, []string{"--robot", "1"}, exitUsage, "BERTH_PASSWORD"},
		{withPassword, nil, exitUsage, "--robot"},
		{withPassword, []string{"--robot", "1", "--format", "xml"}, exitUsage, "--format"},
		{env{"BERTH_PASSWORD": "wrong"}, []string{"--robot", "1"}, exitError, "401"},
		{withPassword, []string{"--robot", "robot$apps+nobody"}, exitError, `no robot named "robot$apps+nobody"`},
		{withPassword, []string{"--robot", "robot$ghost+x"}, exitError, `project "ghost"`},
	} {
		_, errOut, code := pullSecret(c.env, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("pull-secret %v: %d %q, want %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
