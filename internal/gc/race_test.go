package gc_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// TestRacePushDeleteGC races many pushes of images that share layers,
// deletes of tags and manifests, pulls, and garbage collection running in
// a loop with a zero grace period (DESIGN.md invariant 2; docs/gc.md).
// A push may fail with a retryable error (UNAVAILABLE, or
// MANIFEST_BLOB_UNKNOWN when GC took a layer it had uploaded before the
// run started and not yet used) and is then retried from the start; it
// must never be acknowledged with layers that are not there. Afterwards
// every acknowledged image that was not deleted pulls completely and
// every blob hashes to its digest.
func TestRacePushDeleteGC(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		raceOnce(t, e, 3*time.Second)
	})
}

// acked is an image whose push was acknowledged and that was not deleted.
type acked struct {
	repo, tag string
	digest    oci.Digest
	pins      int // pullers reading it; deleters leave it alone
}

type ackSet struct {
	mu    sync.Mutex
	items map[string]*acked
	keys  []string
}

func (s *ackSet) add(a *acked) {
	s.mu.Lock()
	s.items[a.repo+":"+a.tag] = a
	s.keys = append(s.keys, a.repo+":"+a.tag)
	s.mu.Unlock()
}

// pick returns a random live item; take removes it, otherwise it is
// pinned until unpin.
func (s *ackSet) pick(rng *rand.Rand, take bool) *acked {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 10 {
		if len(s.keys) == 0 {
			return nil
		}
		i := rng.IntN(len(s.keys))
		a := s.items[s.keys[i]]
		if a == nil {
			s.keys[i] = s.keys[len(s.keys)-1]
			s.keys = s.keys[:len(s.keys)-1]
			continue
		}
		if take {
			if a.pins > 0 {
				continue
			}
			delete(s.items, s.keys[i])
			return a
		}
		a.pins++
		return a
	}
	return nil
}

func (s *ackSet) unpin(a *acked) {
	s.mu.Lock()
	a.pins--
	s.mu.Unlock()
}

// raceOnce races for at least d, and longer (up to fifteen times d) until
// enough has happened to prove something even on a loaded machine.
func raceOnce(t *testing.T, e *env, d time.Duration) {
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	repos := []string{"p/one", "p/two", "q/three"}
	base := make([][]byte, 8)
	for i := range base {
		base[i] = data(fmt.Sprintf("shared base layer %d", i), 2000+i*100)
	}
	set := &ackSet{items: map[string]*acked{}}
	var (
		seq                                atomic.Int64
		pushes, retries, deletes, pulls    atomic.Int64
		runs, blobsFreed, manifestsDeleted atomic.Int64
		wg                                 sync.WaitGroup
	)
	retryable := func(err error) bool {
		if errs.Is(err, errs.Unavailable) {
			return true
		}
		x, ok := errs.As(err)
		return ok && x.Code == "MANIFEST_BLOB_UNKNOWN"
	}
	// pushOnce pushes one image (or an index of two) and returns its
	// digest, or an error.
	pushOnce := func(rng *rand.Rand, repo, tag string, n int64) (oci.Digest, error) {
		image := func(name string) (oci.Digest, error) {
			layers := [][]byte{base[rng.IntN(len(base))], base[rng.IntN(len(base))]}
			if rng.IntN(2) == 0 {
				layers = append(layers, data(name+" own layer", 500))
			}
			body, blobs := imageManifest(name, layers, nil)
			for _, b := range blobs {
				if _, err := e.reg.PutBlob(ctx, repo, string(oci.FromBytes(b)), bytesReader(b)); err != nil {
					return "", err
				}
			}
			ref := tag
			if name != fmt.Sprint(n) {
				ref = string(oci.FromBytes(body)) // an index child goes by digest
			}
			res, err := e.reg.PutManifest(ctx, repo, ref, oci.MediaTypeImageManifest, body)
			return res.Digest, err
		}
		if n%4 != 0 {
			return image(fmt.Sprint(n))
		}
		c1, err := image(fmt.Sprintf("%d child 1", n))
		if err != nil {
			return "", err
		}
		c2, err := image(fmt.Sprintf("%d child 2", n))
		if err != nil {
			return "", err
		}
		doc := manifestDoc{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex, Manifests: []oci.Descriptor{
			{MediaType: oci.MediaTypeImageManifest, Digest: c1}, {MediaType: oci.MediaTypeImageManifest, Digest: c2}}}
		for i, c := range []oci.Digest{c1, c2} {
			m, err := e.reg.GetManifest(ctx, repo, string(c))
			if err != nil {
				return "", err // GC took the child: a retryable outcome below
			}
			doc.Manifests[i].Size = m.Size
		}
		res, err := e.reg.PutManifest(ctx, repo, tag, oci.MediaTypeImageIndex, mustJSON(doc))
		return res.Digest, err
	}

	go func() {
		start := time.Now()
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			took := time.Since(start)
			if took >= 15*d || took >= d && pushes.Load() >= 20 && runs.Load() >= 3 && blobsFreed.Load() > 0 {
				cancel()
			}
		}
	}()
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for ctx.Err() == nil {
				n := seq.Add(1)
				repo, tag := repos[rng.IntN(len(repos))], fmt.Sprintf("t%d", n)
				for attempt := 0; ctx.Err() == nil; attempt++ {
					dg, err := pushOnce(rng, repo, tag, n)
					if err == nil {
						pushes.Add(1)
						set.add(&acked{repo: repo, tag: tag, digest: dg})
						break
					}
					if ctx.Err() != nil {
						break
					}
					if testing.Verbose() {
						t.Logf("retry %s:%s after %v", repo, tag, err)
					}
					if errs.Is(err, errs.NotFound) && n%4 == 0 || retryable(err) {
						retries.Add(1)
						continue
					}
					t.Errorf("push %s:%s: %v", repo, tag, err)
					return
				}
			}
		}()
	}
	// Uploads that never get a manifest: their links and blobs are GC's.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			b := data(fmt.Sprintf("abandoned %d", i), 300)
			if _, err := e.reg.PutBlob(ctx, repos[i%len(repos)], string(oci.FromBytes(b)), bytesReader(b)); err != nil && ctx.Err() == nil && !errs.Is(err, errs.Unavailable) {
				t.Errorf("push abandoned blob: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(100+w), 2))
			for ctx.Err() == nil {
				time.Sleep(40 * time.Millisecond)
				if rng.IntN(2) == 0 {
					continue // leave about half of the images acknowledged
				}
				a := set.pick(rng, true)
				if a == nil {
					continue
				}
				var err error
				if rng.IntN(2) == 0 {
					err = e.reg.DeleteManifest(ctx, a.repo, a.tag) // untag; the manifest stays untagged
				} else {
					err = e.reg.DeleteManifest(ctx, a.repo, string(a.digest))
				}
				if err != nil && ctx.Err() == nil {
					t.Errorf("delete %s:%s: %v", a.repo, a.tag, err)
				}
				deletes.Add(1)
			}
		}()
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(200+w), 3))
			for ctx.Err() == nil {
				a := set.pick(rng, false)
				if a == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				err := e.pull(a.repo, a.tag)
				set.unpin(a)
				if err != nil && ctx.Err() == nil {
					t.Errorf("pull of acknowledged %s:%s during GC: %v", a.repo, a.tag, err)
				}
				pulls.Add(1)
				time.Sleep(5 * time.Millisecond) // leave CPU to the pushes on small machines
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			// Untagged manifests are deleted by every other run; deleters
			// only untag acknowledged images they also forget.
			r, err := e.gc.Run(context.WithoutCancel(ctx), gc.KindManual,
				gc.Params{TimeWindow: 0, Workers: 1 + i%3, DeleteUntagged: i%2 == 1})
			if err != nil {
				t.Errorf("gc run: %v", err)
				return
			}
			if r.Status != meta.GCSuccess {
				t.Errorf("gc run %d ended %s:\n%s", r.ID, r.Status, r.Log)
				return
			}
			runs.Add(1)
			blobsFreed.Add(r.BlobsDeleted)
			manifestsDeleted.Add(r.ManifestsDeleted)
			// A short breath between runs: with a zero window a push
			// whose layers were uploaded before a run began loses them
			// to it and starts over, and back-to-back runs on a small
			// machine would leave pushes no time to finish.
			time.Sleep(150 * time.Millisecond)
		}
	}()
	wg.Wait()
	t.Logf("%d pushes acknowledged (%d retries), %d deletes, %d pulls; %d gc runs deleted %d manifests and %d blobs",
		pushes.Load(), retries.Load(), deletes.Load(), pulls.Load(), runs.Load(), manifestsDeleted.Load(), blobsFreed.Load())
	if t.Failed() {
		return
	}
	if pushes.Load() < 10 || runs.Load() < 2 || blobsFreed.Load() == 0 {
		t.Fatalf("too little happened to prove anything")
	}

	verify := func(when string) {
		t.Helper()
		for _, a := range set.items {
			m, err := e.reg.GetManifest(e.ctx, a.repo, a.tag)
			if err != nil || m.Digest != a.digest {
				t.Fatalf("%s: acknowledged %s:%s (%s): got %s, %v", when, a.repo, a.tag, a.digest, m.Digest, err)
			}
			if err := e.pull(a.repo, a.tag); err != nil {
				t.Fatalf("%s: %v", when, err)
			}
		}
		e.checkInvariant1()
	}
	verify("after the race")
	// A final collection of everything collectible breaks nothing either.
	e.run(gc.Params{DeleteUntagged: true})
	verify("after a final gc")
	if n := e.count(`SELECT count(*) FROM blobs WHERE state = 'deleting'`); n != 0 {
		t.Fatalf("%d blobs left deleting", n)
	}
}
