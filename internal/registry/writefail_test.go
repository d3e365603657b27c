package registry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// failingWrites is a shared store whose next WriteUpload calls read the
// whole body and then fail with nothing stored, as an object store does
// when it refuses the PUT of a chunk.
type failingWrites struct {
	*fs.Store
	fail atomic.Int32 // how many of the next writes fail
}

func (*failingWrites) SharedWriters() bool { return true }

func (f *failingWrites) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	if f.fail.Add(-1) >= 0 {
		io.Copy(io.Discard, r)
		return 0, errs.New(errs.Unavailable, "", "write upload %s at %d: the object store said no", id, offset)
	}
	return f.Store.WriteUpload(ctx, id, offset, r)
}

// TestWriteFailureIsRetryable: when the store refuses a chunk and keeps
// none of it, the client hears that retryable failure — not that its
// upload is unknown (the store has no data of a new session to reread) —
// and the session stays where it was, so the same chunk can be sent again.
func TestWriteFailureIsRetryable(t *testing.T) {
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
	store := &failingWrites{Store: st}
	svc := registry.New(db, store, registry.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	data := bytes.Repeat([]byte("layer"), 3000)
	d := oci.FromBytes(data)

	// Monolithic: the whole push fails retryably and leaves nothing.
	store.fail.Store(1)
	_, err = svc.PutBlob(ctx, "library/app", string(d), bytes.NewReader(data))
	if e, ok := errs.As(err); !ok || e.Kind != errs.Unavailable {
		t.Fatalf("monolithic push over a refused write: %v, want an Unavailable error", err)
	}
	for _, table := range []string{"uploads", "blobs"} {
		if n, _ := db.Count(ctx, "SELECT count(*) FROM "+table); n != 0 {
			t.Fatalf("%d %s rows after the failed push", n, table)
		}
	}
	if got, err := svc.PutBlob(ctx, "library/app", string(d), bytes.NewReader(data)); err != nil || got != d {
		t.Fatalf("retried push: %s %v", got, err)
	}

	// Chunked: the first chunk is refused, the session stays at 0, and
	// the same chunk sent again completes it.
	other := bytes.Repeat([]byte("chunk"), 3000)
	up, err := svc.StartUpload(ctx, "library/app", "")
	if err != nil {
		t.Fatal(err)
	}
	store.fail.Store(1)
	status, err := svc.AppendUpload(ctx, "library/app", up.ID, 0, bytes.NewReader(other))
	if e, ok := errs.As(err); !ok || e.Kind != errs.Unavailable {
		t.Fatalf("refused chunk: %v, want an Unavailable error", err)
	}
	if status.Offset != 0 {
		t.Fatalf("offset after a refused chunk: %d", status.Offset)
	}
	if s, err := svc.UploadStatus(ctx, "library/app", up.ID); err != nil || s.Offset != 0 {
		t.Fatalf("session after a refused chunk: %+v %v", s, err)
	}
	if _, err := svc.AppendUpload(ctx, "library/app", up.ID, 0, bytes.NewReader(other)); err != nil {
		t.Fatalf("chunk sent again: %v", err)
	}
	od := oci.FromBytes(other)
	if got, err := svc.CompleteUpload(ctx, "library/app", up.ID, string(od), -1, bytes.NewReader(nil)); err != nil || got != od {
		t.Fatalf("complete: %s %v", got, err)
	}
	rc, err := st.Open(ctx, od, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, other) {
		t.Fatalf("stored %d bytes, want the %d sent", len(got), len(other))
	}
}
