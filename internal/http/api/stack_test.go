package api_test

// A whole server in process for the tests that push content: the
// management API with a registry behind it, /v2/ guarded by the access
// service (Basic credentials straight on /v2/, as docker login allows),
// and the token service. Helpers here carry no prefix; they are used by
// the quota, label, configuration and system tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/http/token"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// newStackEnv is newAPIEnv whose server also serves /v2/ and
// /service/token, over a filesystem blob store, with quotas enforced.
func newStackEnv(t *testing.T, dsn, dir string, opts ...api.Option) *apiEnv {
	t.Helper()
	e := newAPIEnv(t, dsn, dir)
	store, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc := registry.New(e.db, store, registry.WithLogger(e.log), registry.WithQuota(meta.ProjectQuotas{}))
	authn := auth.New(e.acc, "", e.log)
	mux := http.NewServeMux()
	v2 := ocihttp.New(svc, ocihttp.WithLogger(e.log), ocihttp.WithAuthorizer(auth.NewRegistry(authn)))
	mux.Handle("/v2/", v2)
	mux.Handle("/service/token", token.New(authn, e.log))
	mux.Handle(api.Prefix+"/", api.New(e.acc, authn, svc, e.log, opts...))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

// forEachStack runs fn on a fresh stack on SQLite and on PostgreSQL.
func forEachStack(t *testing.T, fn func(t *testing.T, e *apiEnv), opts ...api.Option) {
	t.Helper()
	t.Run(meta.SQLite, func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		fn(t, newStackEnv(t, filepath.Join(dir, "meta.db"), dir, opts...))
	})
	t.Run(meta.Postgres, func(t *testing.T) {
		t.Parallel()
		fn(t, newStackEnv(t, pgtest.DSN(t), t.TempDir(), opts...))
	})
}

// v2 sends a registry request with c's Basic credentials. It is safe to
// call from several goroutines (it reports failures, never stops).
func (e *apiEnv) v2(c cred, method, path string, body []byte, hdr ...string) (apiResp, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return apiResp{}, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return apiResp{res.StatusCode, res.Header, b}, err
}

// pushBlob uploads content to repo in one request (POST with digest).
func (e *apiEnv) pushBlob(c cred, repo string, content []byte) (apiResp, error) {
	d := oci.FromBytes(content)
	return e.v2(c, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+string(d), content,
		"Content-Type", "application/octet-stream")
}

// mustPushBlob uploads content and fails the test unless it is stored.
func (e *apiEnv) mustPushBlob(c cred, repo string, content []byte) oci.Digest {
	e.t.Helper()
	r, err := e.pushBlob(c, repo, content)
	if err != nil {
		e.t.Fatal(err)
	}
	want(e.t, r, 201, "push blob to "+repo)
	return oci.FromBytes(content)
}

// pushImage pushes a config and the layers to repo, then an image
// manifest naming them under tag, and returns the manifest's digest.
func (e *apiEnv) pushImage(c cred, repo, tag string, layers ...[]byte) oci.Digest {
	e.t.Helper()
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"tag":%q}}}`, tag))
	type desc struct {
		MediaType string     `json:"mediaType"`
		Digest    oci.Digest `json:"digest"`
		Size      int        `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json",
		desc{"application/vnd.oci.image.config.v1+json", e.mustPushBlob(c, repo, config), len(config)}, []desc{}}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", e.mustPushBlob(c, repo, l), len(l)})
	}
	body, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.v2(c, "PUT", "/v2/"+repo+"/manifests/"+tag, body, "Content-Type", m.MediaType)
	if err != nil {
		e.t.Fatal(err)
	}
	want(e.t, r, 201, "push manifest "+repo+":"+tag)
	return oci.FromBytes(body)
}

// ociError decodes an OCI error body's first entry.
func ociError(t testing.TB, r apiResp) (code, message string) {
	t.Helper()
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("not an OCI error body: %s", r)
	}
	return body.Errors[0].Code, body.Errors[0].Message
}
