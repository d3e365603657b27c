package signing

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/oci"
	st "github.com/berth-registry/berth/internal/signature/signaturetest"
)

// resp is one answer of berth.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// request sends one request as user (password pass; "" user = anonymous)
// with the given User-Agent ("" = Go's).
func request(t *testing.T, user, pass, ua, method, path string, body []byte, hdr ...string) resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+env.registry+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

func admin(t *testing.T, method, path string, body []byte, hdr ...string) resp {
	t.Helper()
	return request(t, "admin", env.password, "", method, path, body, hdr...)
}

func adminJSON(t *testing.T, method, path string, v any, wantStatus int) resp {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	r := admin(t, method, path, b, "Content-Type", "application/json")
	if r.status != wantStatus {
		t.Fatalf("%s %s: %s, want %d", method, path, r, wantStatus)
	}
	return r
}

// project creates a private project with metadata md.
func project(t *testing.T, name string, md map[string]string) {
	t.Helper()
	if _, err := env.admin.CreateProject(name, md); err != nil {
		t.Fatal(err)
	}
}

// user creates a user with role in project (Harbor role ids).
func user(t *testing.T, name, password, project string, role int) {
	t.Helper()
	if _, err := env.admin.CreateUser(name, password); err != nil {
		t.Fatal(err)
	}
	if err := env.admin.AddMember(project, name, role); err != nil {
		t.Fatal(err)
	}
}

// trustKey adds a trust key to project.
func trustKey(t *testing.T, project, typ, name, pem string) {
	t.Helper()
	adminJSON(t, "POST", "/api/v2.0/projects/"+project+"/trust-keys", map[string]string{"type": typ, "name": name, "pem": pem}, http.StatusCreated)
}

// push uploads m's blobs and m to repo under ref ("" = by digest).
func push(t *testing.T, repo, ref string, m st.Manifest) oci.Digest {
	t.Helper()
	for _, b := range m.Blobs {
		r := admin(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+string(b.Desc.Digest), b.Content)
		if r.status != http.StatusCreated {
			t.Fatalf("upload blob to %s: %s", repo, r)
		}
	}
	return pushManifest(t, repo, ref, oci.MediaTypeImageManifest, m.Content)
}

func pushManifest(t *testing.T, repo, ref, mediaType string, body []byte) oci.Digest {
	t.Helper()
	if ref == "" {
		ref = string(oci.FromBytes(body))
	}
	r := admin(t, "PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mediaType)
	if r.status != http.StatusCreated {
		t.Fatalf("push manifest %s:%s: %s", repo, ref, r)
	}
	return oci.Digest(r.header.Get("Docker-Content-Digest"))
}

// image builds an image of one random layer.
func image(t *testing.T, arch string) st.Manifest {
	t.Helper()
	layer := make([]byte, 4096)
	if _, err := rand.Read(layer); err != nil {
		t.Fatal(err)
	}
	cfg := st.NewBlob(oci.MediaTypeImageConfig, fmt.Appendf(nil, `{"architecture":%q,"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`, arch))
	return st.NewManifest("", cfg, []st.Blob{st.NewBlob("application/vnd.oci.image.layer.v1.tar+gzip", layer)}, nil, nil)
}

// pushImage pushes a fresh image to repo under tag and returns it.
func pushImage(t *testing.T, repo, tag string) st.Manifest {
	t.Helper()
	m := image(t, "amd64")
	push(t, repo, tag, m)
	return m
}

// pushIndex pushes an index of children (pushed by digest) under tag.
func pushIndex(t *testing.T, repo, tag string, children ...st.Manifest) oci.Digest {
	t.Helper()
	var ms []oci.Descriptor
	for i, c := range children {
		push(t, repo, "", c)
		d := c.Desc()
		d.Platform = &oci.Platform{OS: "linux", Architecture: []string{"amd64", "arm64", "s390x"}[i%3]}
		ms = append(ms, d)
	}
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeImageIndex, "manifests": ms})
	return pushManifest(t, repo, tag, oci.MediaTypeImageIndex, b)
}

// dockerUA is what a docker pull sends.
const dockerUA = "docker/27.5.1 go/go1.22.10 git-commit/4c9b3b0 kernel/6.1.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.5.1 \\(linux\\))"

// pull GETs a manifest as a docker client of user.
func pull(t *testing.T, user, pass, repo, ref string) resp {
	t.Helper()
	return request(t, user, pass, dockerUA, "GET", "/v2/"+repo+"/manifests/"+ref, nil,
		"Accept", oci.MediaTypeImageManifest+","+oci.MediaTypeImageIndex)
}

// wantPull checks a docker pull as admin: 200, or 412 with the message.
func wantPull(t *testing.T, repo, ref string, status int, msg string) {
	t.Helper()
	r := pull(t, "admin", env.password, repo, ref)
	if r.status != status {
		t.Fatalf("pull %s@%s: %s, want %d", repo, ref, r, status)
	}
	if status == http.StatusPreconditionFailed {
		var body struct {
			Errors []struct{ Code, Message string }
		}
		if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != "PROJECTPOLICYVIOLATION" {
			t.Fatalf("pull %s@%s: refusal body %s", repo, ref, r.body)
		}
		if !strings.Contains(body.Errors[0].Message, msg) {
			t.Fatalf("pull %s@%s: message %q, want it to contain %q", repo, ref, body.Errors[0].Message, msg)
		}
	}
}

// signatureReport is berth's additions/signatures entry.
type signatureReport struct {
	Digest    string `json:"digest"`
	Format    string `json:"format"`
	Kind      string `json:"kind"`
	Scheme    string `json:"scheme"`
	Signer    string `json:"signer"`
	Verified  bool   `json:"verified"`
	TrustedBy string `json:"trusted_by"`
	Problem   string `json:"problem"`
}

func signatures(t *testing.T, project, repo string, ref oci.Digest) []signatureReport {
	t.Helper()
	r := admin(t, "GET", "/api/v2.0/projects/"+project+"/repositories/"+repo+"/artifacts/"+string(ref)+"/additions/signatures", nil)
	if r.status != http.StatusOK {
		t.Fatalf("signatures of %s/%s@%s: %s", project, repo, ref, r)
	}
	var out []signatureReport
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// cosignClient runs cosign in a private home with its own keys.
type cosignClient struct {
	dir string
	env []string
}

func newCosign(t *testing.T) cosignClient {
	t.Helper()
	home := t.TempDir()
	c := cosignClient{dir: home, env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home, "LANG=C", "NO_COLOR=1",
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"COSIGN_PASSWORD=signing-" + randomHex(4),
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}}
	c.must(t, "generate-key-pair")
	// Offline: an empty signing config and trusted root keep cosign from
	// the public Sigstore services.
	c.must(t, "signing-config", "create", "--out", "signing-config.json")
	c.must(t, "trusted-root", "create", "--out", "trusted-root.json")
	return c
}

// pub is the public key cosign generated, in PEM.
func (c cosignClient) pub(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (c cosignClient) run(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.cosign, args...)
	cmd.Env, cmd.Dir = c.env, c.dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out: %w", err)
	}
	return stdout.String(), stderr.String(), err
}

func (c cosignClient) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := c.run(args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (c cosignClient) login(t *testing.T, user, pass string) {
	t.Helper()
	c.must(t, "login", env.registry, "-u", user, "-p", pass)
}

// sign signs ref with the client's key: a Sigstore bundle referrer, or
// with legacy set the sha256-<hex>.sig tag scheme.
func (c cosignClient) sign(t *testing.T, ref string, legacy bool) {
	t.Helper()
	args := []string{"sign", "--yes", "--key", "cosign.key", "--allow-http-registry"}
	if legacy {
		args = append(args, "--new-bundle-format=false", "--use-signing-config=false", "--tlog-upload=false")
	} else {
		args = append(args, "--signing-config", "signing-config.json", "--trusted-root", "trusted-root.json")
	}
	c.must(t, append(args, ref)...)
}

func (c cosignClient) verify(ref string, legacy bool) (string, string, error) {
	args := []string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--allow-http-registry"}
	if legacy {
		args = append(args, "--new-bundle-format=false")
	} else {
		args = append(args, "--trusted-root", "trusted-root.json")
	}
	return c.run(append(args, ref)...)
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }

func digestOf(s string) oci.Digest {
	d, err := oci.ParseDigest(s)
	if err != nil {
		panic(err)
	}
	return d
}
