package blobtest

import (
	"bytes"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/oci"
)

// testWalk checks the optional blob.Walker: every committed blob, of
// either algorithm and whether Put or committed from an upload, is listed
// once with its size; deleted blobs and uploads in progress are not; an
// error from the callback stops the walk and comes back.
func testWalk(t *testing.T, s blob.Store) {
	w, ok := s.(blob.Walker)
	if !ok {
		t.Skip("the store does not implement blob.Walker")
	}
	ctx := t.Context()
	want := map[oci.Digest]int64{}
	for i, alg := range []string{oci.SHA256, oci.SHA512, oci.SHA256} {
		b := Data(uint64(100+i), 1000*(i+1))
		d := Digest(t, alg, b)
		if err := s.Put(ctx, d, b); err != nil {
			t.Fatal(err)
		}
		want[d] = int64(len(b))
	}
	up := Data(200, 4321)
	if _, err := s.WriteUpload(ctx, "walk-upload", 0, bytes.NewReader(up)); err != nil {
		t.Fatal(err)
	}
	d := Digest(t, oci.SHA256, up)
	if err := s.CommitUpload(ctx, "walk-upload", int64(len(up)), d); err != nil {
		t.Fatal(err)
	}
	want[d] = int64(len(up))
	gone := Data(300, 10)
	gd := Digest(t, oci.SHA256, gone)
	if err := s.Put(ctx, gd, gone); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, gd); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteUpload(ctx, "walk-pending", 0, bytes.NewReader(Data(400, 50))); err != nil {
		t.Fatal(err)
	}

	got := map[oci.Digest]int64{}
	before := time.Now().Add(-time.Hour)
	err := w.Walk(ctx, func(d oci.Digest, size int64, mod time.Time) error {
		if _, dup := got[d]; dup {
			t.Errorf("walk listed %s twice", d)
		}
		if mod.Before(before) || mod.After(time.Now().Add(time.Hour)) {
			t.Errorf("walk: %s modified at %v, not about now", d, mod)
		}
		got[d] = size
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("walk listed %v, want %v", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = w.Walk(ctx, func(oci.Digest, int64, time.Time) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("walk with a failing callback: %d calls, error %v; want 1 call and the callback's error", calls, err)
	}
}
