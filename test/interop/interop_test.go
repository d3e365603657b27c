package interop

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/crane"
)

// The clients test/e2e covers in depth (docker, skopeo, crane) get one
// short round trip each here, so that the matrix of one run shows every
// client against the same berth.

var (
	dockerPushRE = regexp.MustCompile(`(?m)^v\d+: digest: (sha256:[0-9a-f]{64}) size: \d+`)
	dockerPullRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})`)
)

// TestDocker imports a tiny root file system, pushes it into the private
// project, removes it locally and pulls it back by the pushed digest.
func TestDocker(t *testing.T) {
	env.matrix.track(t, "docker")
	if env.dockerHost == "" {
		t.Skip("BERTH_SKIP_DOCKER=1")
	}
	c := newClient(t)
	ref := env.registry + "/" + project + "/docker:v1"
	t.Cleanup(func() {
		// Leave nothing behind in a shared daemon; an error means gone.
		_, _ = tryCmd(c, "", "docker", "rmi", "--force", ref)
	})

	rootfs := filepath.Join(c.dir, "rootfs.tar")
	writeTar(t, rootfs, map[string][]byte{"etc/interop.txt": []byte("pushed by docker\n")})
	runCmd(t, c, "", "docker", "import", rootfs, ref)
	if _, err := tryCmd(c, "", "docker", "push", ref); err == nil {
		t.Fatalf("docker push into a private project without login succeeded")
	}
	runCmd(t, c, env.password+"\n", "docker", "login", env.registry, "--username", "admin", "--password-stdin")
	res := runCmd(t, c, "", "docker", "push", ref)
	m := dockerPushRE.FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("docker push %s printed no digest:\n%s", ref, res.Stdout)
	}
	pushed := m[1]
	if _, d := manifest(t, project+"/docker", "v1"); d != pushed {
		t.Errorf("berth serves %s as %s, want the pushed %s", ref, d, pushed)
	}

	runCmd(t, c, "", "docker", "rmi", ref)
	res = runCmd(t, c, "", "docker", "pull", ref)
	if m := dockerPullRE.FindStringSubmatch(res.Stdout); m == nil || m[1] != pushed {
		t.Errorf("docker pull %s: want digest %s, got:\n%s", ref, pushed, res.Stdout)
	}
}

// TestSkopeo copies an image pushed by crane into another repository and
// inspects the copy.
func TestSkopeo(t *testing.T) {
	env.matrix.track(t, "skopeo")
	c := newClient(t)
	src := project + "/skopeo-src"
	dst := project + "/skopeo-dst"
	img := pushImage(t, env.registry+"/"+src+":v1")
	want := digestOf(t, img)
	creds := "admin:" + env.password

	if _, err := tryCmd(c, "", "skopeo", "inspect", "--tls-verify=false", "docker://"+env.registry+"/"+src+":v1"); err == nil {
		t.Errorf("skopeo inspect of a private image without credentials succeeded")
	}
	runCmd(t, c, "", "skopeo", "copy", "--insecure-policy",
		"--src-tls-verify=false", "--dest-tls-verify=false",
		"--src-creds", creds, "--dest-creds", creds,
		"docker://"+env.registry+"/"+src+":v1", "docker://"+env.registry+"/"+dst+":v1")
	res := runCmd(t, c, "", "skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", creds,
		"docker://"+env.registry+"/"+dst+":v1")
	srcBody, _ := manifest(t, src, "v1")
	if res.Stdout != string(srcBody) {
		t.Errorf("skopeo inspect --raw of the copy is not the manifest crane pushed:\ngot  %s\nwant %s", res.Stdout, srcBody)
	}
	if _, d := manifest(t, dst, "v1"); d != want {
		t.Errorf("berth serves the copy as %s, want %s", d, want)
	}
	res = runCmd(t, c, "", "skopeo", "list-tags", "--tls-verify=false", "--creds", creds, "docker://"+env.registry+"/"+dst)
	var tags struct{ Tags []string }
	if err := json.Unmarshal([]byte(res.Stdout), &tags); err != nil {
		t.Fatalf("skopeo list-tags output: %v\n%s", err, res.Stdout)
	}
	if diff := cmp.Diff([]string{"v1"}, tags.Tags); diff != "" {
		t.Errorf("skopeo list-tags (-want +got):\n%s", diff)
	}
}

// TestCrane pushes, copies, lists and pulls with go-containerregistry's
// crane, checking every layer digest of the pull.
func TestCrane(t *testing.T) {
	env.matrix.track(t, "crane")
	reg := env.registry
	src, dst := reg+"/"+project+"/crane-src:v1", reg+"/"+project+"/crane-dst:v1"
	img := pushImage(t, src)
	want := digestOf(t, img)
	opts := craneOpts(t)

	if err := crane.Copy(src, dst, opts...); err != nil {
		t.Fatalf("crane copy: %v", err)
	}
	tags, err := crane.ListTags(reg+"/"+project+"/crane-dst", opts...)
	if err != nil {
		t.Fatalf("crane ls: %v", err)
	}
	if diff := cmp.Diff([]string{"v1"}, tags); diff != "" {
		t.Errorf("crane ls (-want +got):\n%s", diff)
	}
	pulled, err := crane.Pull(dst, opts...)
	if err != nil {
		t.Fatalf("crane pull: %v", err)
	}
	if got := digestOf(t, pulled); got != want {
		t.Errorf("crane pull %s = %s, want %s", dst, got, want)
	}
	wantLayers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gotLayers, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(gotLayers) != len(wantLayers) {
		t.Fatalf("pulled %d layers, want %d", len(gotLayers), len(wantLayers))
	}
	for i := range wantLayers {
		// Compressed reads the bytes from berth and verifies them
		// against the digest as it goes.
		rc, err := gotLayers[i].Compressed()
		if err != nil {
			t.Fatalf("layer %d: %v", i, err)
		}
		var got bytes.Buffer
		_, err = got.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Errorf("read layer %d from berth: %v", i, err)
		}
		wrc, err := wantLayers[i].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var wantBytes bytes.Buffer
		_, _ = wantBytes.ReadFrom(wrc)
		wrc.Close()
		if !bytes.Equal(got.Bytes(), wantBytes.Bytes()) {
			t.Errorf("layer %d: %d bytes from berth differ from the %d pushed", i, got.Len(), wantBytes.Len())
		}
	}
}

// TestReadmeMatrix keeps README's "Client compatibility" section honest:
// every pinned Go client must be listed there with the version this run
// built.
func TestReadmeMatrix(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Client compatibility\n")
	if !ok {
		t.Fatal(`README.md has no "## Client compatibility" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	versions := clientVersions()
	for _, c := range clients {
		if c.pkg == "" && c.name != "crane" {
			continue // machine packages: their version is whatever Debian ships
		}
		row := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(c.name) + ` \|.*$`).FindString(section)
		if row == "" {
			t.Errorf("README client compatibility: no row for %s", c.name)
			continue
		}
		v := strings.TrimPrefix(versions[c.name], "go-containerregistry ")
		if !strings.Contains(row, v) {
			t.Errorf("README client compatibility row %q does not name %s %s, the version tested", row, c.name, v)
		}
	}
}

// writeTar writes a tar of regular files (and their parent directories).
func writeTar(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	dirs := map[string]bool{}
	for _, name := range names {
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
					t.Fatal(err)
				}
			}
		}
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
