package crash

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestUploadSurvivesRestart: an upload session outlives the process that
// started it, whether that process stopped cleanly or was killed, and is
// finished by the next one into the right blob.
func TestUploadSurvivesRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, dataDir, dsn string) {
		env := []string{"BERTH_UPLOADS_EXPIRY=1h"}
		p := start(t, dataDir, dsn, env...)
		for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			data := content(uint64(stop), 3<<20+17)
			half := len(data) / 2
			d := sha256Digest(data)
			repo := "library/restart/" + map[syscall.Signal]string{syscall.SIGTERM: "term", syscall.SIGKILL: "kill"}[stop]

			r := p.must("POST", "/v2/"+repo+"/blobs/uploads/", nil)
			wantStatus(t, r, http.StatusAccepted, "POST")
			loc, id := r.Header.Get("Location"), r.Header.Get("Docker-Upload-UUID")
			r = p.must("PATCH", loc, data[:half], "Content-Range", fmt.Sprintf("0-%d", half-1))
			wantStatus(t, r, http.StatusAccepted, "PATCH first half")
			loc = r.Header.Get("Location")

			p.signal(stop)
			code, ok := p.exited(30 * time.Second)
			if !ok {
				t.Fatalf("berth still runs 30s after %v", stop)
			}
			if stop == syscall.SIGTERM && code != 0 {
				t.Fatalf("exit status %d after SIGTERM, want 0", code)
			}
			p = start(t, dataDir, dsn, env...)

			r = p.must("GET", loc, nil)
			wantStatus(t, r, http.StatusNoContent, "upload status after restart")
			if got, want := r.Header.Get("Range"), fmt.Sprintf("0-%d", half-1); got != want {
				t.Fatalf("after %v: Range %q, want %q", stop, got, want)
			}
			if got := r.Header.Get("Docker-Upload-UUID"); got != id {
				t.Fatalf("after %v: Docker-Upload-UUID %q, want %q", stop, got, id)
			}
			// The stored offset is enforced, not just reported.
			r = p.must("PATCH", loc, data[:half], "Content-Range", fmt.Sprintf("0-%d", half-1))
			wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable, "PATCH the first half again")
			r = p.must("PATCH", loc, data[half:], "Content-Range", fmt.Sprintf("%d-%d", half, len(data)-1))
			wantStatus(t, r, http.StatusAccepted, "PATCH second half")
			if got, want := r.Header.Get("Range"), fmt.Sprintf("0-%d", len(data)-1); got != want {
				t.Fatalf("after the second half: Range %q, want %q", got, want)
			}
			r = p.must("PUT", withQuery(r.Header.Get("Location"), "digest", d), nil)
			wantStatus(t, r, http.StatusCreated, "PUT ?digest")
			if got := r.Header.Get("Docker-Content-Digest"); got != d {
				t.Fatalf("Docker-Content-Digest %q, want %s", got, d)
			}
			r = p.must("GET", "/v2/"+repo+"/blobs/"+d, nil)
			wantStatus(t, r, http.StatusOK, "GET blob")
			if !bytes.Equal(r.Body, data) {
				t.Fatalf("after %v: the blob has %d bytes that differ from the %d pushed", stop, len(r.Body), len(data))
			}
		}
	})
}

// TestSIGTERMDrains: SIGTERM stops new connections at once, lets a
// request in flight finish, then exits with status 0; what the drained
// request stored is there after a restart.
func TestSIGTERMDrains(t *testing.T) {
	eachBackend(t, func(t *testing.T, dataDir, dsn string) {
		env := []string{"BERTH_UPLOADS_EXPIRY=1h", "BERTH_SHUTDOWN_TIMEOUT=20s"}
		p := start(t, dataDir, dsn, env...)
		data := content(7, 4<<20)
		d := sha256Digest(data)
		r := p.must("POST", "/v2/library/drain/blobs/uploads/", nil)
		wantStatus(t, r, http.StatusAccepted, "POST")
		loc, id := r.Header.Get("Location"), r.Header.Get("Docker-Upload-UUID")

		pr, pw := io.Pipe()
		defer pw.Close()
		type result struct {
			r   reply
			err error
		}
		patched := make(chan result, 1)
		go func() {
			r, err := p.send("PATCH", loc, io.Reader(pr), "Content-Type", "application/octet-stream")
			patched <- result{r, err}
		}()
		half := len(data) / 2
		if _, err := pw.Write(data[:half]); err != nil {
			t.Fatalf("write the first half: %v", err)
		}
		// The handler is inside the request once bytes reach the upload file.
		uploadFile := filepath.Join(dataDir, "blobs", "uploads", id)
		waitFor(t, 10*time.Second, "the first bytes of the PATCH on disk", func() bool {
			fi, err := os.Stat(uploadFile)
			return err == nil && fi.Size() > 0
		})

		p.signal(syscall.SIGTERM)
		waitFor(t, 5*time.Second, "new connections to be refused after SIGTERM", func() bool {
			return refused(p.addr)
		})
		if _, ok := p.exited(0); ok {
			t.Fatal("berth exited with a request in flight")
		}
		if _, err := pw.Write(data[half:]); err != nil {
			t.Fatalf("write the second half after SIGTERM: %v", err)
		}
		pw.Close()
		var res result
		select {
		case res = <-patched:
		case <-time.After(20 * time.Second):
			t.Fatal("the PATCH in flight did not finish within 20s of its last byte")
		}
		if res.err != nil {
			t.Fatalf("PATCH in flight during shutdown: %v", res.err)
		}
		wantStatus(t, res.r, http.StatusAccepted, "PATCH in flight during shutdown")
		if got, want := res.r.Header.Get("Range"), fmt.Sprintf("0-%d", len(data)-1); got != want {
			t.Fatalf("PATCH in flight: Range %q, want %q", got, want)
		}
		code, ok := p.exited(20 * time.Second)
		if !ok {
			t.Fatal("berth did not exit within the 20s shutdown timeout after its last request")
		}
		if code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0", code)
		}
		if !refused(p.addr) {
			t.Fatalf("%s still accepts connections after berth exited", p.addr)
		}

		p = start(t, dataDir, dsn, env...)
		r = p.must("PUT", withQuery(loc, "digest", d), nil)
		wantStatus(t, r, http.StatusCreated, "PUT ?digest after restart")
		r = p.must("GET", "/v2/library/drain/blobs/"+d, nil)
		wantStatus(t, r, http.StatusOK, "GET blob")
		if !bytes.Equal(r.Body, data) {
			t.Fatalf("the drained upload has %d bytes that differ from the %d sent", len(r.Body), len(data))
		}
	})
}

func wantStatus(t *testing.T, r reply, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, bytes.TrimSpace(r.Body))
	}
}

// refused reports whether a TCP connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
