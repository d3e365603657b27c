package fs

import (
	"errors"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment O_DIRECT needs of offsets, lengths and
// memory: 4 KiB covers every logical block size in use.
const directAlign = 4096

// minDirect is the smallest write sent around the page cache; smaller
// writes (small blobs, the tail of a layer) go through it.
const minDirect = 256 << 10

// Where an upload's data starts to bypass the page cache (directPolicy).
// A layer stays cached for the pull that often follows a push at once (a
// CI job's image, deployed) while it is the only large upload in flight:
// then the CPU it costs to fill pages is to spare. How much of it stays
// cached scales with the memory this process may use (loneCachedBound,
// usableMemory: a container's limit, else the RAM), so that the
// 1 GiB layers of ML and SDK images are served from memory on a host
// that has it, and one huge layer never evicts the rest of the cache.
// While several large uploads run at once, CPU is what they wait for,
// and each goes around the cache from busyDirectFrom on, as do the later
// requests of a chunked upload (directPolicy.from). Measured on
// this VM: a lone 256 MiB layer cached whole, against 32 MiB, pushes
// 0.85x as fast (still 1.34x zot) and is pulled right after 1.97x as
// fast; a lone 1 GiB layer cached whole, against 256 MiB of it, is
// pulled right after 2.98x as fast (1.62x zot, where it was 0.54x) and
// pushes 0.58x as fast (still 1.22x zot: page-cache pages come slowly
// here once the cache is full); four 1 GiB layers at once fell to 0.91x
// zot when each kept 256 MiB cached, and are 1.2-1.7x zot with the
// busy bound.
const (
	minLoneCached  = 256 << 20
	maxLoneCached  = 4 << 30
	busyDirectFrom = 32 << 20
)

// loneCachedBound is a sixteenth of memory, 256 MiB to 4 GiB: 1.5 GiB on
// a 24 GiB host.
func loneCachedBound(memory int64) int64 {
	return min(max(memory/16, minLoneCached), maxLoneCached)
}

// directPolicy counts the uploads past busy bytes and says where each
// write may start to go around the page cache.
type directPolicy struct {
	alone, busy int64
	large       atomic.Int32
}

func newDirectPolicy() *directPolicy {
	return &directPolicy{alone: loneCachedBound(usableMemory()), busy: busyDirectFrom}
}

// from is where direct writes may start now, for a write that began at
// offset start. A request that continues an upload (start > 0: the
// second and later PATCH of a chunked push) is held to the busy bound
// even alone: each request ends with an fsync, which for a cached chunk
// waits for all of it to be written back before the client may send the
// next, where a chunk written around the cache is on disk already.
// Measured on this VM with 1 GiB in 16 MiB chunks: 214-669 MB/s cached,
// 450-660 around the cache.
func (p *directPolicy) from(start int64) int64 {
	if start > 0 || p.large.Load() > 1 {
		return p.busy
	}
	return p.alone
}

// diskWriter writes upload data from one offset on. Whole aligned blocks
// of large writes bypass the page cache (O_DIRECT, switched on the open
// file with fcntl): profiles of layer pushes showed the kernel spending
// most of a push allocating and filling page-cache pages that the fsync
// then had to write out anyway; written directly, the same bytes cost a
// fraction of the CPU and overlap the device. The rest, and everything on
// filesystems that refuse O_DIRECT, is written normally with early
// writeback (sync_file_range). The caller still fsyncs: O_DIRECT alone
// neither persists the file's size nor flushes the device's cache.
type diskWriter struct {
	f         *os.File
	fd        int
	start     int64 // the offset the request began at
	off       int64
	direct    bool // O_DIRECT is set on f now
	noDirect  bool // the filesystem refused it: never try again
	wbStart   int64
	flagsOrig int
	policy    *directPolicy
	counted   bool // in policy.large
}

func newDiskWriter(f *os.File, off int64, p *directPolicy) *diskWriter {
	w := &diskWriter{f: f, fd: int(f.Fd()), start: off, off: off, wbStart: off, policy: p}
	fl, err := unix.FcntlInt(uintptr(w.fd), unix.F_GETFL, 0)
	if err != nil {
		w.noDirect = true
	}
	w.flagsOrig = fl
	return w
}

func (w *diskWriter) setDirect(on bool) error {
	if w.direct == on {
		return nil
	}
	fl := w.flagsOrig &^ unix.O_DIRECT
	if on {
		fl |= unix.O_DIRECT
	}
	if _, err := unix.FcntlInt(uintptr(w.fd), unix.F_SETFL, fl); err != nil {
		return err
	}
	w.direct = on
	return nil
}

// write writes all of p at the writer's offset (f's position).
func (w *diskWriter) write(p []byte) (int, error) {
	if !w.counted && w.off >= w.policy.busy {
		w.counted = true
		w.policy.large.Add(1)
	}
	done := 0
	if n := len(p) &^ (directAlign - 1); !w.noDirect && n >= minDirect && w.off >= w.policy.from(w.start) && w.off%directAlign == 0 && aligned(p) {
		if err := w.setDirect(true); err != nil {
			w.noDirect = true
		} else {
			nw, err := w.f.Write(p[:n])
			w.off += int64(nw)
			done = nw
			w.wbStart = w.off // nothing of it sits in the page cache
			if errors.Is(err, unix.EINVAL) && nw == 0 {
				w.noDirect = true // e.g. tmpfs: write it the ordinary way
			} else if err != nil {
				return done, err
			}
		}
	}
	if done == len(p) {
		return done, nil
	}
	if err := w.setDirect(false); err != nil {
		return done, err
	}
	nw, err := w.f.Write(p[done:])
	w.off += int64(nw)
	done += nw
	w.writeback()
	return done, err
}

// writebackStep is how much buffered data asks the kernel to start
// writing it out, so that the fsync at the end finds little left to do.
const writebackStep = 8 << 20

func (w *diskWriter) writeback() {
	if w.off-w.wbStart < writebackStep {
		return
	}
	// Only a hint: on error the fsync still makes the data durable.
	_ = unix.SyncFileRange(w.fd, w.wbStart, w.off-w.wbStart, unix.SYNC_FILE_RANGE_WRITE)
	w.wbStart = w.off
}

// close leaves f as it was opened, and the upload no longer counts as
// large.
func (w *diskWriter) close() error {
	if w.counted {
		w.counted = false
		w.policy.large.Add(-1)
	}
	return w.setDirect(false)
}
