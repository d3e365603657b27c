package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/testutil/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// hostAuth adds basic credentials to requests for one host only, as
// registry clients (docker, containerd) do: a redirect to the object
// store must not carry them.
type hostAuth struct {
	host, user, pass string
	hosts            []string // every host asked, in order
}

func (a *hostAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	a.hosts = append(a.hosts, r.URL.Host)
	if r.URL.Host == a.host {
		r = r.Clone(r.Context())
		r.SetBasicAuth(a.user, a.pass)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// s3Server serves a berth over a fresh bucket of the real S3 server.
func s3Server(t *testing.T, redirect bool) (*httptest.Server, string) {
	t.Helper()
	endpoint, access, secret, bucket := s3test.Endpoint(t)
	t.Setenv("BERTH_ADMIN_PASSWORD", "Redirect123")
	env := map[string]string{
		"BERTH_STORAGE_S3_ACCESS_KEY": access, "BERTH_STORAGE_S3_SECRET_KEY": secret,
		"BERTH_STORAGE_S3_REDIRECT": fmt.Sprint(redirect),
	}
	cfg, err := config.Load([]string{"--data-dir", t.TempDir(), "--tls", "off",
		"--storage", fmt.Sprintf("s3://%s/reg?endpoint=%s&secure=false&path_style=true&region=us-east-1", bucket, endpoint)},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, release, err := NewHandler(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); release() })
	return srv, endpoint
}

// TestBlobRedirect: with storage.s3_redirect a blob GET answers 307 to a
// presigned URL of the bucket, and a client that follows it gets the
// blob's bytes from S3; HEAD is answered by berth. Without it (the
// default) berth sends the bytes itself.
func TestBlobRedirect(t *testing.T) {
	for _, redirect := range []bool{true, false} {
		t.Run(fmt.Sprintf("redirect=%t", redirect), func(t *testing.T) {
			srv, s3host := s3Server(t, redirect)
			pushTestImage(t, srv.URL, "admin", "Redirect123", "library/redir", "v1")
			layer := []byte("layer of library/redir:v1")
			blobURL := fmt.Sprintf("%s/v2/library/redir/blobs/sha256:%x", srv.URL, sha256.Sum256(layer))
			u, _ := url.Parse(srv.URL)

			// Not following: the answer itself.
			auth := &hostAuth{host: u.Host, user: "admin", pass: "Redirect123"}
			noFollow := &http.Client{Transport: auth,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, method := range []string{"HEAD", "GET"} {
				req, _ := http.NewRequest(method, blobURL, nil)
				res, err := noFollow.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				loc := res.Header.Get("Location")
				switch {
				case method == "HEAD" || !redirect:
					if res.StatusCode != 200 || loc != "" || res.ContentLength != int64(len(layer)) {
						t.Errorf("%s: %d, Location %q, length %d; want 200 from berth", method, res.StatusCode, loc, res.ContentLength)
					}
				default:
					lu, err := url.Parse(loc)
					if res.StatusCode != 307 || err != nil || lu.Host != s3host || lu.Query().Get("X-Amz-Signature") == "" {
						t.Errorf("GET: %d, Location %q; want 307 to a presigned URL on %s", res.StatusCode, loc, s3host)
					}
				}
			}

			// Following: the right bytes, from S3 when redirected, with
			// berth's credentials sent to berth only.
			auth.hosts = nil
			res, err := (&http.Client{Transport: auth}).Get(blobURL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !bytes.Equal(body, layer) {
				t.Fatalf("GET following redirects: %d %q, want the layer", res.StatusCode, body)
			}
			wantHosts := []string{u.Host}
			if redirect {
				wantHosts = append(wantHosts, s3host)
			}
			if fmt.Sprint(auth.hosts) != fmt.Sprint(wantHosts) {
				t.Errorf("hosts asked %v, want %v", auth.hosts, wantHosts)
			}
		})
	}
}
