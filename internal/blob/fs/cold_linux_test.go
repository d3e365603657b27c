package fs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/pagecache"
)

// coldBlob stores b in a new store and drops its file from the page
// cache. It skips the test where the filesystem cannot show a cold pull:
// no O_DIRECT (tmpfs before Linux 6.6), or pages that do not leave the
// cache.
func coldBlob(t *testing.T, b []byte) (*Store, oci.Digest, string) {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	d := oci.FromBytes(b)
	if err := s.Put(t.Context(), d, b); err != nil {
		t.Fatal(err)
	}
	p, err := s.blobPath(d)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Skipf("no O_DIRECT on %s: %v", p, err)
	}
	f.Close()
	if err := pagecache.Drop(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cachedMiB(t, p), true) {
		t.Skip("the page cache keeps the blob's pages after FADV_DONTNEED")
	}
	return s, d, p
}

// pullMapped writes the section [off, off+n) of d from mappings and cold
// reads, after reading head bytes of it, and checks every byte.
func pullMapped(t *testing.T, s *Store, d oci.Digest, b []byte, off, n, head int64) {
	t.Helper()
	rc, err := s.Open(t.Context(), d, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	want := b[off:]
	if n >= 0 {
		want = want[:n]
	}
	got := make([]byte, head)
	if _, err := io.ReadFull(rc, got); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	k, err := rc.(*fileSection).WriteMappedTo(&rest)
	if err != nil || k != int64(len(want))-head {
		t.Fatalf("section %d+%d: wrote %d, %v; want %d", off, n, k, err, int64(len(want))-head)
	}
	if !bytes.Equal(append(got, rest.Bytes()...), want) {
		t.Fatalf("section %d+%d: bytes differ from the blob's", off, n)
	}
	if k, _ := io.Copy(io.Discard, rc); k != 0 {
		t.Fatalf("section %d+%d: %d more bytes after the end", off, n, k)
	}
}

// The first pull of a blob that is not in the page cache reads it
// around the cache, and leaves it uncached; the next pull soon after
// reads it into the cache; the one after that is served from it.
func TestColdPullReadsAroundTheCache(t *testing.T) {
	b := blobtest.Data(21, 10<<20+123)
	s, d, p := coldBlob(t, b)

	pullMapped(t, s, d, b, 0, -1, 0)
	if got := cachedMiB(t, p); slices.Contains(got, true) {
		t.Fatalf("after the first pull, cached MiB = %v; want none", got)
	}
	if n := s.cold.inUse.Load(); n != 0 {
		t.Fatalf("%d read buffers still taken after the pull", n)
	}

	pullMapped(t, s, d, b, 0, -1, 0)
	if got := cachedMiB(t, p); slices.Contains(got, false) {
		t.Fatalf("after the second pull, cached MiB = %v; want all", got)
	}
	pullMapped(t, s, d, b, 0, -1, 0)
}

// Sections that start and end off the block size, inside and across
// windows and read chunks, come out exactly, and each is read around
// the cache (each starts cold, as a blob not pulled lately).
func TestColdPullSections(t *testing.T) {
	b := blobtest.Data(22, 9<<20+123)
	s, d, p := coldBlob(t, b)
	for _, c := range []struct{ off, n, head int64 }{
		{0, -1, 7},
		{1, 1, 0},
		{4095, 4<<20 + 2, 1},
		{4<<20 - 3, 5 << 20, 0},
		{1<<20 + 5, 1 << 20, 0},
		{9 << 20, 123, 0},
		{9<<20 + 122, 1, 0},
		{int64(len(b)), 0, 0},
	} {
		clear(s.cold.seen)
		pullMapped(t, s, d, b, c.off, c.n, c.head)
		if got := cachedMiB(t, p); slices.Contains(got, true) {
			t.Fatalf("%+v: cached MiB = %v after the pull; want none", c, got)
		}
	}
}

// A blob partly in the page cache is sent from the cache where its
// windows are there whole, and read around it elsewhere.
func TestColdPullPartlyCached(t *testing.T) {
	b := blobtest.Data(23, 12<<20)
	s, d, p := coldBlob(t, b)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(make([]byte, 4<<20), 4<<20); err != nil { // window 1
		t.Fatal(err)
	}
	f.Close()
	// The read may have read ahead past window 1.
	if err := pagecache.Drop(p, 8<<20, 0); err != nil {
		t.Fatal(err)
	}
	want := []bool{false, false, false, false, true, true, true, true, false, false, false, false}
	if got := cachedMiB(t, p); !slices.Equal(got, want) {
		t.Skipf("could not cache window 1 alone: cached MiB = %v", got)
	}
	pullMapped(t, s, d, b, 0, -1, 0)
	if got := cachedMiB(t, p); !slices.Equal(got, want) {
		t.Fatalf("cached MiB = %v after the pull; want %v", got, want)
	}
}

// A blob read around the cache is remembered for coldAdmit: pulled
// again later than that, it is read around the cache again.
func TestColdPullForgetsAfterAWhile(t *testing.T) {
	b := blobtest.Data(24, 5<<20)
	s, d, p := coldBlob(t, b)
	now := time.Now()
	s.cold.now = func() time.Time { return now }
	pullMapped(t, s, d, b, 0, -1, 0)
	now = now.Add(coldAdmit + time.Second)
	pullMapped(t, s, d, b, 0, -1, 0)
	if got := cachedMiB(t, p); slices.Contains(got, true) {
		t.Fatalf("cached MiB = %v after a pull past coldAdmit; want none", got)
	}
}

// When the buffers of all cold pulls are taken, a pull reads through
// the page cache rather than wait or take more memory.
func TestColdPullBudget(t *testing.T) {
	b := blobtest.Data(25, 6<<20)
	s, d, p := coldBlob(t, b)
	s.cold.inUse.Store(coldBudget - 1)
	pullMapped(t, s, d, b, 0, -1, 0)
	if got := cachedMiB(t, p); slices.Contains(got, false) {
		t.Fatalf("cached MiB = %v after a pull over budget; want all", got)
	}
	if n := s.cold.inUse.Load(); n != coldBudget-1 {
		t.Fatalf("buffers taken = %d, want %d", n, coldBudget-1)
	}
}

// A writer that fails during a cold pull stops it with its error, after
// exactly the bytes it took, and every read buffer is given back.
func TestColdPullWriterFails(t *testing.T) {
	b := blobtest.Data(26, 10<<20)
	s, d, _ := coldBlob(t, b)
	rc, err := s.Open(t.Context(), d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	broken := errors.New("peer went away")
	w := &failingWriter{n: 5<<20 + 17, err: broken}
	n, err := rc.(*fileSection).WriteMappedTo(w)
	if !errors.Is(err, broken) || n != 5<<20+17 {
		t.Fatalf("wrote %d, %v; want %d and the writer's error", n, err, 5<<20+17)
	}
	if !bytes.Equal(w.got.Bytes(), b[:n]) {
		t.Fatal("bytes before the failure differ from the blob's")
	}
	if k := s.cold.inUse.Load(); k != 0 {
		t.Fatalf("%d read buffers still taken", k)
	}
	// The section goes on from where the writer stopped.
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(rest, b[n:]) {
		t.Fatalf("the rest after the failure: %d bytes, %v", len(rest), err)
	}
}

type failingWriter struct {
	got bytes.Buffer
	n   int
	err error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	k := min(len(p), w.n)
	w.got.Write(p[:k])
	w.n -= k
	if k < len(p) {
		return k, w.err
	}
	return k, nil
}

// The blobs remembered are bounded: past coldRemembered, the stale ones
// go, and if none is stale, all.
func TestColdReadsRemembersABoundedNumber(t *testing.T) {
	c := newColdReads()
	now := time.Now()
	c.now = func() time.Time { return now }
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range coldRemembered {
		c.seen[fileID{1, uint64(i)}] = now.Add(-coldAdmit) // stale
	}
	if !c.firstPull(f) {
		t.Fatal("a file never pulled is not a first pull")
	}
	if len(c.seen) != 1 {
		t.Fatalf("remembered %d after dropping the stale; want 1", len(c.seen))
	}
	if c.firstPull(f) {
		t.Fatal("a file pulled just now is a first pull again")
	}
	for i := range coldRemembered {
		c.seen[fileID{2, uint64(i)}] = now // fresh
	}
	now = now.Add(time.Second)
	g, err := os.Create(filepath.Join(t.TempDir(), "g"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if !c.firstPull(g) || len(c.seen) != 1 {
		t.Fatalf("remembered %d after a full map of fresh entries; want 1", len(c.seen))
	}
}
