package oci_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// FuzzRouting sends any method and path to a real registry on SQLite: no
// answer may be a 500, and every error answer is an OCI error body. The
// seeds are the hostile paths of badinput_test.go under every method.
func FuzzRouting(f *testing.F) {
	d := spec.FromBytes([]byte("x"))
	const loc = "/v2/ok/blobs/uploads/0b4a3b5e-6f1c-4bde-9f43-0c3c1f3c2f11"
	for _, req := range hostileRequests(loc, d) {
		f.Add(req[0], req[1])
	}
	for _, p := range []string{"/v2/", "/v2/_catalog?n=-1", "/v2/ok/tags/list?n=abc&last=%00", "/v2/ok/manifests/latest",
		"/v2/ok/blobs/" + string(d), "/v2/ok/blobs/uploads/?mount=" + string(d) + "&from=..", "/v2/ok/referrers/" + string(d) + "?artifactType=%zz",
		"", "/", "/v2", "/v2/%", "/v2/%zz/tags/list", "/v2/a/blobs/uploads/%2F", "/healthz"} {
		for _, m := range []string{"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "BREW"} {
			f.Add(m, p)
		}
	}
	srv := fuzzServer(f)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.Fuzz(func(t *testing.T, method, path string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			return // not a request any client can send
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%q %q: %v", method, path, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("%q %q: read body: %v", method, path, err)
		}
		if res.StatusCode >= 500 {
			t.Fatalf("%q %q: status %d: %s", method, path, res.StatusCode, body)
		}
		if res.StatusCode == http.StatusBadRequest && res.Header.Get("Docker-Distribution-API-Version") == "" {
			return // net/http refused the request line before any handler ran
		}
		if res.StatusCode < 400 || method == http.MethodHead {
			return
		}
		var e struct {
			Errors []struct {
				Code string `json:"code"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code == "" {
			t.Fatalf("%q %q: status %d with a body that is not an OCI error: %q", method, path, res.StatusCode, body)
		}
	})
}

// fuzzServer serves /v2/ on SQLite and the fs store, once per fuzz
// function, with a repository "ok" holding a blob.
func fuzzServer(f *testing.F) *httptest.Server {
	f.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(f.TempDir(), "berth.db"))
	if err != nil {
		f.Fatalf("open database: %v", err)
	}
	f.Cleanup(func() { db.Close() })
	store, err := fs.New(f.TempDir())
	if err != nil {
		f.Fatalf("open store: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := registry.New(db, store, registry.WithLogger(logger))
	if _, err := svc.PutBlob(ctx, "ok", string(spec.FromBytes([]byte("x"))), strings.NewReader("x")); err != nil {
		f.Fatalf("seed blob: %v", err)
	}
	srv := httptest.NewServer(ocihttp.New(svc, ocihttp.WithLogger(logger)))
	f.Cleanup(srv.Close)
	return srv
}
