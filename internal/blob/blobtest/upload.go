package blobtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// write writes b into upload id at offset and requires all of it stored.
func write(t testing.TB, s blob.Store, id string, offset int64, b []byte) {
	t.Helper()
	n, err := s.WriteUpload(t.Context(), id, offset, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("write upload %s at %d: %v", id, offset, err)
	}
	if n != int64(len(b)) {
		t.Fatalf("write upload %s at %d: wrote %d bytes, want %d", id, offset, n, len(b))
	}
}

func wantUpload(t testing.TB, s blob.Store, id string, want []byte) {
	t.Helper()
	rc, err := s.ReadUpload(t.Context(), id, 0)
	wantBytes(t, "upload "+id, readAll(t, rc, err), want)
}

func wantNoUpload(t testing.TB, s blob.Store, id string) {
	t.Helper()
	_, err := s.ReadUpload(t.Context(), id, 0)
	WantKind(t, err, errs.NotFound)
	list, err := s.ListUploads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range list {
		if u.ID == id {
			t.Fatalf("upload %s is still listed: %+v", id, u)
		}
	}
}

func commit(t testing.TB, s blob.Store, id string, b []byte, alg string) oci.Digest {
	t.Helper()
	d := Digest(t, alg, b)
	if err := s.CommitUpload(t.Context(), id, int64(len(b)), d); err != nil {
		t.Fatalf("commit upload %s as %s: %v", id, d, err)
	}
	return d
}

func testUploadChunks(t *testing.T, s blob.Store) {
	for i, alg := range []string{oci.SHA256, oci.SHA512} {
		id := fmt.Sprintf("chunks-%d", i)
		b := Data(uint64(10+i), 3_000_000)
		cuts := []int{0, 1, 1_000_000, 2_999_999, len(b)}
		for j := 1; j < len(cuts); j++ {
			write(t, s, id, int64(cuts[j-1]), b[cuts[j-1]:cuts[j]])
		}
		wantUpload(t, s, id, b)
		d := commit(t, s, id, b, alg)
		wantBlob(t, s, d, b)
		wantNoUpload(t, s, id)
	}
}

func testUploadRewrite(t *testing.T, s blob.Store) {
	const id = "rewrite"
	write(t, s, id, 0, []byte("aaaa"))
	write(t, s, id, 4, []byte("bbbb"))
	write(t, s, id, 8, []byte("cccc"))
	// A chunk written again at an earlier offset drops all that followed.
	write(t, s, id, 4, []byte("xx"))
	wantUpload(t, s, id, []byte("aaaaxx"))
	write(t, s, id, 6, []byte("yy"))
	wantUpload(t, s, id, []byte("aaaaxxyy"))
	write(t, s, id, 0, []byte("z"))
	wantUpload(t, s, id, []byte("z"))
	write(t, s, id, 1, nil) // an empty chunk at the end changes nothing
	wantUpload(t, s, id, []byte("z"))
	d := commit(t, s, id, []byte("z"), oci.SHA256)
	wantBlob(t, s, d, []byte("z"))
}

func testUploadOffsetBeyondData(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const id = "beyond"
	write(t, s, id, 0, []byte("abcd"))
	for _, off := range []int64{5, 100, -1} {
		_, err := s.WriteUpload(ctx, id, off, bytes.NewReader([]byte("x")))
		WantKind(t, err, errs.RangeInvalid)
	}
	wantUpload(t, s, id, []byte("abcd"))
	// A first write must start at 0; a failed one creates nothing.
	_, err := s.WriteUpload(ctx, "fresh", 3, bytes.NewReader([]byte("x")))
	WantKind(t, err, errs.RangeInvalid)
	wantNoUpload(t, s, "fresh")
}

func testUploadEmpty(t *testing.T, s blob.Store) {
	const id = "empty"
	write(t, s, id, 0, nil)
	wantUpload(t, s, id, []byte{})
	list, err := s.ListUploads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(u blob.UploadInfo) bool { return u.ID == id && u.Size == 0 }) {
		t.Fatalf("empty upload not listed with size 0: %+v", list)
	}
	d := commit(t, s, id, nil, oci.SHA256)
	wantBlob(t, s, d, nil)
	wantNoUpload(t, s, id)
}

// brokenReader delivers b and then fails, like a client that disconnects.
type brokenReader struct {
	b   []byte
	err error
}

func (r *brokenReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func testUploadInterrupted(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const id = "interrupted"
	b := Data(20, 3_000_000)
	head := b[:1_500_000]
	write(t, s, id, 0, head[:1000])
	disconnect := errors.New("client went away")
	n, err := s.WriteUpload(ctx, id, 1000, &brokenReader{b: head[1000:], err: disconnect})
	if err == nil {
		t.Fatal("a failing reader gave no error")
	}
	if !errors.Is(err, disconnect) {
		t.Errorf("error %v does not wrap the reader's error", err)
	}
	if n < 0 || n > int64(len(head)-1000) {
		t.Fatalf("wrote %d bytes of %d", n, len(head)-1000)
	}
	// Exactly the bytes acknowledged by n are stored; resume after them.
	stored := 1000 + n
	wantUpload(t, s, id, b[:stored])
	write(t, s, id, stored, b[stored:])
	d := commit(t, s, id, b, oci.SHA256)
	wantBlob(t, s, d, b)
}

func testReadUploadOffset(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const id = "read-offset"
	write(t, s, id, 0, []byte("0123456789"))
	for _, off := range []int64{0, 3, 9, 10} {
		rc, err := s.ReadUpload(ctx, id, off)
		wantBytes(t, fmt.Sprintf("read at %d", off), readAll(t, rc, err), []byte("0123456789")[off:])
	}
	_, err := s.ReadUpload(ctx, id, 11)
	WantKind(t, err, errs.RangeInvalid)
}

func testCommitSmallerSize(t *testing.T, s blob.Store) {
	const id = "smaller"
	b := []byte("the blob")
	write(t, s, id, 0, append(slices.Clone(b), " and junk after it"...))
	d := commit(t, s, id, b, oci.SHA256)
	wantBlob(t, s, d, b)
	wantNoUpload(t, s, id)
}

func testCommitSizeTooLarge(t *testing.T, s blob.Store) {
	const id = "too-large"
	write(t, s, id, 0, []byte("short"))
	d := Digest(t, oci.SHA256, []byte("short!"))
	err := s.CommitUpload(t.Context(), id, 6, d)
	WantKind(t, err, errs.Invalid)
	wantNoBlob(t, s, d)
	wantUpload(t, s, id, []byte("short"))
}

func testCommitExisting(t *testing.T, s blob.Store) {
	ctx := t.Context()
	b := Data(30, 5000)
	d := Digest(t, oci.SHA256, b)
	if err := s.Put(ctx, d, b); err != nil {
		t.Fatal(err)
	}
	const id = "existing"
	write(t, s, id, 0, b)
	commit(t, s, id, b, oci.SHA256)
	wantBlob(t, s, d, b)
	wantNoUpload(t, s, id)
}

// testCommitConcurrent commits one digest from many uploads at once, with
// readers watching: every commit succeeds, and a reader sees either no
// blob or all of it, never a part.
func testCommitConcurrent(t *testing.T, s blob.Store) {
	ctx := t.Context()
	const n = 16
	b := Data(40, 1_000_000)
	d := Digest(t, oci.SHA256, b)
	for i := range n {
		write(t, s, fmt.Sprintf("same-%d", i), 0, b)
	}
	start := make(chan struct{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	commitErrs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			commitErrs[i] = s.CommitUpload(ctx, fmt.Sprintf("same-%d", i), int64(len(b)), d)
		})
	}
	var readers sync.WaitGroup
	readErrs := make(chan error, 4)
	for range 4 {
		readers.Go(func() {
			<-start
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, err := s.Open(ctx, d, 0, -1)
				if errs.Is(err, errs.NotFound) {
					continue
				}
				if err != nil {
					readErrs <- err
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err == nil && !bytes.Equal(got, b) {
					err = fmt.Errorf("read %d bytes that are not the blob", len(got))
				}
				if err != nil {
					readErrs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(done)
	readers.Wait()
	close(readErrs)
	for err := range readErrs {
		t.Errorf("reader: %v", err)
	}
	for i, err := range commitErrs {
		if err != nil {
			t.Errorf("commit %d: %v", i, err)
		}
	}
	wantBlob(t, s, d, b)
	for i := range n {
		wantNoUpload(t, s, fmt.Sprintf("same-%d", i))
	}
}

func testDeleteUpload(t *testing.T, s blob.Store) {
	const id = "deleted"
	write(t, s, id, 0, []byte("data"))
	for range 2 { // the second delete finds nothing and is fine
		if err := s.DeleteUpload(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		wantNoUpload(t, s, id)
	}
	// The id can be used again from the start.
	write(t, s, id, 0, []byte("new"))
	wantUpload(t, s, id, []byte("new"))
}

func testListUploads(t *testing.T, s blob.Store) {
	ctx := t.Context()
	list, err := s.ListUploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("a new store lists uploads: %+v", list)
	}
	// Allow for coarse file system and object store clocks.
	before := time.Now().Add(-2 * time.Second)
	sizes := map[string]int{"list-a": 0, "list-b": 10, "list-c": 2_000_000}
	for id, n := range sizes {
		write(t, s, id, 0, Data(50, n))
	}
	after := time.Now().Add(2 * time.Second)
	list, err = s.ListUploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, u := range list {
		got[u.ID] = int(u.Size)
		if u.Modified.Before(before) || u.Modified.After(after) {
			t.Errorf("upload %s modified at %v, not between %v and %v", u.ID, u.Modified, before, after)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(sizes) {
		t.Fatalf("listed %v, want %v", got, sizes)
	}
	if err := s.DeleteUpload(ctx, "list-b"); err != nil {
		t.Fatal(err)
	}
	commit(t, s, "list-c", Data(50, 2_000_000), oci.SHA256)
	list, err = s.ListUploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "list-a" || list[0].Size != 0 {
		t.Fatalf("after delete and commit listed %+v, want only list-a", list)
	}
}

// tapReader is a blob.Tapped that records what is tapped.
type tapReader struct {
	src    io.Reader
	tapped bytes.Buffer
}

func (r *tapReader) Read(p []byte) (int, error) {
	n, err := r.src.Read(p)
	r.Tap(p[:n])
	return n, err
}
func (r *tapReader) Source() io.Reader { return r.src }
func (r *tapReader) Tap(p []byte)      { r.tapped.Write(p) }

// A tapped reader sees every byte the store read, once and in order, by
// the time WriteUpload returns, whether the source ends cleanly or fails
// part-way; what was stored is a prefix of what was tapped.
func testUploadTapped(t *testing.T, s blob.Store) {
	ctx := t.Context()
	// Sizes on both sides of a store's buffer (the filesystem store
	// handles a body of one buffer in line, a larger one in a pipeline).
	for i, size := range []int{3000, 5<<20 + 4321} {
		b := Data(uint64(21+i), size)
		id := fmt.Sprintf("tapped-%d", size)
		r := &tapReader{src: bytes.NewReader(b)}
		n, err := s.WriteUpload(ctx, id, 0, r)
		if err != nil || n != int64(len(b)) {
			t.Fatalf("%d bytes: wrote %d, %v", size, n, err)
		}
		if !bytes.Equal(r.tapped.Bytes(), b) {
			t.Fatalf("%d bytes: tapped %d bytes that differ from those written", size, r.tapped.Len())
		}
		wantUpload(t, s, id, b)

		disconnect := errors.New("client went away")
		cut := size * 2 / 3
		id += "-broken"
		r = &tapReader{src: &brokenReader{b: b[:cut], err: disconnect}}
		n, err = s.WriteUpload(ctx, id, 0, r)
		if !errors.Is(err, disconnect) {
			t.Fatalf("%d bytes: error %v does not wrap the reader's", size, err)
		}
		if !bytes.Equal(r.tapped.Bytes(), b[:cut]) {
			t.Fatalf("%d bytes: tapped %d bytes, want the %d the source gave", size, r.tapped.Len(), cut)
		}
		if n > int64(r.tapped.Len()) {
			t.Fatalf("%d bytes: stored %d bytes, more than the %d tapped", size, n, r.tapped.Len())
		}
		if n > 0 {
			wantUpload(t, s, id, b[:n])
		}
	}
}
