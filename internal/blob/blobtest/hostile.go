package blobtest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// HostileUploadIDs returns upload ids that every store must refuse.
func HostileUploadIDs() []string {
	return []string{
		"", ".", "..", "../x", "../../x", "a/b", "/abs", `a\b`, "a.b",
		"a b", "a\x00b", "ü", "x\n", strings.Repeat("a", 129),
		"../uploads/x", "%2e%2e",
	}
}

// HostileDigests returns digests that every store must refuse, even
// though a caller could build them as oci.Digest without parsing.
func HostileDigests() []oci.Digest {
	hex := strings.Repeat("ab", 32)
	return []oci.Digest{
		"", "../x", "sha256:../../etc", "sha256:../../../../etc/passwd",
		"sha256:" + oci.Digest(strings.ToUpper(hex)),
		"sha256:" + oci.Digest(hex[:63]),
		"sha256:" + oci.Digest(hex) + "/../x",
		"sha256:" + oci.Digest(hex) + "0",
		"sha256/" + oci.Digest(hex),
		"md5:" + oci.Digest(hex[:32]),
		"../sha256:" + oci.Digest(hex),
		"sha512:" + oci.Digest(hex),
		oci.Digest(hex),
	}
}

// TryHostile calls every method of s with each hostile id and digest and
// requires an Invalid error every time. A driver's own tests can wrap it
// to check that nothing was created anywhere.
func TryHostile(t testing.TB, s blob.Store) {
	t.Helper()
	ctx := t.Context()
	good := oci.FromBytes([]byte("good"))
	for _, id := range HostileUploadIDs() {
		_, err := s.WriteUpload(ctx, id, 0, bytes.NewReader([]byte("evil")))
		wantInvalid(t, "WriteUpload", id, err)
		_, err = s.ReadUpload(ctx, id, 0)
		wantInvalid(t, "ReadUpload", id, err)
		wantInvalid(t, "CommitUpload", id, s.CommitUpload(ctx, id, 0, good))
		wantInvalid(t, "DeleteUpload", id, s.DeleteUpload(ctx, id))
	}
	for _, d := range HostileDigests() {
		_, err := s.Stat(ctx, d)
		wantInvalid(t, "Stat", string(d), err)
		_, err = s.Open(ctx, d, 0, -1)
		wantInvalid(t, "Open", string(d), err)
		wantInvalid(t, "Delete", string(d), s.Delete(ctx, d))
		wantInvalid(t, "Put", string(d), s.Put(ctx, d, []byte("evil")))
		wantInvalid(t, "CommitUpload", string(d), s.CommitUpload(ctx, "valid-id", 0, d))
	}
}

func wantInvalid(t testing.TB, method, arg string, err error) {
	t.Helper()
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("%s(%q): got %v (kind %v), want an Invalid error", method, arg, err, errs.KindOf(err))
	}
}

func testHostileUploadIDs(t *testing.T, s blob.Store) {
	// A valid upload must not be reachable under another spelling.
	write(t, s, "valid-id", 0, []byte("data"))
	TryHostile(t, s)
	list, err := s.ListUploads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "valid-id" {
		t.Fatalf("after hostile calls the store lists %+v, want only valid-id", list)
	}
	wantUpload(t, s, "valid-id", []byte("data"))
}

func testHostileDigests(t *testing.T, s blob.Store) {
	ctx := t.Context()
	b := []byte("stored")
	d := Digest(t, oci.SHA256, b)
	if err := s.Put(ctx, d, b); err != nil {
		t.Fatal(err)
	}
	// Other spellings of a stored digest name nothing and delete nothing.
	for _, bad := range []oci.Digest{
		oci.Digest(strings.ToUpper(string(d))),
		"sha256:" + oci.Digest(strings.ToUpper(d.Hex())),
		" " + d,
		d + " ",
		d + "/",
		d + "/../" + d,
		"sha256::" + oci.Digest(d.Hex()),
		"sha512:" + oci.Digest(d.Hex()),
	} {
		_, err := s.Stat(ctx, bad)
		wantInvalid(t, "Stat", string(bad), err)
		wantInvalid(t, "Delete", string(bad), s.Delete(ctx, bad))
	}
	wantBlob(t, s, d, b)
	for _, bad := range HostileDigests() {
		// Put refuses a bad digest before looking at the bytes.
		WantKind(t, s.Put(ctx, bad, nil), errs.Invalid)
	}
}

func testLongUploadID(t *testing.T, s blob.Store) {
	id := strings.Repeat("aZ09_-", 21) + "xy" // 128 characters
	write(t, s, id, 0, []byte("long"))
	wantUpload(t, s, id, []byte("long"))
	d := commit(t, s, id, []byte("long"), oci.SHA512)
	wantBlob(t, s, d, []byte("long"))
}
