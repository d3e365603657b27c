// Package pagecache tells tests which pages of a file the page cache
// holds (mincore(2) over a read-only mapping of it), and drops them.
package pagecache

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resident reports, page by page, whether the file at path is in the
// page cache. Mapping it to ask does not read it in.
func Resident(path string) ([]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		return nil, errno
	}
	out := make([]bool, len(vec))
	for i, v := range vec {
		out[i] = v&1 != 0
	}
	return out, nil
}

// Drop asks the kernel to drop length bytes of the file at path from
// offset (to the end when length is 0) from the page cache, after
// writing out what is dirty (dirty pages are not dropped). Pages mapped
// by a process stay.
func Drop(path string, offset, length int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), offset, length, unix.FADV_DONTNEED)
}
