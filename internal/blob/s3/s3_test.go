package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/s3"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/testutil/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

const mib = 1 << 20

// bucket is one test's bucket and a raw client to look inside it.
type bucket struct {
	opts   s3.Options
	client *minio.Client
}

func newBucket(t testing.TB, prefix string) bucket {
	t.Helper()
	endpoint, ak, sk, name := s3test.Endpoint(t)
	o := s3.Options{Endpoint: endpoint, Bucket: name, Prefix: prefix, AccessKey: ak, SecretKey: sk,
		PathStyle: true, Region: "us-east-1"}
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""),
		BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return bucket{opts: o, client: c}
}

func (b bucket) store(t testing.TB) *s3.Store {
	t.Helper()
	s, err := s3.New(t.Context(), b.opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// objects lists every key in the bucket with its size.
func (b bucket) objects(t testing.TB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for o := range b.client.ListObjects(t.Context(), b.opts.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key] = o.Size
	}
	return out
}

func (b bucket) put(t testing.TB, key string, data []byte) {
	t.Helper()
	_, err := b.client.PutObject(t.Context(), b.opts.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func newStore(t testing.TB) *s3.Store { return newBucket(t, "").store(t) }

func TestSuite(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

func chunkKey(prefix, id string, offset int64) string {
	return fmt.Sprintf("%suploads/%s/%020d", prefix, id, offset)
}

func blobKey(prefix string, d oci.Digest) string {
	return prefix + "blobs/" + d.Algorithm() + "/" + d.Hex()[:2] + "/" + d.Hex()
}

func write(t testing.TB, s blob.Store, id string, offset int64, b []byte) {
	t.Helper()
	n, err := s.WriteUpload(t.Context(), id, offset, plainReader{bytes.NewReader(b)})
	if err != nil || n != int64(len(b)) {
		t.Fatalf("write upload %s at %d: wrote %d of %d: %v", id, offset, n, len(b), err)
	}
}

func readUpload(t testing.TB, s blob.Store, id string) []byte {
	t.Helper()
	rc, err := s.ReadUpload(t.Context(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readBlob(t testing.TB, s blob.Store, d oci.Digest) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The keys are the documented layout, under the prefix, and a commit
// leaves only the blob.
func TestLayout(t *testing.T) {
	b := newBucket(t, "team/registry")
	s := b.store(t)
	const p = "team/registry/"
	data := blobtest.Data(1, 12*mib)
	write(t, s, "up1", 0, data[:mib])   // merged into the next: too small to be a part
	write(t, s, "up1", mib, data[mib:]) // 11 MiB: one full part and the rest
	small := []byte("small blob")
	ds := oci.FromBytes(small)
	if err := s.Put(t.Context(), ds, small); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		chunkKey(p, "up1", 0):     8 * mib,
		chunkKey(p, "up1", 8*mib): 4 * mib,
		blobKey(p, ds):            int64(len(small)),
	}
	if diff := cmp.Diff(want, b.objects(t)); diff != "" {
		t.Fatalf("objects before commit (-want +got):\n%s", diff)
	}
	d := oci.FromBytes(data)
	if err := s.CommitUpload(t.Context(), "up1", int64(len(data)), d); err != nil {
		t.Fatal(err)
	}
	want = map[string]int64{blobKey(p, d): int64(len(data)), blobKey(p, ds): int64(len(small))}
	if diff := cmp.Diff(want, b.objects(t)); diff != "" {
		t.Fatalf("objects after commit (-want +got):\n%s", diff)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("the committed blob holds other bytes")
	}
	// Two chunks make two server-side copied parts: S3 marks such an
	// object's ETag with the part count.
	info, err := b.client.StatObject(t.Context(), b.opts.Bucket, blobKey(p, d), minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.ETag, "-2") {
		t.Errorf("blob ETag %q is not that of a two-part multipart upload", info.ETag)
	}
}

// patternReader yields n deterministic pseudo-random bytes without
// holding them, and hashes what it yields.
type patternReader struct {
	r    *rand.PCG
	left int64
	h    hash.Hash
}

func newPattern(seed uint64, n int64) *patternReader {
	return &patternReader{r: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15), left: n, h: sha256.New()}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := p.r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for ; i < len(b); i++ {
		b[i] = byte(p.r.Uint64())
	}
	p.left -= int64(len(b))
	p.h.Write(b)
	return len(b), nil
}

// heapPeak samples the heap in use until stopped, and reports the peak.
type heapPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func startHeapPeak() *heapPeak {
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *heapPeak) end() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// A 40 MiB layer pushed in chunks of 16, 16 and 8 MiB is stored, committed
// and read back while the heap stays within a few part buffers: nothing
// holds a whole chunk, let alone the layer. (Measured here: the heap peaks
// about 9 MiB above where it started, one 8 MiB buffer and change, with
// about 14 MiB allocated in all.)
func TestLargeUploadMemory(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	ctx := t.Context()
	const total = 40 * mib
	src := newPattern(7, total)

	// A low GC target makes HeapInuse follow live memory closely.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := startHeapPeak()

	var offset int64
	for _, size := range []int64{16 * mib, 16 * mib, 8 * mib} {
		n, err := s.WriteUpload(ctx, "big", offset, io.LimitReader(src, size))
		if err != nil || n != size {
			t.Fatalf("write %d bytes at %d: wrote %d: %v", size, offset, n, err)
		}
		offset += n
	}
	d := oci.Digest("sha256:" + fmt.Sprintf("%x", src.h.Sum(nil)))
	if err := s.CommitUpload(ctx, "big", total, d); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil || n != total {
		t.Fatalf("read back %d bytes: %v", n, err)
	}

	high := peak.end()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if got := oci.Digest(fmt.Sprintf("sha256:%x", h.Sum(nil))); got != d {
		t.Fatalf("read back %s, want %s", got, d)
	}
	growth := int64(high) - int64(before.HeapInuse)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("part size %d MiB; heap in use %.1f MiB before, peak %.1f MiB (+%.1f MiB); %.1f MiB allocated in all",
		s.PartSize()/mib, float64(before.HeapInuse)/mib, float64(high)/mib, float64(growth)/mib, float64(allocated)/mib)
	if limit := 3 * s.PartSize(); growth >= limit {
		t.Errorf("heap grew by %d bytes for a %d byte layer, want less than 3 part buffers (%d)", growth, total, limit)
	}
	// Nor is a part buffer allocated afresh for each chunk.
	if limit := 3 * uint64(s.PartSize()); allocated >= limit {
		t.Errorf("%d bytes allocated for a %d byte layer, want less than 3 part buffers (%d)", allocated, total, limit)
	}

	// The chunks were parts of 8 MiB; the blob is their server-side copy.
	want := map[string]int64{blobKey("", d): total}
	if diff := cmp.Diff(want, b.objects(t)); diff != "" {
		t.Fatalf("objects after commit (-want +got):\n%s", diff)
	}
	info, err := b.client.StatObject(ctx, b.opts.Bucket, blobKey("", d), minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(info.ETag, "-5") {
		t.Errorf("blob ETag %q is not that of a five-part multipart upload", info.ETag)
	}
}

// Writing at an earlier offset drops what followed, whether the offset
// falls inside a chunk object or on a boundary, and a crash between the
// chunks of a write leaves a readable chain.
func TestRewriteEarlierOffset(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	ctx := t.Context()
	data := blobtest.Data(2, 20*mib)
	write(t, s, "rw", 0, data[:6*mib])
	write(t, s, "rw", 6*mib, data[6*mib:12*mib])
	write(t, s, "rw", 12*mib, data[12*mib:18*mib])
	// Inside the second object (6 MiB of chunk 1 was merged into 8+4).
	other := blobtest.Data(3, 7*mib)
	write(t, s, "rw", 10*mib, other)
	want := append(slices.Clone(data[:10*mib]), other...)
	if got := readUpload(t, s, "rw"); !bytes.Equal(got, want) {
		t.Fatalf("after a rewrite at 10 MiB the upload has %d bytes, not the %d expected", len(got), len(want))
	}
	for key, size := range b.objects(t) {
		if size > s.PartSize() {
			t.Errorf("%s holds %d bytes, more than a part", key, size)
		}
	}
	// On a boundary, and then at 0 with nothing: an empty upload remains.
	write(t, s, "rw", 8*mib, data[8*mib:9*mib])
	if got := readUpload(t, s, "rw"); !bytes.Equal(got, data[:9*mib]) {
		t.Fatalf("after a rewrite at 8 MiB the upload has %d bytes", len(got))
	}
	write(t, s, "rw", 0, nil)
	if got := readUpload(t, s, "rw"); len(got) != 0 {
		t.Fatalf("after a rewrite at 0 the upload has %d bytes", len(got))
	}
	if diff := cmp.Diff(map[string]int64{chunkKey("", "rw", 0): 0}, b.objects(t)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	write(t, s, "rw", 0, data[:9*mib])
	d := oci.FromBytes(data[:9*mib])
	if err := s.CommitUpload(ctx, "rw", 9*mib, d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data[:9*mib]) {
		t.Fatal("committed blob holds other bytes")
	}
}

// Stray chunk objects (a crash mid-rewrite, a racing writer) are not part
// of the upload, and the next write removes them.
func TestStrayChunks(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	write(t, s, "stray", 0, []byte("abcd"))
	b.put(t, chunkKey("", "stray", 10), []byte("not after a gap"))
	b.put(t, "uploads/stray/junk", []byte("not a chunk"))
	b.put(t, "uploads/bad.id/00000000000000000000", []byte("not an upload"))
	b.put(t, "uploads/loose", []byte("not in an upload"))
	b.put(t, chunkKey("", "orphan", 5), []byte("no start"))
	if got := readUpload(t, s, "stray"); string(got) != "abcd" {
		t.Fatalf("upload reads %q", got)
	}
	list, err := s.ListUploads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "stray" || list[0].Size != 4 {
		t.Fatalf("listed %+v, want only stray of 4 bytes", list)
	}
	_, err = s.ReadUpload(t.Context(), "orphan", 0)
	blobtest.WantKind(t, err, errs.NotFound)
	write(t, s, "stray", 4, []byte("ef"))
	if got := readUpload(t, s, "stray"); string(got) != "abcdef" {
		t.Fatalf("upload reads %q", got)
	}
	objs := b.objects(t)
	for _, k := range []string{chunkKey("", "stray", 10), "uploads/stray/junk"} {
		if _, ok := objs[k]; ok {
			t.Errorf("stray %s survived a write", k)
		}
	}
}

// Small chunks (a client ignoring OCI-Chunk-Min-Length) are merged so that
// every chunk object but the last can be a multipart part.
func TestSmallChunksMerge(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	data := blobtest.Data(4, 13*mib+5)
	var off int
	for off < len(data) {
		n := min(mib+off%7, len(data)-off)
		write(t, s, "small", int64(off), data[off:off+n])
		off += n
	}
	objs := b.objects(t)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range objs {
			if !yield(k) {
				return
			}
		}
	})
	for i, k := range keys {
		if i < len(keys)-1 && objs[k] < s3.MinPartSize {
			t.Errorf("chunk %s of %d bytes is not last and smaller than a part", k, objs[k])
		}
	}
	d := oci.FromBytes(data)
	if err := s.CommitUpload(t.Context(), "small", int64(len(data)), d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("committed blob holds other bytes")
	}
}

// Many commits of one digest at once, each from its own multipart-sized
// upload, all succeed and leave one intact blob.
func TestCommitConcurrentMultipart(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	data := blobtest.Data(5, 10*mib)
	d := oci.FromBytes(data)
	const n = 4
	for i := range n {
		write(t, s, fmt.Sprint("c", i), 0, data)
	}
	var wg sync.WaitGroup
	errList := make([]error, 2*n)
	for i := range n {
		wg.Go(func() { errList[i] = s.CommitUpload(t.Context(), fmt.Sprint("c", i), int64(len(data)), d) })
		wg.Go(func() { errList[n+i] = s.Put(t.Context(), d, data) })
	}
	wg.Wait()
	if err := errors.Join(errList...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{blobKey("", d): int64(len(data))}, b.objects(t)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("committed blob holds other bytes")
	}
}

// ListUploads reports the size of the chain and the newest write.
func TestListUploadsChunked(t *testing.T) {
	s := newStore(t)
	data := blobtest.Data(6, 11*mib)
	write(t, s, "multi", 0, data[:9*mib])
	write(t, s, "multi", 9*mib, data[9*mib:])
	write(t, s, "empty", 0, nil)
	list, err := s.ListUploads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, u := range list {
		got[u.ID] = u.Size
		if time.Since(u.Modified) > time.Minute || time.Until(u.Modified) > 5*time.Second {
			t.Errorf("upload %s modified at %v", u.ID, u.Modified)
		}
	}
	if diff := cmp.Diff(map[string]int64{"multi": 11 * mib, "empty": 0}, got); diff != "" {
		t.Fatalf("listed sizes (-want +got):\n%s", diff)
	}
	if list[0].ID != "empty" {
		t.Errorf("uploads are not in id order: %+v", list)
	}
}

func TestMinChunkLength(t *testing.T) {
	var st blob.Store = newStore(t)
	c, ok := st.(interface{ MinChunkLength() int64 })
	if !ok {
		t.Fatal("the S3 store does not report a minimum chunk length")
	}
	if got := c.MinChunkLength(); got != 5*mib {
		t.Fatalf("MinChunkLength() = %d, want S3's minimum part of %d", got, 5*mib)
	}
}

// A body that fails part-way keeps the bytes that arrived, across full
// parts and the rest, and the upload resumes after them.
func TestWriteUploadPartial(t *testing.T) {
	s := newStore(t)
	data := blobtest.Data(8, 12*mib)
	cut := 10*mib + 3
	broken := errors.New("connection reset")
	r := io.MultiReader(plainReader{bytes.NewReader(data[:cut])}, errReader{broken})
	n, err := s.WriteUpload(t.Context(), "partial", 0, r)
	if !errors.Is(err, broken) {
		t.Fatalf("error %v does not wrap the reader's", err)
	}
	if n != int64(cut) {
		t.Fatalf("wrote %d bytes, want the %d delivered", n, cut)
	}
	write(t, s, "partial", n, data[cut:])
	if got := readUpload(t, s, "partial"); !bytes.Equal(got, data) {
		t.Fatal("resumed upload holds other bytes")
	}
	// A request cancelled mid-body: what was read is still stored.
	ctx, cancel := context.WithCancel(t.Context())
	r = io.MultiReader(bytes.NewReader(data[:mib]), cancelReader{cancel})
	n, err = s.WriteUpload(ctx, "cancelled", 0, r)
	if err == nil || n != mib {
		t.Fatalf("cancelled write stored %d bytes, %v; want %d and an error", n, err, mib)
	}
	if got := readUpload(t, s, "cancelled"); !bytes.Equal(got, data[:mib]) {
		t.Fatalf("cancelled upload holds %d bytes", len(got))
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// cancelReader cancels the request and then fails, as a body does when
// the client goes away.
type cancelReader struct{ cancel context.CancelFunc }

func (r cancelReader) Read([]byte) (int, error) {
	r.cancel()
	return 0, io.ErrUnexpectedEOF
}

// plainReader hides bytes.Reader's extra methods, as a request body would.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// A presigned URL fetches the blob without credentials, for a while.
func TestRedirectURL(t *testing.T) {
	s := newStore(t)
	data := []byte("fetched straight from the bucket")
	d := oci.FromBytes(data)
	if err := s.Put(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	var r blob.Redirecter = s
	u, err := r.RedirectURL(t.Context(), d, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET presigned URL: %d %q %v", resp.StatusCode, got, err)
	}
	// Without the signature the bucket is closed.
	resp, err = http.Get(strings.SplitN(u, "?", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("the blob is readable without a signature")
	}
	for _, bad := range []time.Duration{0, 8 * 24 * time.Hour} {
		_, err := r.RedirectURL(t.Context(), d, bad)
		blobtest.WantKind(t, err, errs.Invalid)
	}
	_, err = r.RedirectURL(t.Context(), "sha256:../x", time.Minute)
	blobtest.WantKind(t, err, errs.Invalid)
}

// Hostile ids and digests create nothing in the bucket.
func TestHostileTouchesNothing(t *testing.T) {
	b := newBucket(t, "p")
	s := b.store(t)
	b.put(t, "decoy", []byte("decoy"))
	blobtest.TryHostile(t, s)
	if diff := cmp.Diff(map[string]int64{"decoy": 5}, b.objects(t)); diff != "" {
		t.Fatalf("objects after hostile calls (-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	b := newBucket(t, "")
	ctx := t.Context()
	for name, mod := range map[string]func(o *s3.Options){
		"bad bucket name":  func(o *s3.Options) { o.Bucket = "No_Such" },
		"dot prefix":       func(o *s3.Options) { o.Prefix = "a/../b" },
		"slash prefix":     func(o *s3.Options) { o.Prefix = "/a" },
		"tiny part size":   func(o *s3.Options) { o.PartSize = mib },
		"missing endpoint": func(o *s3.Options) { o.Endpoint = "" },
	} {
		o := b.opts
		mod(&o)
		_, err := s3.New(ctx, o)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
	o := b.opts
	o.Bucket = "berth-no-such-bucket"
	if _, err := s3.New(ctx, o); !errs.Is(err, errs.NotFound) {
		t.Errorf("missing bucket: %v, want NotFound", err)
	}
	o = b.opts
	o.SecretKey = "wrong"
	if _, err := s3.New(ctx, o); err == nil {
		t.Error("wrong secret key: no error")
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the secret key: %v", err)
	}
}

// Walk lists the blobs under the store's prefix and nothing that merely
// looks like one.
func TestWalkSkipsForeignKeys(t *testing.T) {
	b := newBucket(t, "p")
	s := b.store(t)
	data := []byte("a blob")
	d := oci.FromBytes(data)
	if err := s.Put(t.Context(), d, data); err != nil {
		t.Fatal(err)
	}
	other := oci.FromBytes([]byte("other"))
	for _, key := range []string{
		"blobs/sha256/" + other.Hex()[:2] + "/" + other.Hex(),       // outside the prefix
		"p/blobs/sha256/00/" + other.Hex(),                          // wrong fan-out
		"p/blobs/sha512/" + other.Hex()[:2] + "/" + other.Hex(),     // wrong algorithm
		"p/blobs/sha256/" + other.Hex()[:2] + "/" + other.Hex()[1:], // short
		"p/blobs/md5/ab/abcd",
	} {
		b.put(t, key, []byte("x"))
	}
	got := map[oci.Digest]int64{}
	err := s.Walk(t.Context(), func(d oci.Digest, size int64, _ time.Time) error {
		got[d] = size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[oci.Digest]int64{d: int64(len(data))}, got); diff != "" {
		t.Fatalf("walk (-want +got):\n%s", diff)
	}
}

// Nodes configured with different part sizes share uploads: a node with
// small parts can rewrite inside a chunk that a node with large parts wrote.
func TestMixedPartSizes(t *testing.T) {
	b := newBucket(t, "")
	large := b.opts
	large.PartSize = 16 * mib
	bigStore, err := s3.New(t.Context(), large)
	if err != nil {
		t.Fatal(err)
	}
	small := b.opts
	small.PartSize = s3.MinPartSize
	smallStore, err := s3.New(t.Context(), small)
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(10, 14*mib)
	write(t, bigStore, "mixed", 0, data[:12*mib]) // one 12 MiB chunk
	write(t, smallStore, "mixed", 11*mib, data[11*mib:])
	if got := readUpload(t, bigStore, "mixed"); !bytes.Equal(got, data) {
		t.Fatalf("upload reads %d other bytes", len(got))
	}
	d := oci.FromBytes(data)
	if err := smallStore.CommitUpload(t.Context(), "mixed", int64(len(data)), d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, bigStore, d); !bytes.Equal(got, data) {
		t.Fatal("committed blob holds other bytes")
	}
}

// A chain whose chunks are too small to be parts (written by hand here,
// as a foreign writer or an older layout could) still commits: runs of
// small chunks are read back and uploaded as one part.
func TestCommitRunsOfSmallChunks(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	data := blobtest.Data(11, 9*mib+1024)
	for _, cut := range [][2]int{{0, mib}, {mib, 3 * mib}, {3 * mib, 9 * mib}, {9 * mib, len(data)}} {
		b.put(t, chunkKey("", "runs", int64(cut[0])), data[cut[0]:cut[1]])
	}
	if got := readUpload(t, s, "runs"); !bytes.Equal(got, data) {
		t.Fatalf("upload reads %d other bytes", len(got))
	}
	d := oci.FromBytes(data[:len(data)-10])
	if err := s.CommitUpload(t.Context(), "runs", int64(len(data)-10), d); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, d); !bytes.Equal(got, data[:len(data)-10]) {
		t.Fatal("committed blob holds other bytes")
	}
	if diff := cmp.Diff(map[string]int64{blobKey("", d): int64(len(data) - 10)}, b.objects(t)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
}

// A commit retried after its first try placed the blob but removed only
// the tail of the upload (the chunks go last first) still succeeds.
func TestCommitRetryAfterPartialCleanup(t *testing.T) {
	b := newBucket(t, "")
	s := b.store(t)
	data := blobtest.Data(12, 10*mib)
	d := oci.FromBytes(data)
	write(t, s, "retry", 0, data)
	if err := s.Put(t.Context(), d, data); err != nil { // the first try's blob
		t.Fatal(err)
	}
	if err := b.client.RemoveObject(t.Context(), b.opts.Bucket, chunkKey("", "retry", 8*mib), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitUpload(t.Context(), "retry", int64(len(data)), d); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	if diff := cmp.Diff(map[string]int64{blobKey("", d): int64(len(data))}, b.objects(t)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
}
