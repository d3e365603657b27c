package oci_test

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	spec "github.com/berth-registry/berth/internal/oci"
)

// On the filesystem a session lives as its data file until bytes must be
// remembered: POST and a completing PUT write no upload row, and the id
// is bound to its repository and dies with the upload like a row would.
func TestRowlessUploadSessions(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := []byte("rowless blob")
		d := spec.FromBytes(b)
		r := e.do("POST", "/v2/rowless/app/blobs/uploads/", nil)
		e.expect(r, http.StatusAccepted, "POST")
		loc := r.Header.Get("Location")
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("POST wrote %d upload rows", n)
		}
		r = e.do("GET", loc, nil)
		e.expect(r, http.StatusNoContent, "status of a new session")
		if got := r.Header.Get("Range"); got != "0-0" && got != "" {
			t.Fatalf("Range %q", got)
		}
		// The same id naming another repository id is no session.
		m := regexp.MustCompile(`-r([0-9]+)-sha256$`).FindStringSubmatch(loc)
		if m == nil {
			t.Fatalf("location %q has no repository id", loc)
		}
		n, _ := strconv.Atoi(m[1])
		forged := loc[:len(loc)-len(m[0])] + "-r" + strconv.Itoa(n+1) + "-sha256"
		e.do("POST", "/v2/rowless/other/blobs/uploads/", nil) // repository n+1 exists
		e.expect(e.do("GET", forged, nil), http.StatusNotFound, "forged id")

		e.expect(e.do("PUT", loc+"?digest="+string(d), b), http.StatusCreated, "PUT")
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("PUT left %d upload rows", n)
		}
		e.expect(e.do("GET", loc, nil), http.StatusNotFound, "status after commit")
		e.expect(e.do("PUT", loc+"?digest="+string(d), b), http.StatusNotFound, "PUT again")

		// A PATCH that stores bytes makes the row, which completion removes.
		r = e.do("POST", "/v2/rowless/app/blobs/uploads/", nil)
		loc = r.Header.Get("Location")
		e.expect(e.do("PATCH", loc, b[:4]), http.StatusAccepted, "PATCH")
		if n := e.count("SELECT count(*) FROM uploads WHERE upload_offset = 4"); n != 1 {
			t.Fatalf("PATCH wrote %d upload rows at offset 4", n)
		}
		e.expect(e.do("PUT", loc+"?digest="+string(d), b[4:]), http.StatusCreated, "PUT after PATCH")
		if _, err := os.Stat(filepath.Join(e.root, "uploads", uploadID(loc))); !os.IsNotExist(err) {
			t.Fatalf("upload data left: %v", err)
		}
		if n := e.count("SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("left %d upload rows", n)
		}
	})
}
