package interop

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var helmDigestRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})$`)

// TestHelm packages a chart made by `helm create`, pushes it as OCI to the
// public library project, pulls it back byte for byte, and checks that an
// anonymous helm can pull but not push.
func TestHelm(t *testing.T) {
	env.matrix.track(t, "helm")
	c := newClient(t)
	reg := env.registry
	const repo = "library/charts/mychart"
	plain := "--plain-http"

	runCmd(t, c, "", "helm", "create", "mychart")
	res := runCmd(t, c, "", "helm", "package", "mychart", "--destination", "packaged")
	tgz := filepath.Join(c.dir, "packaged", "mychart-0.1.0.tgz")
	chart, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatalf("helm package wrote no %s: %v\n%s", tgz, err, res.Stdout)
	}

	if _, err := tryCmd(c, "wrong-"+env.password+"\n", "helm", "registry", "login", reg,
		"--username", "admin", "--password-stdin", plain); err == nil {
		t.Errorf("helm registry login with a wrong password succeeded")
	}
	runCmd(t, c, env.password+"\n", "helm", "registry", "login", reg, "--username", "admin", "--password-stdin", plain)
	res = runCmd(t, c, "", "helm", "push", tgz, "oci://"+reg+"/library/charts", plain)
	m := helmDigestRE.FindStringSubmatch(res.Stdout + res.Stderr)
	if m == nil {
		t.Fatalf("helm push printed no digest:\n%s%s", res.Stdout, res.Stderr)
	}
	pushed := m[1]

	t.Run("manifest", func(t *testing.T) {
		body, d := manifest(t, repo, "0.1.0")
		if d != pushed {
			t.Errorf("berth serves %s:0.1.0 as %s, want the pushed %s", repo, d, pushed)
		}
		var man struct {
			Config struct{ MediaType string } `json:"config"`
			Layers []struct {
				MediaType string
				Digest    string
			} `json:"layers"`
		}
		if err := json.Unmarshal(body, &man); err != nil {
			t.Fatalf("manifest of %s: %v", repo, err)
		}
		if man.Config.MediaType != "application/vnd.cncf.helm.config.v1+json" {
			t.Errorf("config media type = %q, want helm's", man.Config.MediaType)
		}
		sum := sha256.Sum256(chart)
		wantLayer := "sha256:" + hex.EncodeToString(sum[:])
		found := false
		for _, l := range man.Layers {
			if l.MediaType == "application/vnd.cncf.helm.chart.content.v1.tar+gzip" && l.Digest == wantLayer {
				found = true
			}
		}
		if !found {
			t.Errorf("manifest of %s has no chart layer %s: %s", repo, wantLayer, body)
		}
	})

	t.Run("pull", func(t *testing.T) {
		out := filepath.Join(c.dir, "pulled")
		if err := os.Mkdir(out, 0o700); err != nil {
			t.Fatal(err)
		}
		res := runCmd(t, c, "", "helm", "pull", "oci://"+reg+"/"+repo, "--version", "0.1.0", "--destination", out, plain)
		if m := helmDigestRE.FindStringSubmatch(res.Stdout + res.Stderr); m == nil || m[1] != pushed {
			t.Errorf("helm pull: want digest %s, got:\n%s%s", pushed, res.Stdout, res.Stderr)
		}
		got, err := os.ReadFile(filepath.Join(out, "mychart-0.1.0.tgz"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, chart) {
			t.Errorf("pulled chart (%d bytes) differs from the pushed one (%d bytes)", len(got), len(chart))
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		anon := newClient(t)
		res := runCmd(t, anon, "", "helm", "show", "chart", "oci://"+reg+"/"+repo, "--version", "0.1.0", plain)
		if !strings.Contains(res.Stdout, "name: mychart") || !strings.Contains(res.Stdout, "version: 0.1.0") {
			t.Errorf("anonymous helm show chart of a public chart:\n%s", res.Stdout)
		}
		if res, err := tryCmd(anon, "", "helm", "push", tgz, "oci://"+reg+"/library/anon", plain); err == nil {
			t.Errorf("anonymous helm push succeeded:\n%s%s", res.Stdout, res.Stderr)
		}
	})
}
