package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func uploadNotFound(id string) error {
	return errs.New(errs.NotFound, "BLOB_UPLOAD_UNKNOWN", "upload %s is not known", id)
}

// WriteUpload implements blob.Store. When copying fails part-way (a client
// that disconnects), the bytes that did arrive are still fsync'd and their
// count is returned with the error, so the caller can record the new
// offset and let the client resume from there.
func (s *Store) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, errs.New(errs.RangeInvalid, "", "upload %s: negative offset %d", id, offset)
	}
	// Create the file only for a write at 0, so that a bad offset leaves
	// nothing behind.
	flag := os.O_RDWR
	if offset == 0 {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(p, flag, filePerm)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errs.New(errs.RangeInvalid, "", "upload %s has no data before offset %d", id, offset)
	}
	if err != nil {
		return 0, fmt.Errorf("write upload %s: %w", id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("write upload %s: %w", id, err)
	}
	if fi.Size() < offset {
		return 0, errs.New(errs.RangeInvalid, "", "upload %s has %d bytes, cannot write at offset %d", id, fi.Size(), offset)
	}
	if fi.Size() > offset {
		if err := f.Truncate(offset); err != nil {
			return 0, fmt.Errorf("write upload %s: %w", id, err)
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("write upload %s: %w", id, err)
	}
	n, copyErr, syncErr := s.copy(ctx, f, offset, r)
	if syncErr != nil {
		return n, fmt.Errorf("write upload %s: %w", id, errors.Join(copyErr, syncErr))
	}
	if copyErr != nil {
		return n, fmt.Errorf("write upload %s at %d: %w", id, offset+n, copyErr)
	}
	return n, f.Close()
}

// copy copies r to f from offset off and fsyncs f. A body that fits in
// the first buffer (firstBufSize) is handled in line. A larger one goes
// in stages: this
// goroutine reads while a second one writes the buffers read
// (diskWriter, writer_linux.go: around the page cache where it can) and
// then fsyncs. When r is a blob.Tapped (the upload's hashing reader),
// this goroutine reads its source only, and a third goroutine taps (hashes)
// every buffer while the second writes it: receiving, hashing and
// writing run at once, a push is bound by the slowest of them rather
// than by their sum, and the fsync overlaps the hashing of the last
// buffers. It does not use io.Copy, which would let *os.File fall back to
// a 32 KiB buffer. The context is checked between reads so that a
// cancelled request stops soon. It returns the bytes written, which may
// be fewer than were read when writing fails, the error of reading or
// writing, and that of the fsync, which runs even after a failure: what
// was written is acknowledged by n. Every byte read has been tapped when
// it returns.
func (s *Store) copy(ctx context.Context, f *os.File, off int64, r io.Reader) (n int64, copyErr, syncErr error) {
	var tap func([]byte)
	if t, ok := r.(blob.Tapped); ok {
		r, tap = t.Source(), t.Tap
	}
	if err := ctx.Err(); err != nil {
		return 0, err, f.Sync()
	}
	// Many blobs (configs, small layers) fit: no goroutines, no more
	// buffers.
	first := s.first.Get().(*[]byte)
	nr, err := fill(r, *first)
	if err != nil {
		defer s.first.Put(first)
		if tap != nil {
			tap((*first)[:nr])
		}
		dw := newDiskWriter(f, off, s.direct)
		nw, werr := dw.write((*first)[:nr])
		if cerr := dw.close(); werr == nil {
			werr = cerr
		}
		if err == io.EOF {
			err = nil
		}
		if werr != nil {
			err = werr
		}
		return int64(nw), err, f.Sync()
	}
	return s.pipe(ctx, f, off, r, tap, first)
}

// pipe is copy for a body larger than the first buffer; first (from
// s.first) holds its beginning, full.
func (s *Store) pipe(ctx context.Context, f *os.File, off int64, r io.Reader, tap func([]byte), first *[]byte) (n int64, copyErr, syncErr error) {
	// At most pipeDepth buffers per copy, taken as needed: one being
	// filled, the others being hashed, written or queued. Memory stays at
	// pipeDepth × copyBufSize per upload.
	const pipeDepth = 4
	type chunk struct {
		bp    *[]byte
		n     int
		refs  *atomic.Int32 // consumers yet to finish with it
		first bool          // bp is the first buffer, from s.first
	}
	free := make(chan *[]byte, pipeDepth)
	taken := 0 // buffers from s.bufs
	release := func(c chunk) {
		if c.refs.Add(-1) == 0 {
			if c.first {
				s.first.Put(c.bp)
			} else {
				free <- c.bp
			}
		}
	}
	toWrite := make(chan chunk, pipeDepth)
	var toTap chan chunk
	tapped := make(chan struct{})
	if tap != nil {
		toTap = make(chan chunk, pipeDepth)
		go func() {
			defer close(tapped)
			for c := range toTap {
				tap((*c.bp)[:c.n])
				release(c)
			}
		}()
	} else {
		close(tapped)
	}
	type outcome struct {
		n            int64
		err, syncErr error
	}
	done := make(chan outcome, 1)
	var failed atomic.Bool
	go func() {
		var o outcome
		dw := newDiskWriter(f, off, s.direct)
		for c := range toWrite {
			if o.err == nil {
				nw, err := dw.write((*c.bp)[:c.n])
				o.n += int64(nw)
				o.err = err
				failed.Store(err != nil)
			}
			release(c)
		}
		if err := dw.close(); o.err == nil {
			o.err = err
		}
		o.syncErr = f.Sync()
		done <- o
	}()
	send := func(bp *[]byte, nr int, first bool) {
		c := chunk{bp: bp, n: nr, refs: new(atomic.Int32), first: first}
		if toTap != nil {
			c.refs.Store(2)
			toTap <- c
		} else {
			c.refs.Store(1)
		}
		toWrite <- c
	}
	send(first, len(*first), true)
	var rerr error
	for !failed.Load() { // a writer's error is reported below
		if rerr = ctx.Err(); rerr != nil {
			break
		}
		var bp *[]byte
		select {
		case bp = <-free:
		default:
			if taken < pipeDepth {
				bp = s.bufs.Get().(*[]byte)
				taken++
			} else {
				bp = <-free
			}
		}
		nr, err := fill(r, *bp)
		if nr > 0 {
			send(bp, nr, false)
		} else {
			free <- bp
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	close(toWrite)
	if toTap != nil {
		close(toTap)
	}
	o := <-done
	<-tapped
	for range taken {
		s.bufs.Put(<-free)
	}
	if o.err != nil {
		return o.n, o.err, o.syncErr
	}
	return o.n, rerr, o.syncErr
}

// fill reads into buf until it is full or r fails. Unlike io.ReadFull it
// returns r's own error: a request body that ends before its
// Content-Length says io.ErrUnexpectedEOF, and that must not pass for
// the clean end of the data.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReadUpload implements blob.Store.
func (s *Store) ReadUpload(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, uploadNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read upload %s: %w", id, err)
	}
	rc, err := section(f, offset, -1)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read upload %s: %w", id, err)
	}
	return rc, nil
}

// CommitUpload implements blob.Store. The caller has verified that the
// first size bytes hash to d; this only makes them durable under d.
func (s *Store) CommitUpload(ctx context.Context, id string, size int64, d oci.Digest) error {
	up, err := s.uploadPath(id)
	if err != nil {
		return err
	}
	dst, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if size < 0 {
		return errs.New(errs.Invalid, "SIZE_INVALID", "commit upload %s: negative size %d", id, size)
	}
	if err := s.trimUpload(id, up, size); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		// Content addressing: the stored blob has these very bytes.
		if err := os.Remove(up); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("commit upload %s: %w", id, err)
		}
		return nil
	}
	if err := s.moveIntoPlace(up, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return uploadNotFound(id) // removed or committed meanwhile
		}
		return fmt.Errorf("commit upload %s as %s: %w", id, d, err)
	}
	return nil
}

// trimUpload checks that the upload holds at least size bytes, and cuts
// it to size (fsync'd) when it holds more.
func (s *Store) trimUpload(id, p string, size int64) error {
	// The usual case, an upload of exactly size bytes, needs no open.
	if fi, err := os.Stat(p); err == nil && fi.Size() == size {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return uploadNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("commit upload %s: %w", id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("commit upload %s: %w", id, err)
	}
	if fi.Size() < size {
		return errs.New(errs.Invalid, "SIZE_INVALID", "upload %s has %d bytes, fewer than %d", id, fi.Size(), size)
	}
	if fi.Size() == size {
		// WriteUpload fsyncs every byte it reports written, so the
		// bytes are durable already: another fsync would only wait.
		return f.Close()
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("commit upload %s: %w", id, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("commit upload %s: %w", id, err)
	}
	return f.Close()
}

// DeleteUpload implements blob.Store.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	p, err := s.uploadPath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete upload %s: %w", id, err)
	}
	return nil
}

// ListUploads implements blob.Store, in the order of the ids.
func (s *Store) ListUploads(ctx context.Context) ([]blob.UploadInfo, error) {
	entries, err := os.ReadDir(s.uploads)
	if err != nil {
		return nil, fmt.Errorf("list uploads: %w", err)
	}
	out := make([]blob.UploadInfo, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() || !validUploadID(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // committed or deleted since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("list uploads: %w", err)
		}
		out = append(out, blob.UploadInfo{ID: e.Name(), Size: fi.Size(), Modified: fi.ModTime()})
	}
	return out, nil
}

// StartUpload creates the empty data file of a new upload id, so that the
// session exists without a database row (registry: rowless sessions). The
// new directory entry is not fsync'd: a kill -9 cannot lose it, and a
// power loss that does loses a session that held no bytes, which the
// client then learns is unknown and starts again.
func (s *Store) StartUpload(ctx context.Context, id string) error {
	p, err := s.uploadPath(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, fs.ErrExist) {
		return errs.Conflictf("upload %s exists already", trunc(id))
	}
	if err != nil {
		return fmt.Errorf("start upload %s: %w", trunc(id), err)
	}
	return f.Close()
}

// UploadExists reports whether upload id has a data file.
func (s *Store) UploadExists(ctx context.Context, id string) (bool, error) {
	p, err := s.uploadPath(id)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat upload %s: %w", trunc(id), err)
	}
	return true, nil
}
