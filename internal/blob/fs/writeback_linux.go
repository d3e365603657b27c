package fs

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackStep is how much written data asks the kernel to start writing
// it out. Without it, a large upload's pages stay dirty until the fsync at
// its end, which then waits for all of them while the network sits idle.
const writebackStep = 8 << 20

// writeback starts the kernel's writeback of a file's new data in steps
// as it is written (sync_file_range with SYNC_FILE_RANGE_WRITE only: it
// neither waits nor promises durability; the fsync after the copy does).
type writeback struct {
	fd          int
	start, next int64 // [start, next) is written but not yet handed over
}

func newWriteback(f *os.File, off int64) *writeback {
	return &writeback{fd: int(f.Fd()), start: off, next: off}
}

// wrote records n more bytes written after the previous ones.
func (w *writeback) wrote(n int) {
	w.next += int64(n)
	if w.next-w.start < writebackStep {
		return
	}
	// Only a hint: on error the fsync still makes the data durable.
	_ = unix.SyncFileRange(w.fd, w.start, w.next-w.start, unix.SYNC_FILE_RANGE_WRITE)
	w.start = w.next
}
