package interop

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the tests check through berth's own HTTP API, as admin, next to
// what the clients say.

// adminRequest sends one request to berth with admin's Basic credentials.
func adminRequest(method, path, contentType string, body io.Reader, accept string) (int, []byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+env.registry+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth("admin", env.password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return resp.StatusCode, b, resp.Header, nil
}

// ociIndex is the part of an image index (and of a referrers answer)
// that the tests look at.
type ociIndex struct {
	MediaType string          `json:"mediaType"`
	Manifests []ociDescriptor `json:"manifests"`
}

type ociDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
}

// referrers asks berth's referrers API for the manifests whose subject is
// digest in repo.
func referrers(t *testing.T, repo, digest string) ociIndex {
	t.Helper()
	path := "/v2/" + repo + "/referrers/" + digest
	status, b, h, err := adminRequest("GET", path, "", nil, "application/vnd.oci.image.index.v1+json")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200: %s", path, status, b)
	}
	if ct := h.Get("Content-Type"); ct != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("GET %s Content-Type = %q, want the OCI index type", path, ct)
	}
	var idx ociIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, b, err)
	}
	return idx
}

// manifest fetches repo:ref from berth and returns its bytes and digest.
func manifest(t *testing.T, repo, ref string) ([]byte, string) {
	t.Helper()
	path := "/v2/" + repo + "/manifests/" + ref
	status, b, h, err := adminRequest("GET", path, "", nil, strings.Join([]string{
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
	}, ", "))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200: %s", path, status, b)
	}
	return b, h.Get("Docker-Content-Digest")
}

// pushImage pushes a small random image (two layers of 64 KiB) with crane
// and returns it.
func pushImage(t *testing.T, ref string) v1.Image {
	t.Helper()
	// An OCI manifest throughout: what cosign and the referrers API are
	// about.
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range 2 {
		layer, err := random.Layer(64<<10, types.OCILayer)
		if err != nil {
			t.Fatalf("random layer: %v", err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			t.Fatalf("append layer: %v", err)
		}
	}
	if err := crane.Push(img, ref, craneOpts(t)...); err != nil {
		t.Fatalf("crane push %s: %v", ref, err)
	}
	return img
}

func craneOpts(t *testing.T) []crane.Option { return env.admin.CraneOptions(t, cmdTimeout) }

// digestOf is img's manifest digest.
func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// randomBytes is n bytes that no other test shares, so that a pass can
// never come from a blob that was already there.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
