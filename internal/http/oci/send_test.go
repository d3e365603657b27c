package oci

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/fs"
	spec "github.com/berth-registry/berth/internal/oci"
)

// Every way sendBody sends a blob — sendfile to another host, from a
// mapping to this host, through a buffer over TLS — delivers exactly the
// requested section of the file.
func TestSendBodyEveryPath(t *testing.T) {
	store, err := fs.New(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	b := blobtest.Data(3, 5<<20+777)
	d := spec.FromBytes(b)
	if err := store.Put(t.Context(), d, b); err != nil {
		t.Fatal(err)
	}
	const off, n = 1001, 5<<20 - 13 - 1001
	for _, c := range []struct {
		name   string
		remote string // the peer address the handler sees
		tls    bool
	}{
		{"another host: sendfile", "203.0.113.7:40000", false},
		{"this host: mapped", "", false},
		{"this host over TLS: buffered", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.remote != "" {
					r.RemoteAddr = c.remote
				}
				rc, err := store.Open(r.Context(), d, off, n)
				if err != nil {
					t.Error(err)
					return
				}
				defer rc.Close()
				if sent, err := sendBody(w, r, rc, n); err != nil || sent != n {
					t.Errorf("sent %d, %v", sent, err)
				}
			})
			srv := httptest.NewUnstartedServer(h)
			if c.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			hc := srv.Client()
			if c.tls {
				hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
			}
			res, err := hc.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b[off:off+n]) {
				t.Fatalf("got %d bytes that differ from the section of %d", len(got), n)
			}
		})
	}
}
