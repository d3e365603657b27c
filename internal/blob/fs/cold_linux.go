package fs

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A mapped pull (WriteMappedTo) reads the parts of a blob that are not
// in the page cache around it, with O_DIRECT, the first time the blob is
// pulled that way in a while (coldReads). Read into the page cache, a
// cold layer came in by the kernel's read-ahead, every page allocated
// and filled as it arrived: on this VM 0.64-1.2 GB/s read with 4 MiB
// requests, and as little as 0.3 GB/s while the memory it needed had
// first to be faulted in from the host; read directly, several requests
// in flight into buffers that are used again, 1.6-2.9 GB/s. The
// second pull of the same blob within coldAdmit reads it into the page
// cache, as before: a layer pulled once (a one-off job, a scan) does not
// evict the layers that every node pulls, and one pulled again by many
// nodes is then served from memory.
const (
	// coldChunk is the size of each direct read, and coldDepth how many
	// are in flight for one pull.
	coldChunk = 1 << 20
	coldDepth = 8
	// coldBudget bounds the buffers of all cold pulls at once (32 MiB):
	// pulls past it read through the page cache instead.
	coldBudget = 32
	// coldAdmit is how long a blob read around the page cache is
	// remembered, so that its next pull caches it; coldRemembered bounds
	// how many are.
	coldAdmit      = 10 * time.Minute
	coldRemembered = 4096
)

// coldReads is a store's state for reading blobs around the page cache.
type coldReads struct {
	inUse atomic.Int32 // buffers taken, of coldBudget
	bufs  sync.Pool    // *[]byte of coldChunk, aligned for O_DIRECT

	mu   sync.Mutex
	seen map[fileID]time.Time // blobs read around the cache, and when
	now  func() time.Time
}

type fileID struct{ dev, ino uint64 }

func newColdReads() *coldReads {
	c := &coldReads{seen: make(map[fileID]time.Time), now: time.Now}
	c.bufs.New = func() any { b := alignedBuf(coldChunk); return &b }
	return c
}

// firstPull reports whether the file f has not been read around the
// page cache within coldAdmit, and notes that it is now.
func (c *coldReads) firstPull(f *os.File) bool {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	id := fileID{uint64(st.Dev), st.Ino}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if t, ok := c.seen[id]; ok && now.Sub(t) < coldAdmit {
		return false
	}
	if len(c.seen) >= coldRemembered {
		for k, t := range c.seen {
			if now.Sub(t) >= coldAdmit {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= coldRemembered {
			clear(c.seen)
		}
	}
	c.seen[id] = now
	return true
}

// reserve takes up to coldDepth buffers of the budget, at least two, and
// returns how many (0: none to be had).
func (c *coldReads) reserve() int {
	for {
		used := c.inUse.Load()
		n := min(coldDepth, coldBudget-used)
		if n < 2 {
			return 0
		}
		if c.inUse.CompareAndSwap(used, used+n) {
			return int(n)
		}
	}
}

// windowsResident reports, for each mapWindow of the file from base (a
// multiple of the page size) to end, whether all of its pages are in the
// page cache. Mapping the file to ask does not read it in.
func windowsResident(fd int, base, end int64) ([]bool, error) {
	const span = 64 * mapWindow // mapped at a time
	page := int64(os.Getpagesize())
	out := make([]bool, 0, (end-base+mapWindow-1)/mapWindow)
	vec := make([]byte, span/page)
	for at := base; at < end; at += span {
		n := min(span, end-at)
		m, err := unix.Mmap(fd, at, int(n), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return nil, err
		}
		pages := (n + page - 1) / page
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(m))), uintptr(len(m)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
		unix.Munmap(m)
		if errno != 0 {
			return nil, errno
		}
		for w := int64(0); w < pages; w += mapWindow / page {
			all := true
			for _, v := range vec[w:min(w+mapWindow/page, pages)] {
				all = all && v&1 != 0
			}
			out = append(out, all)
		}
	}
	return out, nil
}

// directReader reads spans of a file opened with O_DIRECT, in order,
// with up to len(free) reads in flight, each into a buffer of its own.
type directReader struct {
	f       *os.File
	spans   []span // to read, in order
	next    int    // the first span not yet asked for
	pending []*directRead
	free    []*[]byte
	cold    *coldReads
	taken   int // buffers reserved from cold's budget
}

type span struct{ off, end int64 }

type directRead struct {
	span
	buf  *[]byte
	n    int
	err  error
	done chan struct{}
}

// openDirect opens f again, with O_DIRECT, for reads of spans (4 KiB
// aligned offsets) into taken of c's buffers. The file is opened by its
// descriptor, so that a blob removed meanwhile is still read.
func openDirect(f *os.File, spans []span, c *coldReads, taken int) (*directReader, error) {
	d, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil, err
	}
	r := &directReader{f: d, spans: spans, cold: c, taken: taken}
	for range taken {
		r.free = append(r.free, c.bufs.Get().(*[]byte))
	}
	return r, nil
}

// fill asks for the next spans while buffers are free.
func (r *directReader) fill() {
	for len(r.free) > 0 && r.next < len(r.spans) {
		d := &directRead{span: r.spans[r.next], buf: r.free[len(r.free)-1], done: make(chan struct{})}
		r.free = r.free[:len(r.free)-1]
		r.next++
		r.pending = append(r.pending, d)
		go func() {
			defer close(d.done)
			// O_DIRECT reads whole blocks: round the length up; the file
			// may end sooner, and a short read is checked below.
			want := d.end - d.off
			n := int((want + directAlign - 1) &^ (directAlign - 1))
			for d.n < int(want) {
				k, err := unix.Pread(int(r.f.Fd()), (*d.buf)[d.n:n], d.off+int64(d.n))
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					d.err = err
					return
				}
				if k == 0 {
					d.err = fmt.Errorf("read blob file %s: it ends at %d, before %d", r.f.Name(), d.off+int64(d.n), d.end)
					return
				}
				d.n += k
			}
		}()
	}
}

// take waits for the next span's bytes.
func (r *directReader) take() (*directRead, error) {
	r.fill()
	if len(r.pending) == 0 {
		return nil, errors.New("direct read: no span left")
	}
	d := r.pending[0]
	r.pending = r.pending[1:]
	<-d.done
	return d, d.err
}

// give hands back a span's buffer.
func (r *directReader) give(d *directRead) { r.free = append(r.free, d.buf) }

// close waits for the reads in flight and returns every buffer.
func (r *directReader) close() {
	for _, d := range r.pending {
		<-d.done
		r.free = append(r.free, d.buf)
	}
	r.pending = nil
	for _, b := range r.free {
		r.cold.bufs.Put(b)
	}
	r.free = nil
	r.cold.inUse.Add(int32(-r.taken))
	r.f.Close()
}
