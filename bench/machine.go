package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
	"unsafe"
)

// machine holds this machine's limits, measured with the same bytes.
type machine struct {
	SHA256MBps   float64 `json:"sha256_mb_per_s"`
	DiskMBps     float64 `json:"fsync_write_mb_per_s"`
	LoopbackMBps float64 `json:"loopback_tcp_mb_per_s"`
	IngestMBps   float64 `json:"verified_ingest_mb_per_s"`
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

// diskRate is the better of two sequential writes of data to a new file
// in dir, each fsync'd and removed: through the page cache, and around it
// (O_DIRECT, where the filesystem allows) — what the disk itself takes,
// however a registry chooses to write.
func diskRate(dir string, data []byte) (float64, error) {
	buffered, err := diskWrite(filepath.Join(dir, "disk-probe"), data, os.Create)
	if err != nil {
		return 0, err
	}
	direct, err := diskWrite(filepath.Join(dir, "disk-probe-direct"), data, createDirect)
	if err != nil {
		return buffered, nil // no O_DIRECT here
	}
	return max(buffered, direct), nil
}

// diskWrite writes data in 1 MiB writes to a file made by create, fsyncs
// it and removes it.
func diskWrite(path string, data []byte, create func(string) (*os.File, error)) (float64, error) {
	f, err := create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := alignedCopy(data[:min(len(data), 1<<20)])
	t := time.Now()
	for off := 0; off < len(data); off += 1 << 20 {
		n := min(1<<20, len(data)-off)
		copy(buf, data[off:off+n])
		if _, err := f.Write(buf[:n]); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return mbps(int64(len(data)), time.Since(t)), nil
}

// alignedCopy returns a 4 KiB-aligned buffer of len(b) bytes (O_DIRECT
// needs aligned memory).
func alignedCopy(b []byte) []byte {
	buf := make([]byte, len(b)+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%4096)) % 4096
	return buf[skip : skip+len(b)]
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

// ingestRate is the rate at which this machine can take in data the way
// a registry that verifies and stores a push must at least do it, with
// none of a registry's other work: another process (this binary again,
// see ingestSender) sends data over one loopback TCP connection; it is
// received into 1 MiB buffers, hashed (sha256) on a second goroutine and
// written to a new file in dir on a third (O_DIRECT where the filesystem
// allows), then fsync'd. Receiving, hashing and writing overlap, and
// sender and receiver are two processes sharing the cores, as a client
// and a registry on one host are. The clock runs from the connection to
// the fsync.
func ingestRate(dir string, data []byte) (float64, error) {
	src := filepath.Join(dir, "ingest-source")
	if fi, err := os.Stat(src); err != nil || fi.Size() != int64(len(data)) {
		if err := os.WriteFile(src, data, 0o644); err != nil {
			return 0, err
		}
	}
	path := filepath.Join(dir, "ingest-probe")
	f, err := createDirect(path)
	if err != nil {
		if f, err = os.Create(path); err != nil {
			return 0, err
		}
	}
	defer os.Remove(path)
	defer f.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sender := exec.CommandContext(ctx, self, ingestSenderArg, src, l.Addr().String())
	sender.Stderr = os.Stderr
	if err := sender.Start(); err != nil {
		return 0, err
	}
	defer sender.Wait()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(time.Minute))
	c, err := l.Accept()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	t := time.Now()
	c.SetDeadline(time.Now().Add(2 * time.Minute))

	const depth, size = 4, 1 << 20
	free, hashQ, writeQ := make(chan []byte, depth), make(chan []byte, depth), make(chan []byte, depth)
	for range depth {
		free <- alignedCopy(make([]byte, size))
	}
	wrote := make(chan error, 1)
	go func() {
		h := sha256.New()
		for b := range hashQ {
			h.Write(b)
			writeQ <- b
		}
		close(writeQ)
	}()
	go func() {
		var werr error
		for b := range writeQ {
			if werr == nil {
				if len(b)%4096 != 0 { // the tail: O_DIRECT takes whole blocks only
					werr = clearDirect(f)
				}
				if werr == nil {
					_, werr = f.Write(b)
				}
			}
			free <- b[:cap(b)]
		}
		if werr == nil {
			werr = f.Sync()
		}
		wrote <- werr
	}()
	var n int64
	var rerr error
	for {
		b := <-free
		k, err := io.ReadFull(c, b)
		n += int64(k)
		if k > 0 {
			hashQ <- b[:k]
		} else {
			free <- b
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(hashQ)
	werr := <-wrote
	el := time.Since(t)
	if err := errors.Join(rerr, werr); err != nil {
		return 0, err
	}
	if n != int64(len(data)) {
		return 0, fmt.Errorf("ingest: received %d of %d bytes", n, len(data))
	}
	return mbps(n, el), nil
}

// ingestSenderArg, as the first argument, runs this binary as the sender
// of ingestRate: ingestSender(file, address).
const ingestSenderArg = "-ingest-sender"

// ingestSender reads file into memory, then writes it to one TCP
// connection to addr.
func ingestSender(file, addr string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	_, err = c.Write(data)
	return err
}

// dropCachesFile is where Linux takes the order to drop clean cached
// pages (root only).
const dropCachesFile = "/proc/sys/vm/drop_caches"

// canDropCaches reports whether this process may empty the page cache,
// which the cold pull needs. (A variable, like dropCaches, so that a test
// can drop only its own files rather than the machine's cache.)
var canDropCaches = func() bool {
	f, err := os.OpenFile(dropCachesFile, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// wantColdPull says whether the cold pull runs: it drops the machine's
// page cache, which only root may do and --no-cold-pull forbids.
func wantColdPull(o options) bool { return !o.noColdPull && canDropCaches() }

// dropCaches writes every dirty page out and then drops the clean ones,
// for every registry's files alike.
var dropCaches = func() error {
	settle()
	return os.WriteFile(dropCachesFile, []byte("1"), 0)
}

// coldReadRate empties the page cache and reads the file at path in
// 1 MiB reads: what the disk gives a reader that finds nothing cached,
// with the kernel's own read-ahead.
func coldReadRate(path string) (float64, error) {
	if err := dropCaches(); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	t := time.Now()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
	if err != nil {
		return 0, err
	}
	return mbps(n, time.Since(t)), nil
}

// writeProbeFile stores data, fsync'd, at path for coldReadRate.
func writeProbeFile(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
