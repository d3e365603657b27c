package fs

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// usableMemory is what this process may fill with page cache: the RAM
// the kernel manages, or less when a cgroup limits the process (a
// container's memory limit, which counts the page cache it fills), or 0
// when neither is known.
func usableMemory() int64 {
	ram := machineMemory()
	self, _ := os.ReadFile("/proc/self/cgroup")
	if lim := cgroupMemoryLimit("/sys/fs/cgroup", string(self)); lim > 0 && (ram == 0 || lim < ram) {
		return lim
	}
	return ram
}

// machineMemory is the RAM the kernel manages, or 0 when it cannot say.
func machineMemory() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// cgroupMemoryLimit is the lowest memory limit set on the cgroup that
// self (the text of /proc/PID/cgroup) names, or on any cgroup above it,
// under the cgroup filesystem at root: memory.max for cgroup v2,
// memory.limit_in_bytes for v1. 0 means no limit was found.
func cgroupMemoryLimit(root, self string) int64 {
	var limit int64
	lower := func(file string) {
		b, err := os.ReadFile(file)
		if err != nil {
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) and v1's page-rounded MaxInt64 mean no limit.
		if err != nil || n <= 0 || n >= 1<<60 {
			return
		}
		if limit == 0 || n < limit {
			limit = n
		}
	}
	// From the process's cgroup up to the root of the hierarchy, which in
	// a container's cgroup namespace is the container's own cgroup.
	up := func(dir, file string) {
		for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
			lower(filepath.Join(root, d, file))
			if d == "/" || d == "." {
				return
			}
		}
	}
	for _, line := range strings.Split(self, "\n") {
		id, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(rest, ":")
		if !ok || !strings.HasPrefix(path, "/") {
			continue
		}
		switch {
		case id == "0" && ctrls == "": // v2, the unified hierarchy
			up(path, "memory.max")
		case slices.Contains(strings.Split(ctrls, ","), "memory"): // v1
			up(filepath.Join("memory", path), "memory.limit_in_bytes")
		}
	}
	return limit
}
