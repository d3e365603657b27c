package main

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// TestImage builds the image of a real berth binary into an OCI layout,
// reads it back and checks it, then pushes it to a berth on loopback and
// pulls the manifest back.
func TestImage(t *testing.T) {
	work := t.TempDir()
	bin, err := berthproc.Binary(work, true)
	if err != nil {
		t.Fatal(err)
	}
	binBytes, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	binSum := sha256.Sum256(binBytes)

	dir := filepath.Join(work, "layout")
	var out bytes.Buffer
	o := options{binary: bin, arch: "amd64", layout: dir, created: time.Unix(0, 0).UTC()}
	if err := run(o, &out); err != nil {
		t.Fatalf("run: %v", err)
	}

	// Read it back from the layout.
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %v, %v", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	if !strings.Contains(out.String(), digest.String()) {
		t.Errorf("output %q does not name the digest %s", out.String(), digest)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !slices.Equal(c.Entrypoint, []string{"/berth", "serve"}) || c.User != "65532" || c.WorkingDir != "/data" ||
		!slices.Contains(c.Env, "BERTH_DATA_DIR=/data") || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config: %+v os=%s arch=%s", c, cf.OS, cf.Architecture)
	}
	if _, ok := c.ExposedPorts["5000/tcp"]; !ok {
		t.Errorf("exposed ports %v lack 5000/tcp", c.ExposedPorts)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	files := layerFiles(t, layers[0])
	berth, ok := files["berth"]
	if !ok {
		t.Fatalf("the layer has no /berth: %v", keys(files))
	}
	if sum := sha256.Sum256(berth.data); sum != binSum {
		t.Errorf("/berth sha256 %x, want the binary's %x", sum, binSum)
	}
	if berth.hdr.Mode&0o111 == 0 {
		t.Errorf("/berth mode %o is not executable", berth.hdr.Mode)
	}
	if pw := string(files["etc/passwd"].data); !strings.Contains(pw, ":65532:65532:") {
		t.Errorf("/etc/passwd %q has no user 65532", pw)
	}
	if d, ok := files["data/"]; !ok || d.hdr.Uid != 65532 {
		t.Errorf("/data missing or not owned by 65532")
	}
	// Reproducible: the same binary gives the same digest.
	again, err := build(binBytes, "amd64", time.Unix(0, 0).UTC())
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := again.Digest(); d2 != digest {
		t.Errorf("rebuild digest %s, want %s", d2, digest)
	}

	// Push to a berth on loopback, project library, and pull back.
	addr, err := berthproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	pass := "Img-Admin-" + randHex(t)
	proc, err := berthproc.Start(berthproc.Options{
		Argv:    []string{bin, "serve", "--addr", addr, "--data-dir", filepath.Join(work, "data"), "--tls=off"},
		Env:     append(os.Environ(), "BERTH_ADMIN_PASSWORD="+pass),
		LogPath: filepath.Join(work, "berth.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Stop(20 * time.Second) })
	if err := proc.WaitHealthy(&http.Client{Timeout: 2 * time.Second}, "http://"+addr+"/healthz", 60*time.Second, 200*time.Millisecond); err != nil {
		t.Fatalf("berth did not start: %v\n%s", err, berthproc.Tail(proc.LogPath, 30))
	}
	refStr := addr + "/library/berth:test"
	o = options{binary: bin, arch: "amd64", push: refStr, insecure: true, created: time.Unix(0, 0).UTC(),
		username: "admin", password: pass}
	out.Reset()
	if err := run(o, &out); err != nil {
		t.Fatalf("push: %v\n%s", err, berthproc.Tail(proc.LogPath, 30))
	}
	ref, err := name.ParseReference(refStr, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "admin", Password: pass})))
	if err != nil {
		t.Fatalf("pull manifest: %v", err)
	}
	if desc.Digest != digest {
		t.Errorf("pulled digest %s, want %s", desc.Digest, digest)
	}
	// Without credentials the push is refused (library is private or
	// needs push rights either way).
	o.username, o.password, o.push = "", "", addr+"/library/berth:anon"
	if err := run(o, io.Discard); err == nil {
		t.Error("an anonymous push succeeded")
	}
}

type tarFile struct {
	hdr  *tar.Header
	data []byte
}

func layerFiles(t *testing.T, l v1.Layer) map[string]tarFile {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]tarFile{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = tarFile{h, b}
	}
	return files
}

func keys(m map[string]tarFile) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func randHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
