package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRegctl copies an image pushed by crane into another repository with
// regctl, lists and reads it back, then attaches an artifact to it and
// finds that through regctl's referrers listing and berth's API.
func TestRegctl(t *testing.T) {
	env.matrix.track(t, "regctl")
	c := newClient(t)
	reg := env.registry
	src, dst := project+"/regctl-src", project+"/regctl-dst"
	img := pushImage(t, reg+"/"+src+":v1")
	want := digestOf(t, img)

	// --skip-check: regctl pings the registry anonymously and would
	// report berth's (correct) 401 as a failure.
	runCmd(t, c, "", "regctl", "registry", "set", "--tls", "disabled", "--skip-check", reg)
	if res, err := tryCmd(c, "", "regctl", "tag", "ls", reg+"/"+src); err == nil {
		t.Fatalf("regctl tag ls of a private repository before login succeeded:\n%s", res.Stdout)
	} else if !strings.Contains(res.Stderr, "unauthorized") {
		t.Errorf("regctl tag ls before login: want unauthorized, got:\n%s", res.Stderr)
	}
	runCmd(t, c, env.password+"\n", "regctl", "registry", "login", reg, "--user", "admin", "--pass-stdin")

	runCmd(t, c, "", "regctl", "image", "copy", reg+"/"+src+":v1", reg+"/"+dst+":v1")

	t.Run("tag-ls", func(t *testing.T) {
		res := runCmd(t, c, "", "regctl", "tag", "ls", reg+"/"+dst)
		if diff := cmp.Diff([]string{"v1"}, strings.Fields(res.Stdout)); diff != "" {
			t.Errorf("regctl tag ls %s (-want +got):\n%s", dst, diff)
		}
	})

	t.Run("manifest-get", func(t *testing.T) {
		res := runCmd(t, c, "", "regctl", "manifest", "get", reg+"/"+dst+":v1", "--format", "raw-body")
		srcBody, _ := manifest(t, src, "v1")
		if res.Stdout != string(srcBody) {
			t.Errorf("regctl manifest get %s:v1 is not the manifest crane pushed:\ngot  %s\nwant %s", dst, res.Stdout, srcBody)
		}
		res = runCmd(t, c, "", "regctl", "image", "digest", reg+"/"+dst+":v1")
		if got := strings.TrimSpace(res.Stdout); got != want {
			t.Errorf("regctl image digest %s:v1 = %s, want the pushed %s", dst, got, want)
		}
		if _, d := manifest(t, dst, "v1"); d != want {
			t.Errorf("berth serves %s:v1 as %s, want %s", dst, d, want)
		}
	})

	t.Run("artifact-referrers", func(t *testing.T) {
		const artifactType = "application/vnd.berth.regctl.test"
		note := randomBytes(t, 1000)
		if err := os.WriteFile(filepath.Join(c.dir, "note.bin"), note, 0o600); err != nil {
			t.Fatal(err)
		}
		res := runCmd(t, c, "", "regctl", "artifact", "put",
			"--subject", reg+"/"+dst+":v1",
			"--artifact-type", artifactType,
			"--file", "note.bin", "--file-media-type", "application/vnd.berth.note",
			"--format", "{{.Manifest.GetDescriptor.Digest}}")
		artifact := strings.TrimSpace(res.Stdout)
		if !strings.HasPrefix(artifact, "sha256:") {
			t.Fatalf("regctl artifact put printed %q, want the artifact's digest", artifact)
		}

		res = runCmd(t, c, "", "regctl", "artifact", "list", reg+"/"+dst+":v1", "--format", "{{json .Manifest}}")
		var listed ociIndex
		if err := json.Unmarshal([]byte(res.Stdout), &listed); err != nil {
			t.Fatalf("regctl artifact list output: %v\n%s", err, res.Stdout)
		}
		if got := artifactTypes(listed); !cmp.Equal(got, map[string]string{artifact: artifactType}) {
			t.Errorf("regctl artifact list %s:v1 = %v, want only %s (%s)", dst, got, artifact, artifactType)
		}
		if got := artifactTypes(referrers(t, dst, want)); !cmp.Equal(got, map[string]string{artifact: artifactType}) {
			t.Errorf("berth's referrers of %s@%s = %v, want only %s (%s)", dst, want, got, artifact, artifactType)
		}

		res = runCmd(t, c, "", "regctl", "artifact", "get",
			"--subject", reg+"/"+dst+":v1", "--filter-artifact-type", artifactType)
		if res.Stdout != string(note) {
			t.Errorf("regctl artifact get returned %d bytes, not the %d put", len(res.Stdout), len(note))
		}
	})
}

// artifactTypes maps each manifest of idx to its artifact type.
func artifactTypes(idx ociIndex) map[string]string {
	m := map[string]string{}
	for _, d := range idx.Manifests {
		m[d.Digest] = d.ArtifactType
	}
	return m
}
