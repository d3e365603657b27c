// Package blobtest is the test suite every blob.Store driver must pass. It
// pins down the contract of blob.Store beyond its method signatures: which
// error kinds come back, how ranges are cut, what rewriting an upload
// chunk does, and that concurrent commits of one digest all succeed.
// It is imported only by tests.
package blobtest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// Run runs the suite. newStore must return an empty store that no other
// test uses; it is called once per subtest.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutStatOpen", testPutStatOpen},
		{"PutEmpty", testPutEmpty},
		{"PutTwice", testPutTwice},
		{"PutWrongDigest", testPutWrongDigest},
		{"OpenRange", testOpenRange},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"UploadChunks", testUploadChunks},
		{"UploadRewrite", testUploadRewrite},
		{"UploadOffsetBeyondData", testUploadOffsetBeyondData},
		{"UploadEmpty", testUploadEmpty},
		{"UploadInterrupted", testUploadInterrupted},
		{"UploadTapped", testUploadTapped},
		{"ReadUploadOffset", testReadUploadOffset},
		{"CommitSmallerSize", testCommitSmallerSize},
		{"CommitSizeTooLarge", testCommitSizeTooLarge},
		{"CommitExisting", testCommitExisting},
		{"CommitConcurrent", testCommitConcurrent},
		{"DeleteUpload", testDeleteUpload},
		{"ListUploads", testListUploads},
		{"HostileUploadIDs", testHostileUploadIDs},
		{"HostileDigests", testHostileDigests},
		{"LongUploadID", testLongUploadID},
		{"Walk", testWalk}, // optional: blob.Walker (walk.go)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// Digest returns the digest of b with algorithm alg.
func Digest(t testing.TB, alg string, b []byte) oci.Digest {
	t.Helper()
	d, err := oci.FromBytesAlg(alg, b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// WantKind fails t unless err has kind k.
func WantKind(t testing.TB, err error, k errs.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %v", k)
	}
	if got := errs.KindOf(err); got != k {
		t.Fatalf("got error of kind %v (%v), want kind %v", got, err, k)
	}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
}

func readAll(t testing.TB, rc io.ReadCloser, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes %s, want %d bytes %s", what, len(got), short(got), len(want), short(want))
	}
}

func short(b []byte) string {
	if len(b) > 16 {
		return string(oci.FromBytes(b))
	}
	return "\"" + string(b) + "\""
}

// wantBlob checks that d is stored with exactly the bytes want.
func wantBlob(t testing.TB, s blob.Store, d oci.Digest, want []byte) {
	t.Helper()
	ctx := t.Context()
	size, err := s.Stat(ctx, d)
	if err != nil {
		t.Fatalf("stat %s: %v", d, err)
	}
	if size != int64(len(want)) {
		t.Fatalf("stat %s: size %d, want %d", d, size, len(want))
	}
	rc, err := s.Open(ctx, d, 0, -1)
	wantBytes(t, "blob "+string(d), readAll(t, rc, err), want)
}

func wantNoBlob(t testing.TB, s blob.Store, d oci.Digest) {
	t.Helper()
	_, err := s.Stat(t.Context(), d)
	WantKind(t, err, errs.NotFound)
}

func testPutStatOpen(t *testing.T, s blob.Store) {
	for i, alg := range []string{oci.SHA256, oci.SHA512} {
		b := Data(uint64(i), 300_000)
		d := Digest(t, alg, b)
		if err := s.Put(t.Context(), d, b); err != nil {
			t.Fatalf("put %s: %v", alg, err)
		}
		wantBlob(t, s, d, b)
	}
}

func testPutEmpty(t *testing.T, s blob.Store) {
	d := Digest(t, oci.SHA256, nil)
	if err := s.Put(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
	wantBlob(t, s, d, nil)
}

func testPutTwice(t *testing.T, s blob.Store) {
	b := []byte("twice")
	d := Digest(t, oci.SHA256, b)
	for range 2 {
		if err := s.Put(t.Context(), d, b); err != nil {
			t.Fatal(err)
		}
	}
	wantBlob(t, s, d, b)
}

func testPutWrongDigest(t *testing.T, s blob.Store) {
	ctx := t.Context()
	b := []byte("the real bytes")
	for _, d := range []oci.Digest{
		Digest(t, oci.SHA256, []byte("other bytes")),
		Digest(t, oci.SHA512, []byte("other bytes")),
	} {
		WantKind(t, s.Put(ctx, d, b), errs.Invalid)
		wantNoBlob(t, s, d)
	}
	// The right hex under the wrong algorithm is wrong too.
	d256 := Digest(t, oci.SHA256, b)
	WantKind(t, s.Put(ctx, d256, Data(7, 10)), errs.Invalid)
	wantNoBlob(t, s, d256)
}

func testOpenRange(t *testing.T, s blob.Store) {
	ctx := t.Context()
	b := Data(3, 10_000)
	d := Digest(t, oci.SHA256, b)
	if err := s.Put(ctx, d, b); err != nil {
		t.Fatal(err)
	}
	n := int64(len(b))
	cases := []struct {
		offset, length int64
		want           []byte
	}{
		{0, -1, b},
		{0, n, b},
		{0, 0, []byte{}},
		{0, 10, b[:10]},
		{10, 5, b[10:15]},
		{10, -1, b[10:]},
		{n - 1, 1, b[n-1:]},
		{n - 1, 100, b[n-1:]}, // cut at the end
		{100, n, b[100:]},     // cut at the end
		{n, -1, []byte{}},     // at the end: empty, not an error
		{n, 5, []byte{}},
	}
	for _, c := range cases {
		rc, err := s.Open(ctx, d, c.offset, c.length)
		if err != nil {
			t.Fatalf("open at %d length %d: %v", c.offset, c.length, err)
		}
		wantBytes(t, "range", readAll(t, rc, nil), c.want)
	}
	for _, off := range []int64{n + 1, n + 1000, -1} {
		_, err := s.Open(ctx, d, off, -1)
		WantKind(t, err, errs.RangeInvalid)
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := t.Context()
	for _, alg := range []string{oci.SHA256, oci.SHA512} {
		d := Digest(t, alg, []byte("never stored"))
		_, err := s.Stat(ctx, d)
		WantKind(t, err, errs.NotFound)
		wantCode(t, err, "BLOB_UNKNOWN")
		_, err = s.Open(ctx, d, 0, -1)
		WantKind(t, err, errs.NotFound)
		wantCode(t, err, "BLOB_UNKNOWN")
	}
	_, err := s.ReadUpload(ctx, "no-such-upload", 0)
	WantKind(t, err, errs.NotFound)
	wantCode(t, err, "BLOB_UPLOAD_UNKNOWN")
	err = s.CommitUpload(ctx, "no-such-upload", 0, Digest(t, oci.SHA256, nil))
	WantKind(t, err, errs.NotFound)
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	b := []byte("to be deleted")
	d := Digest(t, oci.SHA256, b)
	keep := []byte("to be kept")
	dk := Digest(t, oci.SHA256, keep)
	for _, p := range []struct {
		d oci.Digest
		b []byte
	}{{d, b}, {dk, keep}} {
		if err := s.Put(ctx, p.d, p.b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 { // the second delete finds nothing and is fine
		if err := s.Delete(ctx, d); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		wantNoBlob(t, s, d)
	}
	if err := s.Delete(ctx, Digest(t, oci.SHA512, []byte("never stored"))); err != nil {
		t.Fatalf("delete of a blob never stored: %v", err)
	}
	wantBlob(t, s, dk, keep)
	// A deleted blob can be stored again.
	if err := s.Put(ctx, d, b); err != nil {
		t.Fatal(err)
	}
	wantBlob(t, s, d, b)
}
