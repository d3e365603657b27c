package oci_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

// These tests hold DESIGN.md's invariant 5: bad input gets a clear error
// in the OCI format, never a 500, and changes nothing.

// backendsWithOptions is backends for a registry built with opts.
func backendsWithOptions(t *testing.T, opts []registry.Option, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, filepath.Join(t.TempDir(), "berth.db"), opts...))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, newEnv(t, pgtest.DSN(t), opts...))
	})
}

// state is what bad input must leave alone: row counts and every path
// under the directory that holds the store root (and the SQLite file).
type state struct {
	Rows  map[string]int
	Paths []string
}

var stateQueries = map[string]string{
	"repositories":    "SELECT count(*) FROM repositories",
	"blobs":           "SELECT count(*) FROM blobs",
	"repo_blobs":      "SELECT count(*) FROM repo_blobs",
	"manifests":       "SELECT count(*) FROM manifests",
	"tags":            "SELECT count(*) FROM tags",
	"uploads":         "SELECT count(*) FROM uploads",
	"uploads_started": "SELECT count(*) FROM uploads WHERE upload_offset > 0",
}

func (e *env) state() state {
	e.t.Helper()
	s := state{Rows: map[string]int{}}
	for k, q := range stateQueries {
		s.Rows[k] = e.count(q)
	}
	top := filepath.Dir(e.root)
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(top, p)
		s.Paths = append(s.Paths, rel)
		return nil
	})
	if err != nil {
		e.t.Fatalf("walk %s: %v", top, err)
	}
	return s
}

func (e *env) wantState(before state, what string) {
	e.t.Helper()
	if diff := cmp.Diff(before, e.state()); diff != "" {
		e.t.Fatalf("%s changed state (-before +after):\n%s", what, diff)
	}
}

// wantError checks that r is an error answer with status among statuses,
// in the OCI format (HEAD answers have no body), with code when given.
func wantError(t *testing.T, r resp, method, what, code string, statuses ...int) {
	t.Helper()
	if !slices.Contains(statuses, r.Status) {
		t.Fatalf("%s: status %d, want one of %v; body %s", what, r.Status, statuses, r.Body)
	}
	if r.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("%s: no Docker-Distribution-API-Version header", what)
	}
	if method == http.MethodHead {
		return
	}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Errors) == 0 || body.Errors[0].Code == "" {
		t.Fatalf("%s: body is not an OCI error: %q", what, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	if code != "" && body.Errors[0].Code != code {
		t.Fatalf("%s: code %q, want %q (%s)", what, body.Errors[0].Code, code, body.Errors[0].Message)
	}
}

// hostileNames are repository names, as written into a URL path, that
// must never reach storage.
var hostileNames = []string{
	"..", ".", "../etc/passwd", "a/../../b", "a/./b", "a/..", "../../../../tmp/x",
	"a%2F..%2Fb", "%2e%2e", "%2E%2E/etc", "a/%2e%2e/b", "..%2fetc", "%2fetc%2fpasswd",
	"Upper", "UPPER/case", "a//b", "/a", "a/", "//", "a\\..\\b",
	strings.Repeat("a", 300), strings.Repeat("ab/", 90) + "c",
	"a%00b", "%00", "ünïcode", "a%20b", "a b", "-a", "a-", "a..b", "a___b", "a;b", "~root",
}

// hostileRefs are tags, digests and upload ids that must never reach storage.
var hostileRefs = []string{
	"..", ".", "%2e%2e", "..%2f..%2fetc%2fpasswd", "a%00", strings.Repeat("t", 300), "%2F",
	"sha256:..", "sha256:../../etc/passwd", "ünïcode",
}

// hostileRequests lists every route kind under each hostile name, and
// every hostile reference under a real repository.
func hostileRequests(loc string, d spec.Digest) [][2]string {
	var out [][2]string
	for _, n := range hostileNames {
		for _, mp := range [][2]string{
			{"GET", "/tags/list"},
			{"GET", "/manifests/latest"}, {"HEAD", "/manifests/latest"}, {"PUT", "/manifests/latest"}, {"DELETE", "/manifests/latest"},
			{"GET", "/blobs/" + string(d)}, {"HEAD", "/blobs/" + string(d)}, {"DELETE", "/blobs/" + string(d)},
			{"POST", "/blobs/uploads/"}, {"POST", "/blobs/uploads/?digest=" + string(d)},
			{"POST", "/blobs/uploads/?mount=" + string(d) + "&from=ok"},
			{"GET", strings.TrimPrefix(loc, "/v2/ok")}, {"PATCH", strings.TrimPrefix(loc, "/v2/ok")},
			{"PUT", strings.TrimPrefix(loc, "/v2/ok") + "?digest=" + string(d)}, {"DELETE", strings.TrimPrefix(loc, "/v2/ok")},
			{"GET", "/referrers/" + string(d)},
		} {
			out = append(out, [2]string{mp[0], "/v2/" + n + mp[1]})
		}
	}
	for _, ref := range hostileRefs {
		out = append(out,
			[2]string{"GET", "/v2/ok/manifests/" + ref}, [2]string{"PUT", "/v2/ok/manifests/" + ref},
			[2]string{"DELETE", "/v2/ok/manifests/" + ref},
			[2]string{"GET", "/v2/ok/blobs/" + ref}, [2]string{"DELETE", "/v2/ok/blobs/" + ref},
			[2]string{"GET", "/v2/ok/blobs/uploads/" + ref}, [2]string{"PATCH", "/v2/ok/blobs/uploads/" + ref},
			[2]string{"PUT", "/v2/ok/blobs/uploads/" + ref + "?digest=" + string(d)},
			[2]string{"GET", "/v2/ok/referrers/" + ref},
		)
	}
	for _, p := range []string{
		"/v2/ok/tags/list/", "/v2/ok/manifests/latest/", "/v2/ok/blobs/" + string(d) + "/",
		"/v2/ok/manifests/", "/v2/ok/blobs/", "/v2/ok/", "/v2/ok", "/v2/../v2/ok/tags/list",
		"/v2/ok/tags", "/v2/_catalog/", "/v2/_catalog/x", "/v3/ok/tags/list", "/v2/ok/manifests/latest/../../../x",
		"/v2/ok/blobs/uploads/a/b", "/v2//", "/v2/%2e%2e/%2e%2e/etc/passwd/tags/list",
	} {
		out = append(out, [2]string{"GET", p}, [2]string{"PUT", p})
	}
	return out
}

func TestHostilePaths(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		// A real repository that a traversal might try to reach.
		body, _ := e.image("ok", 1, nil)
		e.expect(e.putManifest("ok", "latest", body, spec.MediaTypeImageManifest), http.StatusCreated, "push ok:latest")
		r := e.do("POST", "/v2/ok/blobs/uploads/", nil)
		e.expect(r, http.StatusAccepted, "start upload in ok")
		loc := r.Header.Get("Location")
		payload := randomBytes(t, 64)
		d := spec.FromBytes(payload)

		before := e.state()
		for _, req := range hostileRequests(loc, d) {
			method, path := req[0], req[1]
			what := method + " " + path
			var b []byte
			switch method {
			case "PUT", "PATCH", "POST":
				b = payload
				if strings.Contains(path, "/manifests/") {
					b = body
				}
			}
			r := e.do(method, path, b, "Content-Type", spec.MediaTypeImageManifest)
			wantError(t, r, method, what, "", http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed)
		}
		e.wantState(before, "hostile paths")
		// The real repository is untouched.
		r = e.do("GET", "/v2/ok/manifests/latest", nil)
		e.expect(r, http.StatusOK, "GET ok:latest")
		if !bytes.Equal(r.Body, body) {
			t.Fatal("ok:latest changed")
		}
		r = e.do("GET", loc, nil)
		e.expect(r, http.StatusNoContent, "upload status")
		if r.Header.Get("Range") != "0-0" {
			t.Fatalf("upload in ok: Range %q after hostile requests", r.Header.Get("Range"))
		}
	})
}

func TestHostileNamesAnswer(t *testing.T) {
	// The codes a client can act on, for the common cases.
	backends(t, func(t *testing.T, e *env) {
		before := e.state()
		cases := []struct {
			method, path string
			status       int
			code         string
		}{
			{"GET", "/v2/../etc/passwd/blobs/" + string(spec.FromBytes(nil)), 400, "NAME_INVALID"},
			{"GET", "/v2/a/../../b/manifests/x", 400, "NAME_INVALID"},
			{"GET", "/v2/a%2F..%2Fb/tags/list", 400, "NAME_INVALID"},
			{"GET", "/v2/%2e%2e/tags/list", 400, "NAME_INVALID"},
			{"POST", "/v2/Upper/blobs/uploads/", 400, "NAME_INVALID"},
			{"POST", "/v2/a//b/blobs/uploads/", 400, "NAME_INVALID"},
			{"POST", "/v2/" + strings.Repeat("a", 300) + "/blobs/uploads/", 400, "NAME_INVALID"},
			{"POST", "/v2/a%00/blobs/uploads/", 400, "NAME_INVALID"},
			{"POST", "/v2/ünïcode/blobs/uploads/", 400, "NAME_INVALID"},
			{"GET", "/v2/nosuchrepo/tags/list", 404, "NAME_UNKNOWN"},
			{"GET", "/v2/a/tags/list/", 404, "NOT_FOUND"},
		}
		for _, c := range cases {
			r := e.do(c.method, c.path, nil)
			wantError(t, r, c.method, c.method+" "+c.path, c.code, c.status)
		}
		e.wantState(before, "hostile names")
	})
}

func TestWrongDigests(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := e.image("dig", 1, nil)
		e.expect(e.putManifest("dig", "v1", body, spec.MediaTypeImageManifest), http.StatusCreated, "push dig:v1")
		r := e.do("POST", "/v2/dig/blobs/uploads/", nil)
		loc := r.Header.Get("Location")
		chunk := randomBytes(t, 100)
		e.expect(e.do("PATCH", loc, chunk, "Content-Range", "0-99"), http.StatusAccepted, "PATCH")
		hex64 := strings.Repeat("ab", 32)
		malformed := []string{
			"sha256:abc", "sha256:" + strings.ToUpper(hex64), "sha512:" + hex64, "md5:d41d8cd98f00b204e9800998ecf8427e",
			"sha256:" + hex64[:63] + "g", "sha256:", ":" + hex64, "sha256:" + hex64 + "00", "SHA256:" + hex64,
			"sha256+b64:" + hex64, "sha256:" + hex64 + "%0a",
		}
		unknown := string(spec.FromBytes([]byte("never pushed")))

		before := e.state()
		for _, m := range malformed {
			for _, req := range [][2]string{
				{"GET", "/v2/dig/blobs/" + m}, {"HEAD", "/v2/dig/blobs/" + m}, {"DELETE", "/v2/dig/blobs/" + m},
				{"GET", "/v2/dig/manifests/" + m}, {"HEAD", "/v2/dig/manifests/" + m}, {"DELETE", "/v2/dig/manifests/" + m},
				{"PUT", "/v2/dig/manifests/" + m}, {"GET", "/v2/dig/referrers/" + m},
				{"POST", "/v2/dig/blobs/uploads/?digest=" + url.QueryEscape(m)},
				{"POST", "/v2/dig/blobs/uploads/?mount=" + url.QueryEscape(m) + "&from=dig"},
				{"PUT", loc + "?digest=" + url.QueryEscape(m)},
			} {
				var b []byte
				if req[0] == "PUT" || req[0] == "POST" {
					b = body
				}
				r := e.do(req[0], req[1], b, "Content-Type", spec.MediaTypeImageManifest)
				wantError(t, r, req[0], req[0]+" "+req[1], "", http.StatusBadRequest, http.StatusNotFound)
				if req[0] != "HEAD" && r.Status == http.StatusBadRequest && !slices.Contains([]string{"DIGEST_INVALID", "NAME_INVALID", "MANIFEST_INVALID"}, r.errCode()) {
					t.Fatalf("%s %s: code %q", req[0], req[1], r.errCode())
				}
			}
		}
		for _, req := range []struct{ method, path, code string }{
			{"GET", "/v2/dig/blobs/" + unknown, "BLOB_UNKNOWN"},
			{"DELETE", "/v2/dig/blobs/" + unknown, "BLOB_UNKNOWN"},
			{"GET", "/v2/dig/manifests/" + unknown, "MANIFEST_UNKNOWN"},
			{"DELETE", "/v2/dig/manifests/" + unknown, "MANIFEST_UNKNOWN"},
		} {
			wantError(t, e.do(req.method, req.path, nil), req.method, req.method+" "+req.path, req.code, http.StatusNotFound)
		}
		e.wantState(before, "malformed and unknown digests")

		// A manifest whose descriptors carry bad digests.
		for _, bad := range []string{"sha256:abc", unknown} {
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			doc["layers"].([]any)[0].(map[string]any)["digest"] = bad
			m, _ := json.Marshal(doc)
			r := e.putManifest("dig", "bad", m, spec.MediaTypeImageManifest)
			wantError(t, r, "PUT", "manifest with layer "+bad, "", http.StatusBadRequest)
			if c := r.errCode(); c != "MANIFEST_INVALID" && c != "MANIFEST_BLOB_UNKNOWN" && c != "DIGEST_INVALID" {
				t.Fatalf("manifest with layer %s: code %q", bad, c)
			}
		}
		e.wantState(before, "manifests with bad descriptors")

		// A well-formed digest that the content does not have ends the
		// session and stores nothing.
		r = e.do("PUT", loc+"?digest="+unknown, nil)
		wantError(t, r, "PUT", "PUT wrong digest", "DIGEST_INVALID", http.StatusBadRequest)
		if n := e.count("SELECT count(*) FROM blobs WHERE digest = ?", unknown); n != 0 {
			t.Fatalf("a blob row for the wrong digest")
		}
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("%d upload rows after a wrong digest", n)
		}
	})
}

func TestOversizedManifest(t *testing.T) {
	backendsWithOptions(t, []registry.Option{registry.WithMaxManifestSize(1024)}, func(t *testing.T, e *env) {
		body, _ := e.image("big", 1, map[string]any{"annotations": map[string]string{"pad": strings.Repeat("x", 2000)}})
		before := e.state()
		r := e.putManifest("big", "v1", body, spec.MediaTypeImageManifest)
		wantError(t, r, "PUT", "oversized manifest", "SIZE_INVALID", http.StatusRequestEntityTooLarge)
		// Without a Content-Length the limit holds while reading.
		req, err := http.NewRequest("PUT", e.srv.URL+"/v2/big/manifests/v1", io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Header.Set("Content-Type", spec.MediaTypeImageManifest)
		wantError(t, e.send(req), "PUT", "streamed oversized manifest", "SIZE_INVALID", http.StatusRequestEntityTooLarge)
		e.wantState(before, "oversized manifests")
	})
}

func TestChunkLimit(t *testing.T) {
	const limit = 64 << 10
	backendsWithOptions(t, []registry.Option{registry.WithMaxChunk(limit)}, func(t *testing.T, e *env) {
		data := randomBytes(t, 200<<10)
		d := spec.FromBytes(data)
		before := e.state()

		// Monolithic uploads over the limit store nothing.
		r := e.do("POST", "/v2/lim/blobs/uploads/?digest="+string(d), data)
		wantError(t, r, "POST", "monolithic POST over the limit", "SIZE_INVALID", http.StatusRequestEntityTooLarge)
		if n := e.count("SELECT count(*) FROM blobs"); n != before.Rows["blobs"] {
			t.Fatalf("blob rows after a refused monolithic upload: %d", n)
		}
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("upload rows after a refused monolithic upload: %d", n)
		}

		for _, withRange := range []bool{false, true} {
			r = e.do("POST", "/v2/lim/blobs/uploads/", nil)
			e.expect(r, http.StatusAccepted, "start upload")
			loc := r.Header.Get("Location")
			var hdr []string
			if withRange {
				hdr = []string{"Content-Range", fmt.Sprintf("0-%d", len(data)-1)}
			}
			r = e.do("PATCH", loc, data, hdr...)
			wantError(t, r, "PATCH", fmt.Sprintf("PATCH over the limit (Content-Range %v)", withRange), "SIZE_INVALID", http.StatusRequestEntityTooLarge)
			// The session holds no more than the limit, and exactly what it says.
			stored := e.uploadOffset(loc)
			if stored > limit {
				t.Fatalf("the session took %d bytes, more than the limit %d", stored, limit)
			}
			r = e.do("PUT", loc+"?digest="+string(d), data[stored:], "Content-Range", fmt.Sprintf("%d-%d", stored, len(data)-1))
			wantError(t, r, "PUT", "closing PUT over the limit", "SIZE_INVALID", http.StatusRequestEntityTooLarge)
			e.expect(e.do("HEAD", "/v2/lim/blobs/"+string(d), nil), http.StatusNotFound, "HEAD the blob of a refused body")
			stored = e.uploadOffset(loc)
			for stored < int64(len(data)) {
				end := min(stored+limit, int64(len(data)))
				r = e.do("PATCH", loc, data[stored:end], "Content-Range", fmt.Sprintf("%d-%d", stored, end-1))
				e.expect(r, http.StatusAccepted, "resume in chunks under the limit")
				stored = end
			}
			r = e.do("PUT", loc+"?digest="+string(d), nil)
			e.expect(r, http.StatusCreated, "complete")
			r = e.do("GET", "/v2/lim/blobs/"+string(d), nil)
			if !bytes.Equal(r.Body, data) {
				t.Fatal("the resumed blob differs from the data")
			}
			e.expect(e.do("DELETE", "/v2/lim/blobs/"+string(d), nil), http.StatusAccepted, "delete")
		}
	})
}

// uploadOffset reads an upload session's offset from GET status.
func (e *env) uploadOffset(loc string) int64 {
	e.t.Helper()
	r := e.do("GET", loc, nil)
	e.expect(r, http.StatusNoContent, "upload status")
	var end int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "0-%d", &end); err != nil {
		e.t.Fatalf("upload status: Range %q", r.Header.Get("Range"))
	}
	if end == 0 && e.count("SELECT count(*) FROM uploads WHERE id = ? AND upload_offset = 0", uploadID(loc)) == 1 {
		return 0
	}
	return end + 1
}

func uploadID(loc string) string {
	u, _ := url.Parse(loc)
	return u.Path[strings.LastIndexByte(u.Path, '/')+1:]
}

// send sends a prepared request and reads the whole answer.
func (e *env) send(req *http.Request) resp {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// raw writes a request head and body on a fresh TCP connection, then
// either half-closes it (and reads the answer) or drops it.
func (e *env) raw(method, path string, contentLength int, body []byte, hdr map[string]string, drop bool) (resp, bool) {
	e.t.Helper()
	u, _ := url.Parse(e.srv.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", method, path, u.Host, contentLength)
	for k, v := range hdr {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := c.Write(append([]byte(head.String()), body...)); err != nil {
		e.t.Fatal(err)
	}
	if drop {
		return resp{}, false
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		e.t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return resp{}, false // the server may drop a connection whose body ended early
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}, true
}

func TestTruncatedUploads(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		notCommitted := func(repo string, d spec.Digest, what string) {
			t.Helper()
			e.expect(e.do("HEAD", "/v2/"+repo+"/blobs/"+string(d), nil), http.StatusNotFound, what+": HEAD blob")
			if n := e.count("SELECT count(*) FROM blobs WHERE digest = ?", string(d)); n != 0 {
				t.Fatalf("%s: the blob was committed", what)
			}
		}
		answered := func(r resp, ok bool, what string) {
			t.Helper()
			if ok {
				wantError(t, r, "PUT", what, "", http.StatusBadRequest)
			}
		}

		// Monolithic POST whose body ends at half its Content-Length.
		data := randomBytes(t, 2000)
		d := spec.FromBytes(data)
		r, ok := e.raw("POST", "/v2/trunc/post/blobs/uploads/?digest="+string(d), len(data), data[:1000], nil, false)
		answered(r, ok, "truncated monolithic POST")
		notCommitted("trunc/post", d, "truncated monolithic POST")
		waitUntil(t, "the truncated monolithic POST to drop its session", func() bool {
			entries, _ := os.ReadDir(filepath.Join(e.root, "uploads"))
			return e.count("SELECT count(*) FROM uploads") == 0 && len(entries) == 0
		})

		// Closing PUT whose body ends early.
		data = randomBytes(t, 2000)
		d = spec.FromBytes(data)
		r = e.do("POST", "/v2/trunc/put/blobs/uploads/", nil)
		e.expect(r, http.StatusAccepted, "start upload")
		loc := r.Header.Get("Location")
		e.expect(e.do("PATCH", loc, data[:500], "Content-Range", "0-499"), http.StatusAccepted, "first chunk")
		r, ok = e.raw("PUT", loc+"?digest="+string(d), 1500, data[500:1000], map[string]string{"Content-Range": "500-1999"}, false)
		answered(r, ok, "truncated PUT")
		notCommitted("trunc/put", d, "truncated PUT")
		e.wantWholeSession(loc, data, "truncated PUT")

		// An http.Request whose body fails before its Content-Length.
		data = randomBytes(t, 2000)
		d = spec.FromBytes(data)
		r = e.do("POST", "/v2/trunc/client/blobs/uploads/", nil)
		loc = r.Header.Get("Location")
		req, err := http.NewRequest("PUT", e.srv.URL+loc+"?digest="+string(d), io.MultiReader(bytes.NewReader(data[:1000]), errReader{io.ErrUnexpectedEOF}))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(data))
		if res, err := e.srv.Client().Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode < 400 || res.StatusCode >= 500 {
				t.Fatalf("PUT with a failing body: status %d", res.StatusCode)
			}
		}
		notCommitted("trunc/client", d, "PUT with a failing body")
		e.wantWholeSession(loc, data, "PUT with a failing body")
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// wantWholeSession checks that a session hurt by a broken request is
// either gone entirely (row and data) or intact: it resumes from the
// offset it reports to the right blob. The server may still be finishing
// the broken request; a resume that loses that race gets 416 and retries.
func (e *env) wantWholeSession(loc string, data []byte, what string) {
	e.t.Helper()
	id := uploadID(loc)
	d := spec.FromBytes(data)
	for range 50 {
		r := e.do("GET", loc, nil)
		if r.Status == http.StatusNotFound {
			waitUntil(e.t, what+": the rest of the session to go", func() bool {
				_, err := os.Stat(filepath.Join(e.root, "uploads", id))
				return e.count("SELECT count(*) FROM uploads WHERE id = ?", id) == 0 && errors.Is(err, fs.ErrNotExist)
			})
			return
		}
		stored := e.uploadOffset(loc)
		r = e.do("PUT", loc+"?digest="+string(d), data[stored:], "Content-Range", fmt.Sprintf("%d-%d", stored, len(data)-1))
		if r.Status == http.StatusRequestedRangeNotSatisfiable {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if r.Status != http.StatusCreated {
			e.t.Fatalf("%s: resuming the session from byte %d: status %d %s", what, stored, r.Status, r.Body)
		}
		r = e.do("GET", blobPath(loc, d), nil)
		if !bytes.Equal(r.Body, data) {
			e.t.Fatalf("%s: the resumed blob differs", what)
		}
		return
	}
	e.t.Fatalf("%s: the session could not be resumed", what)
}

// waitUntil polls cond for up to 5 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blobPath turns an upload Location into the path of blob d in the same
// repository.
func blobPath(loc string, d spec.Digest) string {
	u, _ := url.Parse(loc)
	return strings.TrimSuffix(u.Path, "/uploads/"+uploadID(loc)) + "/" + string(d)
}

func TestDisconnectMidPatch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		data := randomBytes(t, 200_000)
		d := spec.FromBytes(data)
		r := e.do("POST", "/v2/gone/blobs/uploads/", nil)
		e.expect(r, http.StatusAccepted, "start upload")
		loc := r.Header.Get("Location")
		const sent = 100_000
		e.raw("PATCH", loc, len(data), data[:sent], map[string]string{"Content-Range": fmt.Sprintf("0-%d", len(data)-1)}, true)
		// The server notices the end of the body and keeps what arrived.
		deadline := time.Now().Add(10 * time.Second)
		var stored int64
		for {
			if stored = e.uploadOffset(loc); stored == sent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after a client left mid-PATCH the session holds %d bytes, want the %d that were sent", stored, sent)
			}
			time.Sleep(20 * time.Millisecond)
		}
		r = e.do("PATCH", loc, data[stored:], "Content-Range", fmt.Sprintf("%d-%d", stored, len(data)-1))
		e.expect(r, http.StatusAccepted, "resume")
		e.expect(e.do("PUT", loc+"?digest="+string(d), nil), http.StatusCreated, "complete")
		r = e.do("GET", "/v2/gone/blobs/"+string(d), nil)
		if !bytes.Equal(r.Body, data) {
			t.Fatal("the resumed blob differs")
		}
	})
}

func TestMalformedContentRange(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.do("POST", "/v2/cr/blobs/uploads/", nil)
		e.expect(r, http.StatusAccepted, "start upload")
		loc := r.Header.Get("Location")
		e.expect(e.do("PATCH", loc, []byte("0123456789"), "Content-Range", "0-9"), http.StatusAccepted, "first chunk")
		body := []byte("abcdefghij")
		d := spec.FromBytes(append([]byte("0123456789"), body...))
		before := e.state()
		for _, cr := range []string{
			"abc", "5-2", "-1-3", "10--19", "0-99999999999999999999", "99999999999999999999-99999999999999999999",
			"10-", "-", "-19", "1-2-3", "0x0a-0x13", "10 - 19", "bytes=10", "10-19,20-29",
			"9223372036854775807-9223372036854775807", "0-9223372036854775807", "10-18", "10-20", "0-9", "20-29",
			"\u00b9\u2070-19",
		} {
			for _, method := range []string{"PATCH", "PUT"} {
				path := loc
				if method == "PUT" {
					path += "?digest=" + string(d)
				}
				r := e.do(method, path, body, "Content-Range", cr)
				wantError(t, r, method, fmt.Sprintf("%s Content-Range %q", method, cr), "",
					http.StatusRequestedRangeNotSatisfiable, http.StatusBadRequest)
			}
		}
		e.wantState(before, "malformed Content-Range")
		if got := e.uploadOffset(loc); got != 10 {
			t.Fatalf("offset %d after malformed ranges, want 10", got)
		}
		e.expect(e.do("PUT", loc+"?digest="+string(d), body, "Content-Range", "10-19"), http.StatusCreated, "good range")
	})
}

func TestMethodNotAllowed(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.pushBlob("meth", []byte("x"))
		d := string(spec.FromBytes([]byte("x")))
		r := e.do("POST", "/v2/meth/blobs/uploads/", nil)
		loc := r.Header.Get("Location")
		before := e.state()
		cases := []struct {
			path    string
			methods []string
			allow   []string // nil: not checked
		}{
			{"/v2/_catalog", []string{"POST", "PUT", "DELETE", "PATCH"}, []string{"GET"}},
			{"/v2/meth/tags/list", []string{"POST", "DELETE"}, []string{"GET"}},
			{"/v2/meth/manifests/latest", []string{"POST", "PATCH", "FOO", "OPTIONS"}, []string{"DELETE", "GET", "HEAD", "PUT"}},
			{"/v2/meth/blobs/" + d, []string{"PUT", "POST", "PATCH"}, []string{"DELETE", "GET", "HEAD"}},
			{"/v2/meth/blobs/uploads/", []string{"GET", "PUT", "PATCH", "DELETE"}, []string{"POST"}},
			{loc, []string{"POST", "HEAD", "OPTIONS"}, []string{"DELETE", "GET", "PATCH", "PUT"}},
			{"/v2/meth/referrers/" + d, []string{"POST", "DELETE"}, []string{"GET"}},
			{"/v2/", []string{"POST", "DELETE"}, []string{"GET", "HEAD"}},
		}
		for _, c := range cases {
			for _, m := range c.methods {
				r := e.do(m, c.path, nil)
				what := m + " " + c.path
				wantError(t, r, m, what, "UNSUPPORTED", http.StatusMethodNotAllowed)
				if c.allow == nil {
					continue
				}
				var allow []string
				for _, a := range strings.Split(r.Header.Get("Allow"), ",") {
					allow = append(allow, strings.TrimSpace(a))
				}
				slices.Sort(allow)
				if !slices.Equal(allow, c.allow) {
					t.Fatalf("%s: Allow %q, want %v", what, r.Header.Get("Allow"), c.allow)
				}
			}
		}
		e.wantState(before, "unknown methods")
	})
}

func TestBadPagination(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.pushBlob("page", []byte("x"))
		before := e.state()
		for _, base := range []string{"/v2/_catalog", "/v2/page/tags/list"} {
			for _, q := range []string{"n=-1", "n=abc", "n=1e3", "n=99999999999999999999", "n=1.5", "n=%2D1", "n=%201", "n=0x10"} {
				r := e.do("GET", base+"?"+q, nil)
				wantError(t, r, "GET", base+"?"+q, "PAGINATION_NUMBER_INVALID", http.StatusBadRequest)
			}
			r := e.do("GET", base+"?last="+strings.Repeat("a", 5000), nil)
			wantError(t, r, "GET", base+" with a long last", "", http.StatusBadRequest)
		}
		e.wantState(before, "bad pagination")
	})
}
