package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/testutil/pagecache"
)

// residentPages counts the pages of the file at path in the page cache.
func residentPages(t *testing.T, path string) int {
	t.Helper()
	pages, err := pagecache.Resident(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range pages {
		if in {
			n++
		}
	}
	return n
}

// dropFileCaches empties the page cache of the files under its tree, dirty
// ones included, and of no others.
func TestDropFileCaches(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	data := pseudoRandom(7, 4<<20)
	in := filepath.Join(dir, "sub", "blob")
	out := filepath.Join(other, "blob")
	if err := os.MkdirAll(filepath.Dir(in), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{in, out} {
		if err := os.WriteFile(p, data, 0o644); err != nil { // dirty, not fsync'd
			t.Fatal(err)
		}
	}
	pages := len(data) / os.Getpagesize()
	if got := residentPages(t, in); got != pages {
		t.Skipf("a fresh write left %d of %d pages cached here", got, pages)
	}
	if err := dropFileCaches(dir); err != nil {
		t.Fatal(err)
	}
	if got := residentPages(t, in); got != 0 {
		t.Errorf("%d pages of the file under the tree still cached", got)
	}
	if got := residentPages(t, out); got != pages {
		t.Errorf("the file outside the tree has %d of %d pages cached", got, pages)
	}
	got, err := os.ReadFile(in)
	if err != nil || string(got) != string(data) {
		t.Fatalf("read back after the drop: %d bytes, %v", len(got), err)
	}
}
