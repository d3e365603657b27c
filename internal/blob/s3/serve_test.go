package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/oci"
)

// berthBinary returns BERTH_BIN or builds ./cmd/berth into dir.
func berthBinary(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if bin := os.Getenv("BERTH_BIN"); bin != "" {
		if !filepath.IsAbs(bin) {
			bin = filepath.Join(root, bin) // relative to the repository, where make runs
		}
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("BERTH_BIN: %v", err)
		}
		return bin
	}
	bin := filepath.Join(dir, "berth")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/berth")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/berth: %v\n%s", err, out)
	}
	return bin
}

// TestServeS3 runs `berth serve --storage s3://…` against the test server
// and pushes and pulls a blob through /v2 in chunks, as a client would.
func TestServeS3(t *testing.T) {
	b := newBucket(t, "")
	dir := t.TempDir()
	bin := berthBinary(t, dir)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	password := "S3-Admin-Password-1"
	storage := fmt.Sprintf("s3://%s/registry?endpoint=%s&secure=false&path_style=true&region=us-east-1",
		b.opts.Bucket, b.opts.Endpoint)
	var log bytes.Buffer
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--tls=off", "--storage", storage)
	cmd.Env = append(os.Environ(),
		"BERTH_ADMIN_PASSWORD="+password,
		"BERTH_STORAGE_S3_ACCESS_KEY="+b.opts.AccessKey,
		"BERTH_STORAGE_S3_SECRET_KEY="+b.opts.SecretKey)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if strings.Contains(log.String(), b.opts.SecretKey) {
			t.Errorf("berth logged the S3 secret key:\n%s", log.String())
		}
		if t.Failed() {
			t.Logf("berth log:\n%s", log.String())
		}
	})
	base := "http://" + addr
	waitHealthy(t, base, exited)

	do := func(method, path string, hdr map[string]string, body []byte) *http.Response {
		t.Helper()
		u := path
		if !strings.HasPrefix(u, "http") {
			u = base + path
		}
		req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", password)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	location := func(resp *http.Response) string {
		t.Helper()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("%s %s: no Location: %v", resp.Request.Method, resp.Request.URL.Path, err)
		}
		return loc.String()
	}
	want := func(resp *http.Response, code int) {
		t.Helper()
		if resp.StatusCode != code {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, code)
		}
		resp.Body.Close()
	}

	// A 13 MiB layer in two chunks of the advertised minimum and a last one.
	data := blobtest.Data(9, 13*mib+17)
	d := oci.FromBytes(data)
	resp := do("POST", "/v2/library/s3e2e/blobs/uploads/", nil, nil)
	want(resp, http.StatusAccepted)
	if got := resp.Header.Get("OCI-Chunk-Min-Length"); got != fmt.Sprint(5*mib) {
		t.Errorf("OCI-Chunk-Min-Length = %q, want S3's minimum part %d", got, 5*mib)
	}
	loc := location(resp)
	for _, cut := range [][2]int{{0, 6 * mib}, {6 * mib, 12 * mib}} {
		resp = do("PATCH", loc, map[string]string{
			"Content-Type":  "application/octet-stream",
			"Content-Range": fmt.Sprintf("%d-%d", cut[0], cut[1]-1),
		}, data[cut[0]:cut[1]])
		want(resp, http.StatusAccepted)
		loc = location(resp)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("digest", string(d))
	u.RawQuery = q.Encode()
	resp = do("PUT", u.String(), map[string]string{
		"Content-Type":  "application/octet-stream",
		"Content-Range": fmt.Sprintf("%d-%d", 12*mib, len(data)-1),
	}, data[12*mib:])
	want(resp, http.StatusCreated)

	resp = do("GET", "/v2/library/s3e2e/blobs/"+string(d), nil, nil)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET blob: %d, %d bytes (%v), want %d bytes", resp.StatusCode, len(got), err, len(data))
	}
	resp = do("GET", "/v2/library/s3e2e/blobs/"+string(d), map[string]string{"Range": "bytes=10-19"}, nil)
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[10:20]) {
		t.Fatalf("GET blob range: %d %q", resp.StatusCode, got)
	}

	// The bytes are in the bucket under the prefix, and no upload is left.
	objs := b.objects(t)
	if size, ok := objs[blobKey("registry/", d)]; !ok || size != int64(len(data)) {
		t.Fatalf("bucket holds %v, want the blob under registry/blobs/", objs)
	}
	for k := range objs {
		if strings.Contains(k, "/uploads/") {
			t.Errorf("upload data left in the bucket: %s", k)
		}
	}
}

func waitHealthy(t *testing.T, base string, exited <-chan struct{}) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatal("berth exited during start-up")
		default:
		}
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth did not answer /healthz within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
