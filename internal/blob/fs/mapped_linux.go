package fs

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mapWindow is how much of a blob file is mapped at a time: enough that
// mapping costs little per byte, small enough that a pull adds at most
// this much to the process's resident set.
const mapWindow = 4 << 20

// WriteMappedTo writes the rest of the section to w straight from the
// page cache: it maps the file a window at a time and hands each window
// to w.Write, so the only copy of a byte is the kernel's, into the
// socket. Nothing in this process reads the mapped memory; a read error
// of the disk beneath surfaces as a failed write (EFAULT), never as a
// fault in this process — which is also why w must write the bytes to a
// file descriptor without looking at them (a plain TCP connection, not
// TLS). When mapping fails it copies the rest through a buffer.
func (s *fileSection) WriteMappedTo(w io.Writer) (int64, error) {
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
	// disk's rate and many times the CPU. Asking for each window, and the
	// one after it, before mapping it reads them in large requests, the
	// next one while this one is sent. Hints only: errors are ignored.
	unix.Fadvise(fd, s.offset+pos, min(2*mapWindow, end-s.offset-pos), unix.FADV_WILLNEED)
	var sent int64
	for pos < s.length {
		off := s.offset + pos
		base := off &^ (page - 1)
		n := min(int64(mapWindow), end-base)
		if next := base + n; next < end {
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
