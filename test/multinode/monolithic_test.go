package multinode

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

// TestConcurrentMonolithicPushes: 8 clients push 16 KiB blobs in one
// request each, spread over two nodes, and every push is created and
// served whole by the other node. Each commit deletes its upload's data
// while other pushes write theirs; on versitygw that used to refuse about
// 1 push in 200 with 404 BLOB_UPLOAD_UNKNOWN (a refused chunk write, then
// a reread of a session that had no data).
func TestConcurrentMonolithicPushes(t *testing.T) {
	ns := startN(t, 2)
	tok := token(t, ns[0], "repository:library/mono:pull,push")
	const clients, each = 8, 50
	var wg sync.WaitGroup
	errc := make(chan error, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				push, pull := ns[(c+i)%2], ns[(c+i+1)%2]
				if err := pushAndPull(push, pull, tok, 16<<10); err != nil {
					errc <- fmt.Errorf("client %d push %d: %w", c, i, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	n := 0
	for err := range errc {
		if n < 5 {
			t.Error(err)
		}
		n++
	}
	if n > 0 {
		t.Errorf("%d of %d monolithic pushes failed", n, clients*each)
	}
}

// pushAndPull pushes size random bytes to one node in a single POST and
// reads them back from the other.
func pushAndPull(push, pull node, tok string, size int) error {
	blob := make([]byte, size)
	rand.Read(blob)
	d := oci.FromBytes(blob)
	req, _ := http.NewRequest("POST", push.url+"/v2/library/mono/blobs/uploads/?digest="+string(d), bytes.NewReader(blob))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		return fmt.Errorf("push: %d %s", res.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", pull.url+"/v2/library/mono/blobs/"+string(d), nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || err != nil || !bytes.Equal(got, blob) {
		return fmt.Errorf("pull: %d, %d of %d bytes, %v", res.StatusCode, len(got), size, err)
	}
	return nil
}
