package oci_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	spec "github.com/berth-registry/berth/internal/oci"
)

func TestBase(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("GET", "/v2/", nil)
		e.expect(r, http.StatusOK, "GET /v2/")
		if string(bytes.TrimSpace(r.Body)) != "{}" {
			t.Fatalf("body %q", r.Body)
		}
		r = e.do("GET", "/v2", nil)
		e.expect(r, http.StatusOK, "GET /v2")
	})
}

func TestMonolithicUploadAndPull(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := randomBytes(t, 4096)
		d := spec.FromBytes(b)
		r := e.do("POST", "/v2/lib/app/blobs/uploads/?digest="+string(d), b)
		e.expect(r, http.StatusCreated, "POST with digest")
		if got := r.Header.Get("Location"); got != "/v2/lib/app/blobs/"+string(d) {
			t.Fatalf("Location %q", got)
		}
		if got := r.Header.Get("Docker-Content-Digest"); got != string(d) {
			t.Fatalf("Docker-Content-Digest %q", got)
		}
		r = e.do("HEAD", "/v2/lib/app/blobs/"+string(d), nil)
		e.expect(r, http.StatusOK, "HEAD blob")
		if r.Header.Get("Content-Length") != "4096" || len(r.Body) != 0 {
			t.Fatalf("HEAD: length %q body %d", r.Header.Get("Content-Length"), len(r.Body))
		}
		r = e.do("GET", "/v2/lib/app/blobs/"+string(d), nil)
		e.expect(r, http.StatusOK, "GET blob")
		if !bytes.Equal(r.Body, b) {
			t.Fatal("pulled bytes differ")
		}
		if r.Header.Get("Docker-Content-Digest") != string(d) || r.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("headers %v", r.Header)
		}
		// The bytes sit at their content address on disk.
		onDisk, err := os.ReadFile(filepath.Join(e.root, "blobs", "sha256", d.Hex()[:2], d.Hex()))
		if err != nil || !bytes.Equal(onDisk, b) {
			t.Fatalf("bytes on disk: %v", err)
		}
		if n := e.count("SELECT count(*) FROM blobs WHERE digest = ? AND state = 'live' AND size = 4096", string(d)); n != 1 {
			t.Fatalf("blob rows %d", n)
		}
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("upload rows left: %d", n)
		}
		// Another repository cannot see the blob without a mount.
		e.do("POST", "/v2/other/blobs/uploads/?digest="+string(spec.FromBytes([]byte("x"))), []byte("x"))
		r = e.do("GET", "/v2/other/blobs/"+string(d), nil)
		e.expect(r, http.StatusNotFound, "GET blob from another repo")
		if r.errCode() != "BLOB_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}
	})
}

func TestChunkedUpload(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := randomBytes(t, 3000)
		d := spec.FromBytes(b)
		r := e.do("POST", "/v2/chunky/blobs/uploads/", nil)
		e.expect(r, http.StatusAccepted, "start upload")
		loc := r.Header.Get("Location")
		if !strings.HasPrefix(loc, "/v2/chunky/blobs/uploads/") || r.Header.Get("Range") != "0-0" ||
			r.Header.Get("Docker-Upload-UUID") == "" || r.Header.Get("OCI-Chunk-Min-Length") == "" {
			t.Fatalf("start headers %v", r.Header)
		}
		for i, c := range [][2]int{{0, 1000}, {1000, 2000}} {
			r = e.do("PATCH", loc, b[c[0]:c[1]], "Content-Range", fmt.Sprintf("%d-%d", c[0], c[1]-1), "Content-Type", "application/octet-stream")
			e.expect(r, http.StatusAccepted, fmt.Sprintf("chunk %d", i))
			if got := r.Header.Get("Range"); got != fmt.Sprintf("0-%d", c[1]-1) {
				t.Fatalf("chunk %d: Range %q", i, got)
			}
			loc = r.Header.Get("Location")
		}
		// An out-of-order chunk is refused with 416 and the current state.
		r = e.do("PATCH", loc, b[2500:], "Content-Range", "2500-2999")
		e.expect(r, http.StatusRequestedRangeNotSatisfiable, "out-of-order chunk")
		if r.Header.Get("Range") != "0-1999" || r.Header.Get("Location") == "" {
			t.Fatalf("416 headers %v", r.Header)
		}
		// A Content-Range that disagrees with the body length is refused.
		r = e.do("PATCH", loc, b[2000:2100], "Content-Range", "2000-2999")
		e.expect(r, http.StatusRequestedRangeNotSatisfiable, "range/length mismatch")
		r = e.do("GET", loc, nil)
		e.expect(r, http.StatusNoContent, "upload status")
		if r.Header.Get("Range") != "0-1999" {
			t.Fatalf("status Range %q", r.Header.Get("Range"))
		}
		// The last chunk arrives with the PUT.
		r = e.do("PUT", loc+"?digest="+string(d), b[2000:], "Content-Range", "2000-2999")
		e.expect(r, http.StatusCreated, "final PUT")
		r = e.do("GET", "/v2/chunky/blobs/"+string(d), nil)
		if !bytes.Equal(r.Body, b) {
			t.Fatal("chunked blob differs")
		}
		// The session is gone.
		r = e.do("GET", loc, nil)
		e.expect(r, http.StatusNotFound, "finished session")
		if r.errCode() != "BLOB_UPLOAD_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}
	})
}

func TestStreamedUploadSHA512(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := randomBytes(t, 70000)
		d, _ := spec.FromBytesAlg(spec.SHA512, b)
		r := e.do("POST", "/v2/s512/blobs/uploads/", nil)
		loc := r.Header.Get("Location")
		r = e.do("PATCH", loc, b) // no Content-Range: streamed
		e.expect(r, http.StatusAccepted, "stream")
		r = e.do("PUT", r.Header.Get("Location")+"?digest="+string(d), nil)
		e.expect(r, http.StatusCreated, "complete sha512")
		if r.Header.Get("Docker-Content-Digest") != string(d) {
			t.Fatalf("digest header %q", r.Header.Get("Docker-Content-Digest"))
		}
		r = e.do("GET", "/v2/s512/blobs/"+string(d), nil)
		e.expect(r, http.StatusOK, "GET sha512 blob")
		if !bytes.Equal(r.Body, b) {
			t.Fatal("sha512 blob differs")
		}
		// Monolithic sha512 with the algorithm chosen up front.
		b2 := randomBytes(t, 10)
		d2, _ := spec.FromBytesAlg(spec.SHA512, b2)
		r = e.do("POST", "/v2/s512/blobs/uploads/?digest="+string(d2), b2)
		e.expect(r, http.StatusCreated, "monolithic sha512")
	})
}

func TestBadDigestsChangeNothing(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := randomBytes(t, 100)
		wrong := spec.FromBytes([]byte("something else"))
		r := e.do("POST", "/v2/bad/blobs/uploads/?digest="+string(wrong), b)
		e.expect(r, http.StatusBadRequest, "monolithic wrong digest")
		if r.errCode() != "DIGEST_INVALID" {
			t.Fatalf("code %q", r.errCode())
		}
		for _, d := range []string{"sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + strings.Repeat("G", 64), "nonsense"} {
			r = e.do("POST", "/v2/bad/blobs/uploads/?digest="+d, b)
			e.expect(r, http.StatusBadRequest, "malformed digest "+d)
			r = e.do("GET", "/v2/bad/blobs/"+d, nil)
			e.expect(r, http.StatusBadRequest, "GET malformed digest "+d)
		}
		// Post + put with a wrong digest.
		r = e.do("POST", "/v2/bad/blobs/uploads/", nil)
		loc := r.Header.Get("Location")
		r = e.do("PUT", loc+"?digest="+string(wrong), b)
		e.expect(r, http.StatusBadRequest, "PUT wrong digest")
		r = e.do("GET", loc, nil)
		e.expect(r, http.StatusNotFound, "session after failed PUT") // the session was dropped
		if n := e.count("SELECT count(*) FROM blobs"); n != 0 {
			t.Fatalf("blob rows after bad uploads: %d", n)
		}
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("upload rows after bad uploads: %d", n)
		}
		entries, _ := os.ReadDir(filepath.Join(e.root, "uploads"))
		if len(entries) != 0 {
			t.Fatalf("upload data left: %d files", len(entries))
		}
		// PUT without a digest.
		r = e.do("POST", "/v2/bad/blobs/uploads/", nil)
		r = e.do("PUT", r.Header.Get("Location"), b)
		e.expect(r, http.StatusBadRequest, "PUT without digest")
	})
}

func TestRangeReads(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := randomBytes(t, 2048)
		d := e.pushBlob("ranges", b)
		cases := []struct {
			rng    string
			status int
			lo, hi int // expected body b[lo:hi]
			cr     string
		}{
			{"bytes=500-1499", 206, 500, 1500, "bytes 500-1499/2048"},
			{"bytes=500-", 206, 500, 2048, "bytes 500-2047/2048"},
			{"bytes=-500", 206, 1548, 2048, "bytes 1548-2047/2048"},
			{"bytes=2000-5000", 206, 2000, 2048, "bytes 2000-2047/2048"},
			{"bytes=500-0", 416, 0, 0, "bytes */2048"},
			{"bytes=5000-10000", 416, 0, 0, "bytes */2048"},
			{"bytes=0-1,5-6", 200, 0, 2048, ""},
			{"items=1-2", 200, 0, 2048, ""},
		}
		for _, c := range cases {
			r := e.do("GET", "/v2/ranges/blobs/"+string(d), nil, "Range", c.rng)
			e.expect(r, c.status, c.rng)
			if r.Header.Get("Content-Range") != c.cr {
				t.Fatalf("%s: Content-Range %q want %q", c.rng, r.Header.Get("Content-Range"), c.cr)
			}
			if c.status != 416 {
				if !bytes.Equal(r.Body, b[c.lo:c.hi]) || r.Header.Get("Content-Length") != strconv.Itoa(c.hi-c.lo) {
					t.Fatalf("%s: got %d bytes", c.rng, len(r.Body))
				}
			}
		}
	})
}

func TestMount(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := randomBytes(t, 512)
		d := e.pushBlob("src/repo", b)
		r := e.do("POST", "/v2/dst/repo/blobs/uploads/?mount="+string(d)+"&from=src/repo", nil)
		e.expect(r, http.StatusCreated, "mount from")
		if r.Header.Get("Location") != "/v2/dst/repo/blobs/"+string(d) {
			t.Fatalf("Location %q", r.Header.Get("Location"))
		}
		r = e.do("GET", "/v2/dst/repo/blobs/"+string(d), nil)
		if !bytes.Equal(r.Body, b) {
			t.Fatal("mounted blob differs")
		}
		// Without from: automatic mount.
		r = e.do("POST", "/v2/auto/blobs/uploads/?mount="+string(d), nil)
		e.expect(r, http.StatusCreated, "anonymous mount")
		// A blob the source does not have: an ordinary upload session.
		missing := spec.FromBytes([]byte("missing"))
		r = e.do("POST", "/v2/dst/repo/blobs/uploads/?mount="+string(missing)+"&from=src/repo", nil)
		e.expect(r, http.StatusAccepted, "mount missing")
		if !strings.HasPrefix(r.Header.Get("Location"), "/v2/dst/repo/blobs/uploads/") {
			t.Fatalf("Location %q", r.Header.Get("Location"))
		}
		if n := e.count("SELECT count(*) FROM repo_blobs WHERE digest = ?", string(d)); n != 3 {
			t.Fatalf("links %d, want 3", n)
		}
		// Deleting from one repository leaves the others.
		r = e.do("DELETE", "/v2/src/repo/blobs/"+string(d), nil)
		e.expect(r, http.StatusAccepted, "delete blob")
		e.expect(e.do("HEAD", "/v2/src/repo/blobs/"+string(d), nil), http.StatusNotFound, "deleted blob")
		e.expect(e.do("HEAD", "/v2/dst/repo/blobs/"+string(d), nil), http.StatusOK, "still mounted")
		e.expect(e.do("DELETE", "/v2/src/repo/blobs/"+string(d), nil), http.StatusNotFound, "delete twice")
	})
}

func TestCancelUpload(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/v2/cancel/blobs/uploads/", nil)
		loc := r.Header.Get("Location")
		e.expect(e.do("PATCH", loc, []byte("partial")), http.StatusAccepted, "chunk")
		e.expect(e.do("DELETE", loc, nil), http.StatusNoContent, "cancel")
		e.expect(e.do("GET", loc, nil), http.StatusNotFound, "status after cancel")
		entries, _ := os.ReadDir(filepath.Join(e.root, "uploads"))
		if len(entries) != 0 || e.count("SELECT count(*) FROM uploads") != 0 {
			t.Fatal("cancelled upload left data or rows")
		}
		// An upload id from one repository is unknown in another.
		r = e.do("POST", "/v2/one/blobs/uploads/", nil)
		id := r.Header.Get("Docker-Upload-UUID")
		e.do("POST", "/v2/two/blobs/uploads/", nil)
		e.expect(e.do("GET", "/v2/two/blobs/uploads/"+id, nil), http.StatusNotFound, "foreign session")
		e.expect(e.do("GET", "/v2/one/blobs/uploads/not-a-uuid", nil), http.StatusNotFound, "bad id")
	})
}
