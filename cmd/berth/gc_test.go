package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// TestGC runs `berth gc` over the stores of a data directory: usage
// errors, a dry run, a real run whose bytes disappear from disk, and the
// refusal while another collection holds the lease.
func TestGC(t *testing.T) {
	e := env{"BERTH_DATA_DIR": t.TempDir(), "BERTH_LOG_LEVEL": "warn"}
	gcRun := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"gc"}, args...), &stdout, &stderr, e.get)
		return code, stdout.String(), stderr.String()
	}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--workers", "0"}, 2, "--workers"},
		{[]string{"--workers"}, 2, "needs an argument"},
		{[]string{"--time-window", "soon"}, 2, "--time-window"},
		{[]string{"--dry-run=maybe"}, 2, "--dry-run"},
		{[]string{"--frob"}, 2, "flag provided but not defined"},
		{nil, 1, "no berth database at"},
	} {
		if code, _, stderr := gcRun(c.args...); code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("gc %v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
	for _, args := range [][]string{{"help", "gc"}, {"gc", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, e.get); code != 0 || !strings.Contains(stdout.String(), "--delete-untagged") {
			t.Errorf("%v: exit %d, %q", args, code, stdout.String())
		}
	}

	// The stores `berth serve` would use, with one unreferenced blob.
	cfg, err := config.Load(nil, e.get)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := meta.Open(ctx, cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	root, _ := cfg.Storage.FilePath()
	store, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Repeat([]byte("garbage "), 1000)
	d := oci.FromBytes(b)
	if err := store.Put(ctx, d, b); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * time.Minute)
	if _, err := db.Q().InsertBlob(ctx, meta.Blob{Digest: d, Size: int64(len(b)), LastSeen: old, CreatedAt: old}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "blobs", "sha256", d.Hex()[:2], d.Hex())

	code, stdout, stderr := gcRun("--dry-run", "--time-window", "0")
	if code != 0 || !strings.Contains(stdout, "would free 8000 bytes (1 blobs)") {
		t.Fatalf("dry run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, _ = gcRun() // the default window keeps a blob used ten minutes ago
	if code != 0 || !strings.Contains(stdout, "freed 0 bytes") {
		t.Fatalf("default window: exit %d: %s", code, stdout)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("the blob went before its time: %v", err)
	}
	code, stdout, stderr = gcRun("--time-window=5m", "--workers", "2", "--delete-untagged")
	if code != 0 || !strings.Contains(stdout, "success: freed 8000 bytes (1 blobs)") {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the blob's file is still there: %v", err)
	}

	now := time.Now()
	if ok, err := db.Q().AcquireGCLease(ctx, "server", now, now.Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if code, _, stderr := gcRun(); code != 1 || !strings.Contains(stderr, "already running") {
		t.Fatalf("while another collection runs: exit %d, %q", code, stderr)
	}
}
