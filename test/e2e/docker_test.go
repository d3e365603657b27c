package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

const cmdTimeout = 3 * time.Minute

var (
	pushDigestRE = regexp.MustCompile(`(?m)^v\d+: digest: (sha256:[0-9a-f]{64}) size: \d+`)
	pullDigestRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})`)
)

// TestDockerPushPull pushes an image made here with the docker CLI, pulls
// it back and checks every byte, then copies it with skopeo and lists it
// with crane.
func TestDockerPushPull(t *testing.T) {
	want, rootfs := writeRootfs(t)
	ref := env.registry + "/library/e2e:v1"
	ref2 := env.registry + "/library/e2e:v2"
	copyRef := env.registry + "/library/copy:v1"

	var pushed string
	if env.dockerHost == "" {
		pushed = pushWithCrane(t, rootfs, ref, ref2)
	} else {
		pushed = pushPullWithDocker(t, rootfs, ref, ref2, want)
	}

	t.Run("crane-content", func(t *testing.T) {
		img, err := crane.Pull(ref, craneOpts(t)...)
		if err != nil {
			t.Fatalf("crane pull %s: %v", ref, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatalf("layers of %s: %v", ref, err)
		}
		if len(layers) != 1 {
			t.Fatalf("%s has %d layers, want 1", ref, len(layers))
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatalf("open layer of %s: %v", ref, err)
		}
		defer rc.Close()
		if diff := cmp.Diff(want, filesInTar(t, rc)); diff != "" {
			t.Errorf("files in the layer pulled by crane (-want +got):\n%s", diff)
		}
	})

	t.Run("skopeo", func(t *testing.T) {
		creds := "admin:" + env.password
		runCmd(t, cmdTimeout, "", os.Environ(), "skopeo", "copy", "--insecure-policy",
			"--src-tls-verify=false", "--dest-tls-verify=false",
			"--src-creds", creds, "--dest-creds", creds,
			"docker://"+ref, "docker://"+copyRef)
		res := runCmd(t, cmdTimeout, "", os.Environ(), "skopeo", "inspect",
			"--tls-verify=false", "--creds", creds, "docker://"+copyRef)
		var got struct {
			Name     string
			Digest   string
			RepoTags []string
			Layers   []string
		}
		if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
			t.Fatalf("skopeo inspect output: %v\n%s", err, res.Stdout)
		}
		if want := env.registry + "/library/copy"; got.Name != want {
			t.Errorf("skopeo inspect Name = %q, want %q", got.Name, want)
		}
		if got.Digest != pushed {
			t.Errorf("skopeo inspect Digest = %q, want the pushed %q", got.Digest, pushed)
		}
		if diff := cmp.Diff([]string{"v1"}, got.RepoTags); diff != "" {
			t.Errorf("skopeo inspect RepoTags (-want +got):\n%s", diff)
		}
		if len(got.Layers) != 1 {
			t.Errorf("skopeo inspect Layers = %v, want one layer", got.Layers)
		}
	})

	t.Run("crane-list", func(t *testing.T) {
		opts := craneOpts(t)
		tags, err := crane.ListTags(env.registry+"/library/e2e", opts...)
		if err != nil {
			t.Fatalf("crane ls library/e2e: %v", err)
		}
		slices.Sort(tags)
		if diff := cmp.Diff([]string{"v1", "v2"}, tags); diff != "" {
			t.Errorf("tags of library/e2e (-want +got):\n%s", diff)
		}
		tags, err = crane.ListTags(env.registry+"/library/copy", opts...)
		if err != nil {
			t.Fatalf("crane ls library/copy: %v", err)
		}
		if diff := cmp.Diff([]string{"v1"}, tags); diff != "" {
			t.Errorf("tags of library/copy (-want +got):\n%s", diff)
		}
		repos, err := crane.Catalog(env.registry, opts...)
		if err != nil {
			t.Fatalf("crane catalog: %v", err)
		}
		slices.Sort(repos)
		if diff := cmp.Diff([]string{"library/copy", "library/e2e"}, repos); diff != "" {
			t.Errorf("catalog (-want +got):\n%s", diff)
		}
		for _, r := range []string{ref, ref2, copyRef} {
			d, err := crane.Digest(r, opts...)
			if err != nil {
				t.Errorf("crane digest %s: %v", r, err)
				continue
			}
			if d != pushed {
				t.Errorf("crane digest %s = %s, want the pushed %s", r, d, pushed)
			}
		}
	})

	if t.Failed() {
		t.Logf("berth log (%s), last lines:\n%s", env.berthLog, berthproc.Tail(env.berthLog, 40))
	}
}

// pushPullWithDocker imports rootfs, pushes it under two tags, removes it
// locally, pulls it back and checks the saved layer. It returns the digest
// docker pushed.
func pushPullWithDocker(t *testing.T, rootfs, ref, ref2 string, want map[string]string) string {
	t.Helper()
	denv := dockerEnv()
	t.Cleanup(func() {
		// Leave nothing behind in a shared daemon; errors mean already gone.
		_, _ = tryCmd(cmdTimeout, "", denv, "docker", "rmi", "--force", ref, ref2)
		_, _ = tryCmd(cmdTimeout, "", denv, "docker", "logout", env.registry)
	})

	runCmd(t, cmdTimeout, "", denv, "docker", "import", rootfs, ref)
	if res, err := tryCmd(cmdTimeout, "wrong-"+env.password+"\n", denv, "docker", "login", env.registry,
		"--username", "admin", "--password-stdin"); err == nil {
		t.Errorf("docker login with a wrong password succeeded:\n%s", res.Stdout)
	}
	runCmd(t, cmdTimeout, env.password+"\n", denv, "docker", "login", env.registry,
		"--username", "admin", "--password-stdin")
	runCmd(t, cmdTimeout, "", denv, "docker", "tag", ref, ref2)

	res := runCmd(t, cmdTimeout, "", denv, "docker", "push", ref)
	m := pushDigestRE.FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("docker push %s printed no digest:\n%s", ref, res.Stdout)
	}
	pushed := m[1]
	res = runCmd(t, cmdTimeout, "", denv, "docker", "push", ref2)
	if m := pushDigestRE.FindStringSubmatch(res.Stdout); m == nil || m[1] != pushed {
		t.Fatalf("docker push %s: want digest %s, got output:\n%s", ref2, pushed, res.Stdout)
	}
	res = runCmd(t, cmdTimeout, "", denv, "docker", "image", "inspect",
		"--format", "{{range .RepoDigests}}{{println .}}{{end}}", ref)
	wantRepoDigest := env.registry + "/library/e2e@" + pushed
	if !slices.Contains(strings.Fields(res.Stdout), wantRepoDigest) {
		t.Errorf("RepoDigests after push = %q, want it to contain %q", res.Stdout, wantRepoDigest)
	}

	runCmd(t, cmdTimeout, "", denv, "docker", "rmi", ref, ref2)
	if _, err := tryCmd(cmdTimeout, "", denv, "docker", "image", "inspect", ref); err == nil {
		t.Fatalf("%s still present locally after docker rmi; the pull would prove nothing", ref)
	}

	res = runCmd(t, cmdTimeout, "", denv, "docker", "pull", ref)
	if m := pullDigestRE.FindStringSubmatch(res.Stdout); m == nil || m[1] != pushed {
		t.Fatalf("docker pull %s: want digest %s, got output:\n%s", ref, pushed, res.Stdout)
	}

	saved := filepath.Join(env.workDir, "saved.tar")
	runCmd(t, cmdTimeout, "", denv, "docker", "save", "--output", saved, ref)
	if diff := cmp.Diff(want, filesInSavedImage(t, saved)); diff != "" {
		t.Errorf("files in the pulled image (-want +got):\n%s", diff)
	}
	return pushed
}

// pushWithCrane stands in for the docker steps when BERTH_SKIP_DOCKER=1.
func pushWithCrane(t *testing.T, rootfs, ref, ref2 string) string {
	t.Helper()
	layer, err := tarball.LayerFromFile(rootfs)
	if err != nil {
		t.Fatalf("layer from %s: %v", rootfs, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatalf("make image: %v", err)
	}
	opts := craneOpts(t)
	if err := crane.Push(img, ref, opts...); err != nil {
		t.Fatalf("crane push %s: %v", ref, err)
	}
	if err := crane.Tag(ref, "v2", opts...); err != nil {
		t.Fatalf("crane tag %s v2: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("image digest: %v", err)
	}
	return d.String()
}

func craneOpts(t *testing.T) []crane.Option { return env.admin.CraneOptions(t, cmdTimeout) }

// writeRootfs writes a small root file system tar: a few files with known
// content and 1 MiB of random bytes. It returns path -> sha256 of every
// regular file, and the tar's path.
func writeRootfs(t *testing.T) (map[string]string, string) {
	t.Helper()
	random := make([]byte, 1<<20)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		body []byte
	}{
		{"etc/berth-e2e/hello.txt", []byte("hello from the berth end-to-end test\n")},
		{"etc/berth-e2e/release", []byte("NAME=berth-e2e\nVERSION=1\n")},
		{"opt/data/random.bin", random},
	}
	path := filepath.Join(env.workDir, "rootfs.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, dir := range []string{"etc/", "etc/berth-e2e/", "opt/", "opt/data/"} {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for _, file := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: file.name, Mode: 0o644, Size: int64(len(file.body)), ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(file.body); err != nil {
			t.Fatal(err)
		}
		want[file.name] = sha256Hex(file.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return want, path
}

// filesInSavedImage reads a `docker save` archive (the legacy layout and
// the OCI layout both carry manifest.json) and returns the regular files of
// its layers, path -> sha256.
func filesInSavedImage(t *testing.T, saved string) map[string]string {
	t.Helper()
	entries := map[string][]byte{}
	f, err := os.Open(saved)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", saved, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s in %s: %v", hdr.Name, saved, err)
		}
		entries[cleanPath(hdr.Name)] = b
	}
	var manifest []struct {
		Layers []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest.json of docker save: %v", err)
	}
	if len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("docker save manifest.json = %+v, want one image with one layer", manifest)
	}
	layer, ok := entries[cleanPath(manifest[0].Layers[0])]
	if !ok {
		t.Fatalf("layer %s missing from docker save archive", manifest[0].Layers[0])
	}
	var r io.Reader = bytes.NewReader(layer)
	if bytes.HasPrefix(layer, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gunzip layer: %v", err)
		}
		r = zr
	}
	return filesInTar(t, r)
}

// filesInTar returns path -> sha256 of the regular files in a tar stream.
func filesInTar(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	got := map[string]string{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("read layer tar: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			t.Fatalf("read %s in layer: %v", hdr.Name, err)
		}
		got[cleanPath(hdr.Name)] = hex.EncodeToString(h.Sum(nil))
	}
}

func cleanPath(name string) string {
	return strings.TrimPrefix(filepath.Clean("/"+name), "/")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
