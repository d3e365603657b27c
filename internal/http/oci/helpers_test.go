package oci_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a registry served over HTTP on real stores.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	db    *meta.DB
	store *fs.Store
	root  string
	svc   *registry.Service
	log   *slog.Logger
}

// backends runs f once on SQLite and once on PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, filepath.Join(t.TempDir(), "berth.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, pgtest.DSN(t)))
	})
}

func newEnv(t *testing.T, dsn string, opts ...registry.Option) *env {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	root := t.TempDir()
	store, err := fs.New(root)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	svc := registry.New(db, store, append([]registry.Option{registry.WithLogger(logger)}, opts...)...)
	srv := httptest.NewServer(ocihttp.New(svc, ocihttp.WithLogger(logger), ocihttp.WithChunkMinLength(1)))
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, db: db, store: store, root: root, svc: svc, log: logger}
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) errCode() string {
	var b struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(r.Body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

// do sends a request; path is absolute ("/v2/...") or a Location value.
func (e *env) do(method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

func (e *env) expect(r resp, status int, what string) {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, status, r.Body)
	}
	if got := r.Header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
		e.t.Fatalf("%s: Docker-Distribution-API-Version %q", what, got)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// pushBlob uploads b monolithically into repo.
func (e *env) pushBlob(repo string, b []byte) spec.Digest {
	e.t.Helper()
	d := spec.FromBytes(b)
	r := e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+string(d), b, "Content-Type", "application/octet-stream")
	e.expect(r, http.StatusCreated, "monolithic upload")
	return d
}

// image pushes a config and n layers and returns an image manifest.
func (e *env) image(repo string, n int, extra map[string]any) ([]byte, []spec.Digest) {
	e.t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":%d}`, n))
	cd := e.pushBlob(repo, cfg)
	var layers []map[string]any
	digests := []spec.Digest{cd}
	for i := 0; i < n; i++ {
		b := randomBytes(e.t, 100+i)
		d := e.pushBlob(repo, b)
		digests = append(digests, d)
		layers = append(layers, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(b)})
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     spec.MediaTypeImageManifest,
		"config":        map[string]any{"mediaType": spec.MediaTypeImageConfig, "digest": cd, "size": len(cfg)},
		"layers":        layers,
	}
	if layers == nil {
		m["layers"] = []any{}
	}
	for k, v := range extra {
		m[k] = v
	}
	body, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return body, digests
}

func (e *env) putManifest(repo, ref string, body []byte, mediaType string) resp {
	e.t.Helper()
	return e.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mediaType)
}

// rows counts rows of a table matching a where clause (tests only).
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), query, args...)
	if err != nil {
		e.t.Fatalf("count %q: %v", query, err)
	}
	return n
}
