package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

func createDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_DIRECT, 0o644)
}

// clearDirect turns O_DIRECT off on f, for a write that is not whole
// blocks.
func clearDirect(f *os.File) error {
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	_, err = unix.FcntlInt(f.Fd(), unix.F_SETFL, fl&^unix.O_DIRECT)
	return err
}

// freeBytes is the space an unprivileged writer has left on dir's
// filesystem.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// settle writes out every dirty page on the machine (sync(2)), so that a
// registry that leaves its writes to the kernel (zot without commit)
// does not make the next registry's sample pay for them.
func settle() { unix.Sync() }

// dropFileCaches writes out and drops from the page cache every regular
// file under dir: the cold pull's drop confined to one tree, for tests
// that must not empty the machine's cache under other tests.
func dropFileCaches(dir string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return nil // gone meanwhile, or not a file: nothing to drop
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		if err := f.Sync(); err != nil { // dirty pages are not dropped
			return nil
		}
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
}

// childAttr makes a registry bench starts die with bench, however bench
// ends.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
