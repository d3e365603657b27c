package fs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment O_DIRECT needs of offsets, lengths and
// memory: 4 KiB covers every logical block size in use.
const directAlign = 4096

// minDirect is the smallest write sent around the page cache; smaller
// writes (small blobs, the tail of a layer) go through it.
const minDirect = 256 << 10

// defaultDirectFrom is the offset from which an upload's data may bypass
// the page cache (Store.directFrom). Layers up to this size, nearly all
// of them, stay cached for the pull that often follows a push at once (a
// CI job's image, deployed); the part of a larger one beyond it is
// written around the cache, so that one huge layer neither evicts
// everything else nor costs the CPU of filling pages, and its first
// pull reads the disk. Measured on this VM with a 256 MiB layer against
// 32 MiB here: pushes 0.85x as fast (still 1.34x zot), first pull after
// the push 1.97x as fast (1.41x zot, where it was 0.67x).
const defaultDirectFrom = 256 << 20

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
	off       int64
	direct    bool // O_DIRECT is set on f now
	noDirect  bool // the filesystem refused it: never try again
	wbStart   int64
	flagsOrig int
	from      int64 // directFrom of the store
}

func newDiskWriter(f *os.File, off, directFrom int64) *diskWriter {
	w := &diskWriter{f: f, fd: int(f.Fd()), off: off, wbStart: off, from: directFrom}
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
	done := 0
	if n := len(p) &^ (directAlign - 1); !w.noDirect && n >= minDirect && w.off >= w.from && w.off%directAlign == 0 && aligned(p) {
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

// close leaves f as it was opened.
func (w *diskWriter) close() error { return w.setDirect(false) }
