package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/blob/blobtest"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func newStore(t testing.TB) *fs.Store {
	t.Helper()
	s, err := fs.New(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

// files lists the regular files under dir, relative to it, with sizes.
func files(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, e iofs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tree lists every entry under dir, directories included.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e iofs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprintf("%s %v", filepath.ToSlash(rel), e.Type()))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLayout(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	root := s.Root()

	small := []byte("small blob")
	d1 := oci.FromBytes(small)
	if err := s.Put(ctx, d1, small); err != nil {
		t.Fatal(err)
	}
	big := blobtest.Data(1, 100_000)
	d2 := blobtest.Digest(t, oci.SHA512, big)
	if _, err := s.WriteUpload(ctx, "up1", 0, bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	sd1 := "blobs/sha256/" + d1.Hex()[:2] + "/" + d1.Hex()
	sd2 := "blobs/sha512/" + d2.Hex()[:2] + "/" + d2.Hex()
	want := map[string]int64{sd1: int64(len(small)), "uploads/up1": int64(len(big))}
	if diff := cmp.Diff(want, files(t, root)); diff != "" {
		t.Fatalf("files before commit (-want +got):\n%s", diff)
	}
	if err := s.CommitUpload(ctx, "up1", int64(len(big)), d2); err != nil {
		t.Fatal(err)
	}

	// Nothing is left in uploads/ or tmp/.
	want = map[string]int64{sd1: int64(len(small)), sd2: int64(len(big))}
	if diff := cmp.Diff(want, files(t, root)); diff != "" {
		t.Fatalf("files on disk (-want +got):\n%s", diff)
	}
	for p, b := range map[string][]byte{
		filepath.Join(root, "blobs", "sha256", d1.Hex()[:2], d1.Hex()): small,
		filepath.Join(root, "blobs", "sha512", d2.Hex()[:2], d2.Hex()): big,
	} {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%s holds other bytes", p)
		}
	}
}

// A commit moves the upload file rather than copying it.
func TestCommitIsRename(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	b := blobtest.Data(2, 1000)
	if _, err := s.WriteUpload(ctx, "moved", 0, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(filepath.Join(s.Root(), "uploads", "moved"))
	if err != nil {
		t.Fatal(err)
	}
	d := oci.FromBytes(b)
	if err := s.CommitUpload(ctx, "moved", int64(len(b)), d); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(filepath.Join(s.Root(), "blobs", "sha256", d.Hex()[:2], d.Hex()))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("the committed blob is not the upload file")
	}
}

func TestCommitConcurrentLeavesOneFile(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	b := blobtest.Data(3, 200_000)
	d := oci.FromBytes(b)
	const n = 16
	for i := range n {
		if _, err := s.WriteUpload(ctx, fmt.Sprint("u", i), 0, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errList := make([]error, 2*n)
	for i := range n {
		wg.Go(func() { errList[i] = s.CommitUpload(ctx, fmt.Sprint("u", i), int64(len(b)), d) })
		wg.Go(func() { errList[n+i] = s.Put(ctx, d, b) })
	}
	wg.Wait()
	if err := errors.Join(errList...); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"blobs/sha256/" + d.Hex()[:2] + "/" + d.Hex(): int64(len(b))}
	if diff := cmp.Diff(want, files(t, s.Root())); diff != "" {
		t.Fatalf("files on disk (-want +got):\n%s", diff)
	}
	got, err := os.ReadFile(filepath.Join(s.Root(), "blobs", "sha256", d.Hex()[:2], d.Hex()))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("blob on disk is not intact: %v", err)
	}
}

// Hostile ids and digests change nothing on disk, inside root or around it.
func TestHostileTouchesNothing(t *testing.T) {
	parent := t.TempDir()
	s, err := fs.New(filepath.Join(parent, "a", "b", "store"))
	if err != nil {
		t.Fatal(err)
	}
	// Decoys where an escaping path would land.
	for _, p := range []string{"x", "a/x", "a/b/x", "a/b/store/x", "etc/passwd"} {
		p = filepath.Join(parent, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("decoy"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	beforeParent, beforeCwd := tree(t, parent), tree(t, cwd)
	blobtest.TryHostile(t, s)
	if diff := cmp.Diff(beforeParent, tree(t, parent)); diff != "" {
		t.Errorf("hostile calls changed the tree around the store (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(beforeCwd, tree(t, cwd)); diff != "" {
		t.Errorf("hostile calls changed the working directory (-before +after):\n%s", diff)
	}
	for p, size := range files(t, parent) {
		if size != 5 {
			t.Errorf("%s was written: %d bytes", p, size)
		}
	}
}

// A client that disconnects mid-chunk keeps the bytes that did arrive.
func TestWriteUploadPartial(t *testing.T) {
	s := newStore(t)
	b := blobtest.Data(4, 2_500_000) // spans several copy buffers
	r := io.MultiReader(bytes.NewReader(b), iotestErrReader{errors.New("connection reset")})
	n, err := s.WriteUpload(t.Context(), "partial", 0, r)
	if err == nil {
		t.Fatal("no error from a failing reader")
	}
	if n != int64(len(b)) {
		t.Fatalf("wrote %d bytes, want %d", n, len(b))
	}
	got, err := os.ReadFile(filepath.Join(s.Root(), "uploads", "partial"))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("upload on disk is %d bytes (%v), want the %d delivered", len(got), err, len(b))
	}
}

// Chunks at aligned and unaligned offsets, in reads of odd sizes, end up
// byte for byte in the upload, whichever way the writer sends them to
// disk (around the page cache for whole aligned blocks, through it for
// the rest), and a rewrite from an earlier offset replaces the tail.
func TestWriteUploadOffsets(t *testing.T) {
	s := newStore(t)
	fs.SetDirectFrom(s, 32<<20, 32<<20)
	b := blobtest.Data(6, 37<<20+1234)
	cuts := []int64{0, 3<<20 + 7, 3<<20 + 4096 + 7, 4 << 20, 35<<20 + 7, 35<<20 + 4096 + 7, 36 << 20, int64(len(b))}
	for i := 0; i+1 < len(cuts); i++ {
		r := &oddReader{r: bytes.NewReader(b[cuts[i]:cuts[i+1]])}
		n, err := s.WriteUpload(t.Context(), "offsets", cuts[i], r)
		if err != nil || n != cuts[i+1]-cuts[i] {
			t.Fatalf("chunk %d: wrote %d, %v", i, n, err)
		}
	}
	// Resume from an unaligned offset inside what is stored.
	n, err := s.WriteUpload(t.Context(), "offsets", 33<<20+3, bytes.NewReader(b[33<<20+3:]))
	if err != nil || n != int64(len(b))-(33<<20+3) {
		t.Fatalf("rewrite: %d, %v", n, err)
	}
	got, err := os.ReadFile(filepath.Join(s.Root(), "uploads", "offsets"))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("upload on disk is %d bytes (%v), want %d equal to what was sent", len(got), err, len(b))
	}
}

// oddReader returns reads of varying, unaligned sizes.
type oddReader struct {
	r io.Reader
	i int
}

func (o *oddReader) Read(p []byte) (int, error) {
	o.i++
	return o.r.Read(p[:min(len(p), 100_000+o.i*4099)])
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestSweepTemp(t *testing.T) {
	s := newStore(t)
	tmp := filepath.Join(s.Root(), "tmp")
	old := time.Now().Add(-2 * time.Hour)
	for name, mtime := range map[string]time.Time{
		"put-old":     old,
		"put-older":   old.Add(-time.Hour),
		"put-fresh":   time.Now(),
		"not-ours":    old,
		"put-old-dir": old,
	} {
		p := filepath.Join(tmp, name)
		var err error
		if name == "put-old-dir" {
			err = os.Mkdir(p, 0o750)
		} else {
			err = os.WriteFile(p, []byte("leftover"), 0o640)
		}
		if err == nil {
			err = os.Chtimes(p, mtime, mtime)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.SweepTemp(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("removed %d files, want 2", n)
	}
	want := []string{". d---------", "not-ours ----------", "put-fresh ----------", "put-old-dir d---------"}
	if diff := cmp.Diff(want, tree(t, tmp)); diff != "" {
		t.Errorf("tmp after sweep (-want +got):\n%s", diff)
	}
	// A Put leaves nothing behind in tmp.
	if err := s.Put(t.Context(), oci.FromBytes([]byte("p")), []byte("p")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, tree(t, tmp)); diff != "" {
		t.Errorf("tmp after a Put (-want +got):\n%s", diff)
	}
}

func TestNew(t *testing.T) {
	if _, err := fs.New(""); !errs.Is(err, errs.Invalid) {
		t.Errorf("New(\"\"): %v, want Invalid", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.New(file); err == nil {
		t.Error("New on a file: no error")
	}
	// Opening an existing store keeps its blobs.
	root := filepath.Join(t.TempDir(), "store")
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	d := oci.FromBytes([]byte("kept"))
	if err := s.Put(t.Context(), d, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s2, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if size, err := s2.Stat(t.Context(), d); err != nil || size != 4 {
		t.Fatalf("reopened store: stat %d, %v", size, err)
	}
}

// plainReader hides bytes.Reader's WriterTo, as a request body would.
type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

func BenchmarkWriteUpload(b *testing.B) {
	s := newStore(b)
	data := blobtest.Data(5, 64<<20)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		n, err := s.WriteUpload(b.Context(), "bench", 0, plainReader{bytes.NewReader(data)})
		if err != nil || n != int64(len(data)) {
			b.Fatalf("wrote %d: %v", n, err)
		}
	}
}

// A blob section read partly with Read and then copied (the WriteTo
// that lets net/http use sendfile) yields exactly the section's bytes.
func TestOpenSectionWriteTo(t *testing.T) {
	s := newStore(t)
	b := blobtest.Data(8, 300_000)
	d := oci.FromBytes(b)
	if err := s.Put(t.Context(), d, b); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(t.Context(), d, 5, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 10)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	n, err := io.Copy(&rest, rc)
	if err != nil || n != 200_000-10 {
		t.Fatalf("copied %d, %v", n, err)
	}
	if got := append(head, rest.Bytes()...); !bytes.Equal(got, b[5:200_005]) {
		t.Fatal("section bytes differ from the blob's")
	}
	if n, _ := io.Copy(io.Discard, rc); n != 0 {
		t.Fatalf("%d more bytes after the end", n)
	}
}

// A section written from mappings of the file, after a partial Read and
// across the boundaries of the mapping windows, yields exactly its
// bytes; a failing writer stops it with the writer's error.
func TestOpenSectionWriteMappedTo(t *testing.T) {
	s := newStore(t)
	b := blobtest.Data(9, 9<<20+123)
	d := oci.FromBytes(b)
	if err := s.Put(t.Context(), d, b); err != nil {
		t.Fatal(err)
	}
	type mapped interface {
		WriteMappedTo(io.Writer) (int64, error)
	}
	for _, c := range []struct{ off, n, head int64 }{
		{0, -1, 0},
		{0, -1, 7},
		{4095, 4<<20 + 2, 1},
		{4<<20 - 3, 5 << 20, 0},
		{9 << 20, 123, 0},
		{int64(len(b)), 0, 0},
	} {
		rc, err := s.Open(t.Context(), d, c.off, c.n)
		if err != nil {
			t.Fatal(err)
		}
		want := b[c.off:]
		if c.n >= 0 {
			want = want[:c.n]
		}
		got := make([]byte, c.head)
		if _, err := io.ReadFull(rc, got); err != nil {
			t.Fatal(err)
		}
		var rest bytes.Buffer
		n, err := rc.(mapped).WriteMappedTo(&rest)
		if err != nil || n != int64(len(want))-c.head {
			t.Fatalf("%+v: wrote %d, %v; want %d", c, n, err, int64(len(want))-c.head)
		}
		if !bytes.Equal(append(got, rest.Bytes()...), want) {
			t.Fatalf("%+v: bytes differ from the blob's", c)
		}
		if n, _ := io.Copy(io.Discard, rc); n != 0 {
			t.Fatalf("%+v: %d more bytes after the end", c, n)
		}
		rc.Close()
	}

	rc, err := s.Open(t.Context(), d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	broken := errors.New("peer went away")
	n, err := rc.(mapped).WriteMappedTo(&failAfter{n: 5 << 20, err: broken})
	if !errors.Is(err, broken) || n != 5<<20 {
		t.Fatalf("wrote %d, %v; want %d and the writer's error", n, err, 5<<20)
	}
}

// failAfter accepts n bytes, then fails with err.
type failAfter struct {
	n   int
	err error
}

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, w.err
}

// A new store has every prefix directory of both algorithms, so that no
// push creates one; opening it again leaves them as they are.
func TestNewMakesPrefixDirs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	for range 2 {
		if _, err := fs.New(root); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{"sha256", "sha512"} {
			entries, err := os.ReadDir(filepath.Join(root, "blobs", alg))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 256 || entries[0].Name() != "00" || entries[255].Name() != "ff" || !entries[0].IsDir() {
				t.Fatalf("%s: %d entries, want directories 00 … ff", alg, len(entries))
			}
		}
	}
}

// A prefix directory removed from under the store is made again by the
// next commit into it; a commit of an upload that is gone says so.
func TestCommitRemakesPrefixDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	b := blobtest.Data(31, 5000)
	d := oci.FromBytes(b)
	prefix := filepath.Join(root, "blobs", "sha256", d.Hex()[:2])
	if err := os.Remove(prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteUpload(t.Context(), "remake", 0, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitUpload(t.Context(), "remake", int64(len(b)), d); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(prefix, d.Hex()))
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("blob file after commit: %v", err)
	}
	other := blobtest.Data(32, 10)
	err = s.CommitUpload(t.Context(), "never-written", 10, oci.FromBytes(other))
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("commit of a missing upload: %v, want not found", err)
	}
}

// A mapped section whose file is cut short underneath (as a disk error
// would leave its pages unreadable) ends in an error, not a crash, when
// the writer reads the bytes in this process.
func TestWriteMappedToFaultIsAnError(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	b := blobtest.Data(33, 6<<20)
	d := oci.FromBytes(b)
	if err := s.Put(t.Context(), d, b); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(t.Context(), d, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := os.Truncate(filepath.Join(root, "blobs", "sha256", d.Hex()[:2], d.Hex()), 4096); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	n, err := rc.(interface {
		WriteMappedTo(io.Writer) (int64, error)
	}).WriteMappedTo(&got)
	if err == nil {
		t.Fatalf("wrote %d bytes of a file cut to 4096 without an error", n)
	}
	t.Logf("wrote %d bytes, then: %v", n, err)
}
