package interop

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOras pushes an arbitrary artifact of two files with oras, pulls it
// back byte for byte, attaches a referrer of another artifact type and
// finds it with `oras discover` and through berth's referrers API.
func TestOras(t *testing.T) {
	env.matrix.track(t, "oras")
	const (
		artifactType = "application/vnd.berth.test"
		referrerType = "application/vnd.berth.test.signature"
	)
	c := newClient(t)
	reg := env.registry
	repo := project + "/oras"
	ref := reg + "/" + repo + ":v1"
	plain := "--plain-http"

	files := map[string][]byte{
		"readme.txt": []byte("an artifact pushed by oras to berth\n"),
		"data.bin":   randomBytes(t, 3<<20),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if res, err := tryCmd(c, "", "oras", "repo", "tags", plain, reg+"/"+repo); err == nil {
		t.Fatalf("oras repo tags of a private repository before login succeeded:\n%s", res.Stdout)
	}
	if _, err := tryCmd(c, "wrong-"+env.password+"\n", "oras", "login", plain, reg, "-u", "admin", "--password-stdin"); err == nil {
		t.Errorf("oras login with a wrong password succeeded")
	}
	runCmd(t, c, env.password+"\n", "oras", "login", plain, reg, "-u", "admin", "--password-stdin")

	// oras takes file paths relative to its working directory and
	// records them as titles.
	res := runCmd(t, c, "", "oras", "push", plain, ref, "--artifact-type", artifactType,
		"readme.txt:text/plain", "data.bin:application/octet-stream", "--format", "json")
	var pushed ociDescriptor
	if err := json.Unmarshal([]byte(res.Stdout), &pushed); err != nil {
		t.Fatalf("oras push output: %v\n%s", err, res.Stdout)
	}
	if pushed.ArtifactType != artifactType || !strings.HasPrefix(pushed.Digest, "sha256:") {
		t.Fatalf("oras push reported %+v, want a digest and artifact type %s", pushed, artifactType)
	}
	if _, d := manifest(t, repo, "v1"); d != pushed.Digest {
		t.Errorf("berth serves %s:v1 as %s, want the pushed %s", repo, d, pushed.Digest)
	}

	t.Run("pull", func(t *testing.T) {
		out := filepath.Join(c.dir, "pulled")
		runCmd(t, c, "", "oras", "pull", plain, ref, "--output", out)
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Errorf("pulled artifact: %v", err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("pulled %s: %d bytes differ from the %d pushed", name, len(got), len(want))
			}
		}
		entries, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(files) {
			t.Errorf("oras pull wrote %d files, want %d", len(entries), len(files))
		}
	})

	t.Run("attach-discover", func(t *testing.T) {
		sig := []byte("not really a signature\n")
		if err := os.WriteFile(filepath.Join(c.dir, "sig.txt"), sig, 0o600); err != nil {
			t.Fatal(err)
		}
		res := runCmd(t, c, "", "oras", "attach", plain, ref, "--artifact-type", referrerType,
			"sig.txt:text/plain", "--format", "json")
		var attached ociDescriptor
		if err := json.Unmarshal([]byte(res.Stdout), &attached); err != nil {
			t.Fatalf("oras attach output: %v\n%s", err, res.Stdout)
		}

		res = runCmd(t, c, "", "oras", "discover", plain, ref, "--format", "json")
		var discovered struct {
			Digest    string          `json:"digest"`
			Referrers []ociDescriptor `json:"referrers"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &discovered); err != nil {
			t.Fatalf("oras discover output: %v\n%s", err, res.Stdout)
		}
		if discovered.Digest != pushed.Digest {
			t.Errorf("oras discover subject = %s, want %s", discovered.Digest, pushed.Digest)
		}
		want := map[string]string{attached.Digest: referrerType}
		if diff := cmp.Diff(want, artifactTypes(ociIndex{Manifests: discovered.Referrers})); diff != "" {
			t.Errorf("oras discover referrers (-want +got):\n%s", diff)
		}
		// A filter on another type: berth filters server-side and says
		// so (OCI-Filters-Applied), oras must then list nothing.
		res = runCmd(t, c, "", "oras", "discover", plain, ref, "--artifact-type", artifactType+".other", "--format", "json")
		discovered.Referrers = nil
		if err := json.Unmarshal([]byte(res.Stdout), &discovered); err != nil {
			t.Fatalf("oras discover --artifact-type output: %v\n%s", err, res.Stdout)
		}
		if len(discovered.Referrers) != 0 {
			t.Errorf("oras discover --artifact-type %s.other = %+v, want none", artifactType, discovered.Referrers)
		}
		if diff := cmp.Diff(want, artifactTypes(referrers(t, repo, pushed.Digest))); diff != "" {
			t.Errorf("berth's referrers of %s@%s (-want +got):\n%s", repo, pushed.Digest, diff)
		}

		// berth answered the subject with OCI-Subject, so oras must not
		// have fallen back to the referrers tag schema.
		res = runCmd(t, c, "", "oras", "repo", "tags", plain, reg+"/"+repo)
		if diff := cmp.Diff([]string{"v1"}, strings.Fields(res.Stdout)); diff != "" {
			t.Errorf("tags of %s after attach (-want +got):\n%s", repo, diff)
		}

		// The referrer itself pulls back too.
		out := filepath.Join(c.dir, "pulled-sig")
		runCmd(t, c, "", "oras", "pull", plain, reg+"/"+repo+"@"+attached.Digest, "--output", out)
		if got, err := os.ReadFile(filepath.Join(out, "sig.txt")); err != nil || !bytes.Equal(got, sig) {
			t.Errorf("pulled referrer sig.txt = %q, %v; want %q", got, err, sig)
		}
	})
}
