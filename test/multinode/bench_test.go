package multinode

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// BenchmarkNodes measures the same workloads on one node and on three
// nodes over one PostgreSQL and one S3 server, clients spread round-robin
// over the nodes as a load balancer would. All processes share this
// machine, so the figures say what scaling out costs or gains here, not
// on separate machines; compare the two within one run.
//
//	go test -run '^$' -bench Nodes ./test/multinode
func BenchmarkNodes(b *testing.B) {
	for _, n := range []int{1, 3} {
		ns := startN(b, n)
		tok := token(b, ns[0], "repository:library/bench:pull,push")
		manifest, _, err := pushImage(ns[0], tok, "library/bench", "v1")
		if err != nil {
			b.Fatal(err)
		}
		big := make([]byte, 1<<20)
		rand.Read(big)
		bigDigest := oci.FromBytes(big)
		if res := do(b, "POST", ns[0].url+"/v2/library/bench/blobs/uploads/?digest="+string(bigDigest), tok, big); res.StatusCode != 201 {
			b.Fatalf("push 1 MiB blob: %d", res.StatusCode)
		}
		var next atomic.Uint64
		pick := func() node { return ns[next.Add(1)%uint64(len(ns))] }
		get := func(b *testing.B, path string, want int64) {
			req, _ := http.NewRequest("GET", pick().url+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Accept", oci.MediaTypeImageManifest)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			got, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || got != want {
				b.Errorf("GET %s: %d, %d bytes", path, res.StatusCode, got)
			}
		}
		run := func(name string, unit string, per float64, op func(b *testing.B)) {
			b.Run(fmt.Sprintf("%s/nodes=%d", name, n), func(b *testing.B) {
				b.SetParallelism(4) // 8 clients on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						op(b)
					}
				})
				b.ReportMetric(float64(b.N)*per/b.Elapsed().Seconds(), unit)
			})
		}
		run("manifest-GET", "req/s", 1, func(b *testing.B) {
			get(b, "/v2/library/bench/manifests/v1", int64(len(manifest)))
		})
		run("blob-GET-1MiB", "MB/s", float64(len(big))/1e6, func(b *testing.B) {
			get(b, "/v2/library/bench/blobs/"+string(bigDigest), int64(len(big)))
		})
		run("blob-push-16KiB", "blobs/s", 1, func(b *testing.B) {
			blob := make([]byte, 16<<10)
			rand.Read(blob)
			req, _ := http.NewRequest("POST", pick().url+"/v2/library/bench/blobs/uploads/?digest="+string(oci.FromBytes(blob)), bytes.NewReader(blob))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.ContentLength = int64(len(blob))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				b.Errorf("push blob: %d %s", res.StatusCode, body)
			}
		})
		// Stop these nodes before the next cluster starts.
		for _, nd := range ns {
			nd.proc.Stop(30 * time.Second)
		}
	}
}
