package main

import (
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// machine holds this machine's limits, measured with the same bytes.
type machine struct {
	SHA256MBps   float64 `json:"sha256_mb_per_s"`
	DiskMBps     float64 `json:"fsync_write_mb_per_s"`
	LoopbackMBps float64 `json:"loopback_tcp_mb_per_s"`
	CPUs         int     `json:"cpus"`
	Dir          string  `json:"data_dir"`
}

// sha256Rate hashes data in process (one core), best of runs.
func sha256Rate(data []byte, runs int) float64 {
	best := 0.0
	for range runs {
		t := time.Now()
		h := sha256.New()
		h.Write(data)
		h.Sum(nil)
		best = max(best, mbps(int64(len(data)), time.Since(t)))
	}
	return best
}

// diskRate writes data sequentially to a file in dir in 1 MiB writes,
// fsyncs it and removes it.
func diskRate(dir string, data []byte) (float64, error) {
	path := filepath.Join(dir, "disk-probe")
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	t := time.Now()
	for off := 0; off < len(data); off += 1 << 20 {
		if _, err := f.Write(data[off:min(off+1<<20, len(data))]); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return mbps(int64(len(data)), time.Since(t)), nil
}

// loopbackRate copies data over one loopback TCP connection.
func loopbackRate(data []byte) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	type got struct {
		n   int64
		err error
	}
	done := make(chan got, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- got{0, err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		n, err := io.Copy(io.Discard, c)
		done <- got{n, err}
	}()
	c, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
	if err != nil {
		return 0, err
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	t := time.Now()
	for off := 0; off < len(data); off += 256 << 10 {
		if _, err := c.Write(data[off:min(off+256<<10, len(data))]); err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	g := <-done
	el := time.Since(t)
	if g.err != nil {
		return 0, g.err
	}
	if g.n != int64(len(data)) {
		return 0, errors.New("loopback: short copy")
	}
	return mbps(g.n, el), nil
}
