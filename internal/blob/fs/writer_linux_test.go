package fs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/testutil/pagecache"
)

// cachedMiB reports, for each MiB of the file at path, whether all of
// its pages are in the page cache.
func cachedMiB(t *testing.T, path string) []bool {
	t.Helper()
	pages, err := pagecache.Resident(path)
	if err != nil {
		t.Fatal(err)
	}
	per := (1 << 20) / os.Getpagesize()
	out := make([]bool, len(pages)/per)
	for i := range out {
		out[i] = !slices.Contains(pages[i*per:(i+1)*per], false)
	}
	return out
}

// A lone large upload stays in the page cache up to policy.alone; while
// another large one runs, writes past policy.busy go around it; when that
// one ends, the bound is policy.alone again.
func TestDirectPolicy(t *testing.T) {
	dir := t.TempDir()
	p := &directPolicy{alone: 8 << 20, busy: 2 << 20}
	buf := alignedBuf(1 << 20)
	for i := range buf {
		buf[i] = byte(i*7 + 3)
	}
	create := func(name string) (*os.File, *diskWriter) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, newDiskWriter(f, 0, p)
	}
	write := func(w *diskWriter, mib int) {
		t.Helper()
		for range mib {
			if _, err := w.write(buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, a := create("a")
	_, b := create("b")
	write(a, 3) // MiB 0-2: a counts as large from MiB 2 on
	write(b, 3) // b too: two large uploads
	if got := p.large.Load(); got != 2 {
		t.Fatalf("large uploads = %d, want 2", got)
	}
	write(a, 3) // MiB 3-5, past busy with b running: around the cache
	if a.noDirect {
		t.Skip("this filesystem refuses O_DIRECT")
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	write(a, 4) // MiB 6-7 below alone, alone again: cached; 8-9 past it: around
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	if got := p.large.Load(); got != 0 {
		t.Fatalf("large uploads after close = %d", got)
	}
	want := []bool{true, true, true, false, false, false, true, true, false, false}
	got := cachedMiB(t, filepath.Join(dir, "a"))
	if len(got) != len(want) {
		t.Fatalf("file has %d MiB, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("MiB %d: in the page cache %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
	// b's third MiB, past busy while a ran, went around the cache too.
	if got := cachedMiB(t, filepath.Join(dir, "b")); len(got) != 3 || !got[0] || !got[1] || got[2] {
		t.Errorf("b: in the page cache %v, want [true true false]", got)
	}
	// A request that continues an upload (a chunked push's later PATCH)
	// goes around the cache past busy even alone; the one that began at
	// 0 stays cached.
	c, cw := create("c")
	write(cw, 2) // MiB 0-1, the first request
	if err := cw.close(); err != nil {
		t.Fatal(err)
	}
	cw = newDiskWriter(c, 2<<20, p) // the next request, at 2 MiB
	write(cw, 2)                    // MiB 2-3: past busy, alone
	if err := cw.close(); err != nil {
		t.Fatal(err)
	}
	if got := cachedMiB(t, filepath.Join(dir, "c")); len(got) != 4 || !got[0] || !got[1] || got[2] || got[3] {
		t.Errorf("c: in the page cache %v, want [true true false false]", got)
	}
	// The bytes are right whichever way they went.
	data, err := os.ReadFile(filepath.Join(dir, "a"))
	if err != nil || len(data) != 10<<20 {
		t.Fatalf("read a: %d bytes, %v", len(data), err)
	}
	for i := 0; i < len(data); i += 1 << 20 {
		if string(data[i:i+1<<20]) != string(buf) {
			t.Fatalf("a: MiB %d differs", i>>20)
		}
	}
}

func TestLoneCachedBound(t *testing.T) {
	for _, c := range []struct{ memory, want int64 }{
		{0, 256 << 20},         // unknown memory: the floor
		{2 << 30, 256 << 20},   // a small VM keeps the floor
		{8 << 30, 512 << 20},   // a sixteenth
		{24 << 30, 1536 << 20}, // this CI machine: a 1 GiB layer stays cached
		{256 << 30, 4 << 30},   // the ceiling
	} {
		if got := loneCachedBound(c.memory); got != c.want {
			t.Errorf("loneCachedBound(%d MiB) = %d MiB, want %d MiB", c.memory>>20, got>>20, c.want>>20)
		}
	}
	if m := usableMemory(); m <= 0 || m > machineMemory() {
		t.Errorf("usableMemory() = %d, want at most the host's RAM (%d)", m, machineMemory())
	} else if got := newDirectPolicy().alone; got != loneCachedBound(m) {
		t.Errorf("a new policy keeps %d MiB of a lone upload cached, want %d MiB", got>>20, loneCachedBound(m)>>20)
	}
}

// A container's memory limit, set on its cgroup or any above it, bounds
// what the page cache may hold for it.
func TestCgroupMemoryLimit(t *testing.T) {
	root := t.TempDir()
	put := func(rel, content string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// v2: the leaf says max, its parent 2 GiB, the grandparent 8 GiB.
	put("kubepods/pod1/memory.max", "max\n")
	put("kubepods/memory.max", "2147483648\n")
	put("memory.max", "8589934592\n")
	// v1: 512 MiB on the leaf; MaxInt64 rounded to a page above it.
	put("memory/docker/abc/memory.limit_in_bytes", "536870912\n")
	put("memory/docker/memory.limit_in_bytes", "9223372036854771712\n")
	put("memory/free/memory.limit_in_bytes", "9223372036854771712\n")
	put("bad/memory.max", "lots\n")
	for _, c := range []struct {
		self string
		want int64
	}{
		{"0::/kubepods/pod1\n", 2 << 30},
		{"0::/\n", 8 << 30}, // a cgroup namespace: the container's own
		{"12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n", 512 << 20},
		{"4:cpu,memory:/docker/abc\n", 512 << 20},
		{"4:memory:/free\n", 0},
		{"0::/bad\n", 8 << 30}, // garbage is no limit; the root's still is
		{"4:cpu:/docker/abc\n", 0},
		{"", 0},
		{"0::relative\n", 0},
	} {
		if got := cgroupMemoryLimit(root, c.self); got != c.want {
			t.Errorf("cgroupMemoryLimit(%q) = %d, want %d", c.self, got, c.want)
		}
	}
}
