package multinode

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

// TestConcurrentPatchesOfOneSession: PATCHes of one upload session, each
// with other bytes at the same offset, fired at two nodes at once. Only
// one may append; the others are refused (409 while it writes, 416 once
// the offset has moved), and the session then holds exactly the first
// chunk and the winner's bytes, which complete under their digest.
func TestConcurrentPatchesOfOneSession(t *testing.T) {
	a, b := startNodes(t)
	tok := token(t, a, "repository:library/race:pull,push")
	const chunk = 5 << 20 // S3's smallest part: the advertised minimum
	first := make([]byte, chunk)
	rand.Read(first)
	res := do(t, "POST", a.url+"/v2/library/race/blobs/uploads/", tok, nil)
	res.Body.Close()
	loc := res.Header.Get("Location")
	res = do(t, "PATCH", a.url+loc, tok, first, "Content-Range", fmt.Sprintf("0-%d", chunk-1))
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("first chunk: %d", res.StatusCode)
	}
	loc = res.Header.Get("Location")

	for round := 0; round < 3; round++ {
		off := chunk * (round + 1)
		const racers = 6
		bodies := make([][]byte, racers)
		codes := make([]int, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			bodies[i] = make([]byte, chunk)
			rand.Read(bodies[i])
			n := []node{a, b}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res := do(t, "PATCH", n.url+loc, tok, bodies[i], "Content-Range", fmt.Sprintf("%d-%d", off, off+chunk-1))
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				codes[i] = res.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, c := range codes {
			switch c {
			case 202:
				if winner >= 0 {
					t.Fatalf("round %d: two PATCHes at offset %d appended: %v", round, off, codes)
				}
				winner = i
			case 409, 416:
			default:
				t.Fatalf("round %d: PATCH answered %d: %v", round, c, codes)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no PATCH appended: %v", round, codes)
		}
		first = append(first, bodies[winner]...)
		// Both nodes report the winner's end.
		for _, n := range []node{a, b} {
			res := do(t, "GET", n.url+loc, tok, nil)
			res.Body.Close()
			if res.StatusCode != 204 || res.Header.Get("Range") != fmt.Sprintf("0-%d", len(first)-1) {
				t.Fatalf("round %d: status on %s: %d %q, want 0-%d", round, n.url, res.StatusCode, res.Header.Get("Range"), len(first)-1)
			}
		}
	}

	d := oci.FromBytes(first)
	res = do(t, "PUT", b.url+loc+"?digest="+string(d), tok, nil)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("complete: %d %s", res.StatusCode, body)
	}
	res = do(t, "GET", a.url+"/v2/library/race/blobs/"+string(d), tok, nil)
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, first) {
		t.Fatalf("blob: %d, %d bytes, equal %t", res.StatusCode, len(got), bytes.Equal(got, first))
	}
}
