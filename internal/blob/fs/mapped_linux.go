package fs

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// mapWindow is how much of a blob file is mapped at a time: enough that
// mapping costs little per byte, small enough that a pull adds at most
// this much to the process's resident set.
const mapWindow = 4 << 20

// readAhead is how far ahead of the window being sent a mapped pull asks
// for the file: the cold first pull of a 256 MiB layer pushed around the
// page cache ran at 1440 MB/s with 8 MiB ahead and 1720 MB/s with 32 MiB
// (same run, this VM's virtio disk reads 1.3-1.8 GB/s); 64 MiB was no
// better. It costs page cache, not resident memory.
const readAhead = 8 * mapWindow

// WriteMappedTo writes the rest of the section to w straight from the
// page cache: it maps the file a window at a time and hands each window
// to w.Write, so the only copy of a byte is the kernel's, into the
// socket. w should pass the bytes on to a file descriptor without
// looking at them (a plain TCP connection, not TLS): then a read error of
// the disk beneath surfaces as a failed write (EFAULT). What w does copy
// in this process (net/http's small buffers take the first and last
// bytes of a window) would fault on such an error; the fault is turned
// into an error here (debug.SetPanicOnFault) rather than a crash. When
// mapping fails it copies the rest through a buffer.
func (s *fileSection) WriteMappedTo(w io.Writer) (sent int64, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(interface{ Addr() uintptr })
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("read blob file %s: memory fault at %#x (a disk error, or the file cut short)", s.f.Name(), f.Addr())
		}
	}()
	pos, err := s.SectionReader.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	page := int64(os.Getpagesize())
	fd := int(s.f.Fd())
	end := s.offset + s.length
	// Faults on a mapping read ahead little, or not at all once they have
	// missed often: a blob not in the page cache (one pushed around it,
	// with O_DIRECT) then arrived a page at a time, at a fraction of the
	// disk's rate and many times the CPU. Asking for the windows ahead
	// before mapping one reads them in large requests while this one is
	// sent, readAhead bytes in flight. Hints only: errors are ignored.
	unix.Fadvise(fd, s.offset+pos, min(readAhead, end-s.offset-pos), unix.FADV_WILLNEED)
	for pos < s.length {
		off := s.offset + pos
		base := off &^ (page - 1)
		n := min(int64(mapWindow), end-base)
		if next := base + readAhead; next < end {
			unix.Fadvise(fd, next, min(mapWindow, end-next), unix.FADV_WILLNEED)
		}
		m, err := unix.Mmap(fd, base, int(n), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			s.SectionReader.Seek(pos, io.SeekStart)
			k, err := io.Copy(w, struct{ io.Reader }{s.SectionReader})
			return sent + k, err
		}
		k, werr := w.Write(m[off-base:])
		unix.Munmap(m)
		sent += int64(k)
		pos += int64(k)
		if werr != nil {
			s.SectionReader.Seek(pos, io.SeekStart)
			return sent, werr
		}
	}
	s.SectionReader.Seek(pos, io.SeekStart)
	return sent, nil
}
