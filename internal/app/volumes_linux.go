package app

import (
	"fmt"
	"syscall"
)

// volumeOf measures the filesystem holding path.
func volumeOf(path string) func() (total, free uint64, err error) {
	return func() (uint64, uint64, error) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(path, &st); err != nil {
			return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
		}
		bs := uint64(st.Bsize)
		return st.Blocks * bs, st.Bavail * bs, nil
	}
}
