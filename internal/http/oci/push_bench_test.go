package oci_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// BenchmarkPushLarge pushes one 256 MiB layer over loopback HTTP into
// SQLite and the filesystem store, monolithically and in 16 MiB chunks:
// the path whose CPU and block profiles tell what a push costs beyond
// hashing and one fsync.
func BenchmarkPushLarge(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := meta.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	store, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := registry.New(db, store, registry.WithLogger(log))
	srv := httptest.NewServer(ocihttp.New(svc, ocihttp.WithLogger(log)))
	defer srv.Close()
	hc := srv.Client()
	data := make([]byte, 256<<20)
	rand.Read(data)

	do := func(method, url string, body []byte, hdr ...string) *http.Response {
		b.Helper()
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, url, rd)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	// Each iteration changes the first bytes so that every push stores
	// new content rather than finding the blob already there.
	next := func(i int) spec.Digest {
		copy(data, fmt.Sprintf("%016d", i))
		return spec.FromBytes(data)
	}
	b.Run("monolithic", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		i := 0
		for b.Loop() {
			b.StopTimer()
			d := next(i)
			i++
			b.StartTimer()
			res := do("POST", srv.URL+"/v2/bench/large/blobs/uploads/?digest="+string(d), data, "Content-Type", "application/octet-stream")
			if res.StatusCode != http.StatusCreated {
				b.Fatalf("push: %s", res.Status)
			}
		}
	})
	b.Run("chunked16MiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		i := 1 << 30
		for b.Loop() {
			b.StopTimer()
			d := next(i)
			i++
			b.StartTimer()
			res := do("POST", srv.URL+"/v2/bench/large/blobs/uploads/", nil)
			loc := res.Header.Get("Location")
			const chunk = 16 << 20
			for off := 0; off < len(data); off += chunk {
				res = do("PATCH", srv.URL+loc, data[off:off+chunk], "Content-Type", "application/octet-stream",
					"Content-Range", fmt.Sprintf("%d-%d", off, off+chunk-1))
				if res.StatusCode != http.StatusAccepted {
					b.Fatalf("patch: %s", res.Status)
				}
				loc = res.Header.Get("Location")
			}
			res = do("PUT", srv.URL+loc+"?digest="+string(d), nil)
			if res.StatusCode != http.StatusCreated {
				b.Fatalf("put: %s", res.Status)
			}
		}
	})
}
