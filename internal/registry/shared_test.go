package registry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// sharedFS is a filesystem store that says several nodes write it, as an
// object store does.
type sharedFS struct{ *fs.Store }

func (sharedFS) SharedWriters() bool { return true }

// TestSharedStoreVerifiesStoredBytes: when another node overwrote an
// upload's data behind this node's saved hash state, completing the
// upload must not commit those bytes under the digest the state claims.
func TestSharedStoreVerifiesStoredBytes(t *testing.T) {
	ctx := context.Background()
	db, err := meta.Open(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := registry.New(db, sharedFS{st}, registry.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))

	good := bytes.Repeat([]byte("a"), 1000)
	evil := bytes.Repeat([]byte("b"), 1000)
	up, err := svc.StartUpload(ctx, "library/app", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AppendUpload(ctx, "library/app", up.ID, 0, bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	// "Another node" rewrites the session's bytes without the state.
	if _, err := st.WriteUpload(ctx, up.ID, 0, bytes.NewReader(evil)); err != nil {
		t.Fatal(err)
	}
	_, err = svc.CompleteUpload(ctx, "library/app", up.ID, string(oci.FromBytes(good)), -1, bytes.NewReader(nil))
	if e, ok := errs.As(err); !ok || e.Code != "DIGEST_INVALID" {
		t.Fatalf("complete over foreign bytes: %v", err)
	}
	if _, err := st.Stat(ctx, oci.FromBytes(good)); !errs.Is(err, errs.NotFound) {
		t.Fatalf("bytes were committed under a digest they do not have: %v", err)
	}
	if n, _ := db.Count(ctx, "SELECT count(*) FROM blobs"); n != 0 {
		t.Fatalf("%d blob rows", n)
	}

	// An honest upload on the shared store still commits.
	up, _ = svc.StartUpload(ctx, "library/app", "")
	if _, err := svc.AppendUpload(ctx, "library/app", up.ID, 0, bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	d, err := svc.CompleteUpload(ctx, "library/app", up.ID, string(oci.FromBytes(good)), -1, bytes.NewReader(nil))
	if err != nil || d != oci.FromBytes(good) {
		t.Fatalf("honest upload: %s %v", d, err)
	}
}
