// Package multinode runs two berth processes over one PostgreSQL database
// and one S3 bucket, as a load balancer would spread clients over them,
// and shows that no node holds state another needs: an upload started on
// one node continues and completes on the other, a token issued by one
// is accepted by the other, and what one node commits the other serves.
package multinode

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/berthproc"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
	"github.com/berth-registry/berth/internal/testutil/s3test"
)

const adminPassword = "Multi12345node"

func TestMain(m *testing.M) {
	code := m.Run()
	if err := s3test.Stop(); err != nil && code == 0 {
		code = 1
	}
	if err := pgtest.Stop(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

type node struct {
	url  string
	proc *berthproc.Proc
}

func startNodes(t testing.TB) (a, b node) {
	ns := startN(t, 2)
	return ns[0], ns[1]
}

// startN starts n nodes over one fresh database and one fresh bucket.
func startN(t testing.TB, count int) []node {
	t.Helper()
	start := newCluster(t)
	// Start one after the other: the first creates the schema, the admin
	// and the shared keys; the others find them.
	var ns []node
	for i := 0; i < count; i++ {
		ns = append(ns, start(fmt.Sprintf("node-%c", 'a'+i)))
	}
	return ns
}

// newCluster makes a fresh database and bucket and returns the function
// that starts a node over them, healthy when it returns.
func newCluster(t testing.TB, extraArgs ...string) func(name string) node {
	t.Helper()
	bin, err := berthproc.Binary(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.DSN(t)
	endpoint, access, secret, bucket := s3test.Endpoint(t)
	storage := fmt.Sprintf("s3://%s/registry?endpoint=%s&secure=false&path_style=true&region=us-east-1", bucket, endpoint)
	start := func(name string) node {
		addr, err := berthproc.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		log := filepath.Join(t.TempDir(), name+".log")
		env := append(os.Environ(),
			"BERTH_ADMIN_PASSWORD="+adminPassword,
			"BERTH_STORAGE_S3_ACCESS_KEY="+access,
			"BERTH_STORAGE_S3_SECRET_KEY="+secret,
		)
		p, err := berthproc.Start(berthproc.Options{
			Argv: append([]string{bin, "serve", "--tls=off", "--addr", addr, "--data-dir", t.TempDir(),
				"--database", dsn, "--storage", storage}, extraArgs...),
			Env: env, LogPath: log,
		})
		if err != nil {
			t.Fatal(err)
		}
		n := node{url: "http://" + addr, proc: p}
		t.Cleanup(func() {
			p.Stop(10 * time.Second)
			if t.Failed() {
				t.Logf("%s log:\n%s", name, berthproc.Tail(log, 30))
			}
		})
		if err := p.WaitHealthy(http.DefaultClient, n.url+"/healthz", 60*time.Second, 100*time.Millisecond); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, berthproc.Tail(log, 30))
		}
		return n
	}
	return start
}

func do(t testing.TB, method, u, token string, body []byte, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func token(t testing.TB, n node, scope string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", n.url+"/service/token?service=berth&scope="+url.QueryEscape(scope), nil)
	req.SetBasicAuth("admin", adminPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("token from %s: %d %v", n.url, res.StatusCode, err)
	}
	return body.Token
}

func TestUploadAcrossNodes(t *testing.T) {
	a, b := startNodes(t)
	// A token issued by node A works on node B: the signing key is shared.
	tok := token(t, a, "repository:library/multi:pull,push")
	if res := do(t, "GET", b.url+"/v2/", tok, nil); res.StatusCode != 200 {
		t.Fatalf("node B refused node A's token: %d", res.StatusCode)
	}

	// 12 MiB in three chunks of at least the advertised minimum, each
	// PATCH sent to the other node.
	blob := make([]byte, 12<<20)
	rand.Read(blob)
	d := oci.FromBytes(blob)
	res := do(t, "POST", a.url+"/v2/library/multi/blobs/uploads/", tok, nil)
	if res.StatusCode != 202 {
		t.Fatalf("start on A: %d", res.StatusCode)
	}
	minChunk := res.Header.Get("OCI-Chunk-Min-Length")
	loc := res.Header.Get("Location")
	nodes := []node{b, a, b}
	chunk := 5 << 20
	for i, off := 0, 0; off < len(blob); i++ {
		end := min(off+chunk, len(blob))
		n := nodes[i%len(nodes)]
		res := do(t, "PATCH", n.url+loc, tok, blob[off:end], "Content-Range", fmt.Sprintf("%d-%d", off, end-1))
		if res.StatusCode != 202 {
			body, _ := io.ReadAll(res.Body)
			t.Fatalf("chunk %d on %s: %d %s", i, n.url, res.StatusCode, body)
		}
		if got := res.Header.Get("Range"); got != fmt.Sprintf("0-%d", end-1) {
			t.Fatalf("chunk %d: Range %q", i, got)
		}
		loc = res.Header.Get("Location")
		off = end
	}
	// The status is the same from either node.
	for _, n := range []node{a, b} {
		res := do(t, "GET", n.url+loc, tok, nil)
		if res.StatusCode != 204 || res.Header.Get("Range") != fmt.Sprintf("0-%d", len(blob)-1) {
			t.Fatalf("status on %s: %d %q", n.url, res.StatusCode, res.Header.Get("Range"))
		}
	}
	res = do(t, "PUT", a.url+loc+"?digest="+string(d), tok, nil)
	if res.StatusCode != 201 {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("complete on A: %d %s", res.StatusCode, body)
	}

	// A manifest pushed to B over the blob committed on A, pulled from A.
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd := oci.FromBytes(cfg)
	if res := do(t, "POST", b.url+"/v2/library/multi/blobs/uploads/?digest="+string(cd), tok, cfg); res.StatusCode != 201 {
		t.Fatalf("config on B: %d", res.StatusCode)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		oci.MediaTypeImageManifest, oci.MediaTypeImageConfig, cd, len(cfg), d, len(blob))
	if res := do(t, "PUT", b.url+"/v2/library/multi/manifests/v1", tok, []byte(m), "Content-Type", oci.MediaTypeImageManifest); res.StatusCode != 201 {
		t.Fatalf("manifest on B: %d", res.StatusCode)
	}
	for _, n := range []node{a, b} {
		res := do(t, "GET", n.url+"/v2/library/multi/blobs/"+string(d), tok, nil)
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(got, blob) {
			t.Fatalf("layer from %s: %d, %d bytes, equal %v", n.url, res.StatusCode, len(got), bytes.Equal(got, blob))
		}
		res = do(t, "GET", n.url+"/v2/library/multi/manifests/v1", tok, nil)
		got, _ = io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(got) != m {
			t.Fatalf("manifest from %s: %d", n.url, res.StatusCode)
		}
	}
	if minChunk != "5242880" {
		t.Errorf("OCI-Chunk-Min-Length on S3: %q", minChunk)
	}
}

// errRetryablePush marks a push failure that a client retries.
var errRetryablePush = errors.New("retryable push failure")

// pushImage pushes a config, one random layer and a manifest tagged tag
// to node n, returning the manifest and the layer. It reports failures as
// errors so that it can run off the test's goroutine.
func pushImage(n node, tok, repo, tag string) (manifest string, layer []byte, err error) {
	layer = make([]byte, 64<<10)
	rand.Read(layer)
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","tag":%q}`, tag))
	send := func(method, u string, body []byte, hdr ...string) (int, error) {
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		var answer struct {
			Errors []struct{ Code string } `json:"errors"`
		}
		if json.NewDecoder(res.Body).Decode(&answer) == nil && len(answer.Errors) > 0 {
			code := answer.Errors[0].Code
			// docs/gc.md: a push racing a collection with no grace period
			// may fail with one of these, and starts over.
			if res.StatusCode == 503 || code == "MANIFEST_BLOB_UNKNOWN" {
				return res.StatusCode, fmt.Errorf("%w: %s", errRetryablePush, code)
			}
		}
		return res.StatusCode, nil
	}
	for _, b := range [][]byte{cfg, layer} {
		if st, err := send("POST", n.url+"/v2/"+repo+"/blobs/uploads/?digest="+string(oci.FromBytes(b)), b); err != nil || st != 201 {
			return "", nil, fmt.Errorf("blob to %s: %d %w", n.url, st, err)
		}
	}
	manifest = fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		oci.MediaTypeImageManifest, oci.MediaTypeImageConfig, oci.FromBytes(cfg), len(cfg), oci.FromBytes(layer), len(layer))
	if st, err := send("PUT", n.url+"/v2/"+repo+"/manifests/"+tag, []byte(manifest), "Content-Type", oci.MediaTypeImageManifest); err != nil || st != 201 {
		return "", nil, fmt.Errorf("manifest to %s: %d %w", n.url, st, err)
	}
	return manifest, layer, nil
}

// TestThreeNodesGCAndAKilledNode: GC runs on one node while the two
// others take pushes, and every acknowledged image pulls from any node;
// then a node is killed in the middle of a chunked upload and the client
// finishes the same upload on another node.
func TestThreeNodesGCAndAKilledNode(t *testing.T) {
	ns := startN(t, 3)
	a, b, c := ns[0], ns[1], ns[2]
	tok := token(t, a, "repository:library/gcrace:pull,push,delete")

	// Something for GC to collect: an image, then its manifest gone.
	old, _, err := pushImage(a, tok, "library/gcrace", "old")
	if err != nil {
		t.Fatal(err)
	}
	res := do(t, "DELETE", a.url+"/v2/library/gcrace/manifests/"+string(oci.FromBytes([]byte(old))), tok, nil)
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("delete the old image: %d", res.StatusCode)
	}

	type pushed struct {
		tag, manifest string
		layer         []byte
	}
	results := make(chan pushed, 64)
	pushErr := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 16; i++ { // bounded: 16 images over the two nodes
			n := []node{a, b}[i%2]
			tag := fmt.Sprintf("v%d", i)
			var m string
			var l []byte
			var err error
			for attempt := 0; attempt < 5; attempt++ { // bounded retries, as a client's
				if m, l, err = pushImage(n, tok, "library/gcrace", tag); !errors.Is(err, errRetryablePush) {
					break
				}
			}
			if err != nil {
				pushErr <- err
				return
			}
			results <- pushed{tag, m, l}
		}
	}()
	// Meanwhile, on node C: a manual GC with no grace period.
	req, _ := http.NewRequest("POST", c.url+"/api/v2.0/system/gc/schedule",
		strings.NewReader(`{"schedule":{"type":"Manual"},"parameters":{"delete_untagged":true,"time_window":0}}`))
	req.SetBasicAuth("admin", adminPassword)
	req.Header.Set("Content-Type", "application/json")
	gres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	gres.Body.Close()
	if gres.StatusCode != 201 {
		t.Fatalf("start GC on C: %d", gres.StatusCode)
	}
	gcURL := c.url + strings.TrimPrefix(gres.Header.Get("Location"), "")
	deadline := time.Now().Add(60 * time.Second)
	for status := ""; status != "Success"; {
		if time.Now().After(deadline) {
			t.Fatalf("GC on C did not finish: %s", status)
		}
		time.Sleep(200 * time.Millisecond)
		req, _ := http.NewRequest("GET", gcURL, nil)
		req.SetBasicAuth("admin", adminPassword)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			JobStatus string `json:"job_status"`
		}
		json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		status = h.JobStatus
		if status == "Error" || status == "Stopped" {
			t.Fatalf("GC on C ended %s", status)
		}
	}
	<-done
	close(results)
	select {
	case err := <-pushErr:
		t.Fatalf("push during GC: %v", err)
	default:
	}
	count := 0
	for p := range results {
		count++
		for _, n := range ns {
			res := do(t, "GET", n.url+"/v2/library/gcrace/manifests/"+p.tag, tok, nil)
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(got) != p.manifest {
				t.Fatalf("%s from %s after GC: %d", p.tag, n.url, res.StatusCode)
			}
			res = do(t, "GET", n.url+"/v2/library/gcrace/blobs/"+string(oci.FromBytes(p.layer)), tok, nil)
			got, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.Equal(got, p.layer) {
				t.Fatalf("layer of %s from %s after GC: %d", p.tag, n.url, res.StatusCode)
			}
		}
	}
	if count != 16 {
		t.Fatalf("%d images pushed", count)
	}

	// Kill node C in the middle of a chunked upload; finish it on A.
	blob := make([]byte, 10<<20)
	rand.Read(blob)
	res = do(t, "POST", c.url+"/v2/library/gcrace/blobs/uploads/", tok, nil)
	loc := res.Header.Get("Location")
	res.Body.Close()
	half := len(blob) / 2
	res = do(t, "PATCH", c.url+loc, tok, blob[:half], "Content-Range", fmt.Sprintf("0-%d", half-1))
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("first half on C: %d", res.StatusCode)
	}
	c.proc.Kill()
	<-c.proc.Exited()
	res = do(t, "GET", a.url+loc, tok, nil)
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Range") != fmt.Sprintf("0-%d", half-1) {
		t.Fatalf("status on A after C died: %d %q", res.StatusCode, res.Header.Get("Range"))
	}
	res = do(t, "PUT", a.url+loc+"?digest="+string(oci.FromBytes(blob)), tok, blob[half:],
		"Content-Range", fmt.Sprintf("%d-%d", half, len(blob)-1))
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("finish on A: %d", res.StatusCode)
	}
	res = do(t, "GET", b.url+"/v2/library/gcrace/blobs/"+string(oci.FromBytes(blob)), tok, nil)
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, blob) {
		t.Fatalf("blob from B: %d", res.StatusCode)
	}
}
