// Package fs is the local-disk blob store. Committed blobs live at
// <root>/blobs/<alg>/<first 2 hex>/<hex>, upload data at <root>/uploads/<id>
// and the temporary files of Put at <root>/tmp. Every name that reaches a
// path is validated first, so nothing outside root is ever touched, and
// bytes reach their final name only by an atomic rename after an fsync,
// so a crash never leaves a partial blob under a digest. It knows nothing
// of repositories or SQL.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

const (
	dirPerm  = 0o750
	filePerm = 0o640
	// copyBufSize is large enough that a layer upload costs a few hundred
	// syscalls per GiB rather than tens of thousands.
	copyBufSize = 1 << 20
	// firstBufSize is the buffer an upload starts with: most blobs
	// (configs, small layers) fit in it, and 32 concurrent small pushes
	// then hold 2 MiB of buffers rather than 32.
	firstBufSize = 64 << 10
	// tmpPrefix marks temporary files so that SweepTemp removes only ours.
	tmpPrefix = "put-"
)

// Store is a blob.Store on a local filesystem.
type Store struct {
	root    string
	blobs   string
	uploads string
	tmp     string
	bufs    sync.Pool // *[]byte of copyBufSize
	first   sync.Pool // *[]byte of firstBufSize
	// direct says where uploads may start to bypass the page cache
	// (writer_linux.go; tests lower its bounds).
	direct *directPolicy
}

var _ blob.Store = (*Store)(nil)

// New returns a store rooted at root, creating its directories.
func New(root string) (*Store, error) {
	if root == "" {
		return nil, errs.Invalidf("blob store root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob store root %s: %w", root, err)
	}
	s := &Store{
		root:    abs,
		blobs:   filepath.Join(abs, "blobs"),
		uploads: filepath.Join(abs, "uploads"),
		tmp:     filepath.Join(abs, "tmp"),

		direct: newDirectPolicy(),
	}
	s.bufs.New = func() any { b := alignedBuf(copyBufSize); return &b }
	s.first.New = func() any { b := alignedBuf(firstBufSize); return &b }
	for _, d := range []string{
		filepath.Join(s.blobs, oci.SHA256),
		filepath.Join(s.blobs, oci.SHA512),
		s.uploads,
		s.tmp,
	} {
		if err := os.MkdirAll(d, dirPerm); err != nil {
			return nil, fmt.Errorf("create blob store directory: %w", err)
		}
	}
	for _, alg := range []string{oci.SHA256, oci.SHA512} {
		if err := makePrefixDirs(filepath.Join(s.blobs, alg)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// makePrefixDirs creates the 256 directories 00 … ff that blobs of one
// algorithm go into, once, with one fsync: otherwise each of the first
// few hundred blobs a new registry stores pays for a directory and an
// extra fsync of its parent on the push path.
func makePrefixDirs(dir string) error {
	made := false
	for i := range 256 {
		switch err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("%02x", i)), dirPerm); {
		case err == nil:
			made = true
		case !errors.Is(err, fs.ErrExist):
			return fmt.Errorf("create blob store directory: %w", err)
		}
	}
	if made {
		return syncDir(dir)
	}
	return nil
}

// Root returns the absolute directory the store lives in.
func (s *Store) Root() string { return s.root }

// blobPath validates d and returns the file that holds it.
func (s *Store) blobPath(d oci.Digest) (string, error) {
	p, err := oci.ParseDigest(string(d))
	if err != nil {
		return "", &errs.Error{Kind: errs.Invalid, Code: "DIGEST_INVALID", Msg: err.Error()}
	}
	h := p.Hex()
	return filepath.Join(s.blobs, p.Algorithm(), h[:2], h), nil
}

// uploadPath validates id and returns the file that holds its data.
func (s *Store) uploadPath(id string) (string, error) {
	if !validUploadID(id) {
		return "", errs.New(errs.Invalid, "BLOB_UPLOAD_INVALID", "upload id %q is invalid", trunc(id))
	}
	return filepath.Join(s.uploads, id), nil
}

// validUploadID accepts 1 to 128 characters of [A-Za-z0-9_-]: enough for
// UUIDs and random tokens, and never a path separator or a dot.
func validUploadID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func blobNotFound(d oci.Digest) error {
	return errs.New(errs.NotFound, "BLOB_UNKNOWN", "blob %s is not known", d)
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, d oci.Digest) (int64, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, blobNotFound(d)
	}
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	return fi.Size(), nil
}

// Open implements blob.Store. A length that runs past the end is cut at
// the end; an offset past the end is a RangeInvalid error.
func (s *Store) Open(ctx context.Context, d oci.Digest, offset, length int64) (io.ReadCloser, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobNotFound(d)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", d, err)
	}
	rc, err := section(f, offset, length)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob %s: %w", d, err)
	}
	return rc, nil
}

// fileSection reads length bytes of a file from offset and closes the
// file. Its WriteTo hands the open file to the writer as an
// io.LimitedReader, the form net/http passes on to sendfile(2): a pull
// then costs no copy through user space.
type fileSection struct {
	*io.SectionReader
	f      *os.File
	offset int64
	length int64
}

func (s *fileSection) Close() error { return s.f.Close() }

// WriteTo implements io.WriterTo for io.Copy.
func (s *fileSection) WriteTo(w io.Writer) (int64, error) {
	pos, err := s.SectionReader.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if _, err := s.f.Seek(s.offset+pos, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := io.Copy(w, &io.LimitedReader{R: s.f, N: s.length - pos})
	s.SectionReader.Seek(pos+n, io.SeekStart)
	return n, err
}

// section returns a reader of f from offset for length bytes (to the end
// when length < 0 or when the file is shorter).
func section(f *os.File, offset, length int64) (io.ReadCloser, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if offset < 0 || offset > size {
		return nil, errs.New(errs.RangeInvalid, "", "offset %d is outside 0..%d", offset, size)
	}
	if length < 0 || length > size-offset {
		length = size - offset
	}
	return &fileSection{io.NewSectionReader(f, offset, length), f, offset, length}, nil
}

// Delete implements blob.Store. The directory of the blob stays: removing
// it could race with a commit that has just created it.
func (s *Store) Delete(ctx context.Context, d oci.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// Put implements blob.Store: b must hash to d. The bytes go to a temporary
// file in the same filesystem, are fsync'd and renamed into place.
func (s *Store) Put(ctx context.Context, d oci.Digest, b []byte) error {
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	got, err := oci.FromBytesAlg(d.Algorithm(), b)
	if err != nil {
		return errs.New(errs.Invalid, "DIGEST_INVALID", "%v", err)
	}
	if got != d {
		return errs.New(errs.Invalid, "DIGEST_INVALID", "content hashes to %s, not %s", got, d)
	}
	if _, err := os.Stat(p); err == nil {
		return nil // content addressing: the stored bytes are these bytes
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmp, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("put blob %s: %w", d, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.moveIntoPlace(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put blob %s: %w", d, err)
	}
	return nil
}

// moveIntoPlace renames the durable file src to the blob path dst and
// makes the new directory entry durable. Rename replaces atomically, so
// concurrent commits of one digest leave one intact file either way.
func (s *Store) moveIntoPlace(src, dst string) error {
	dir := filepath.Dir(dst)
	// The prefix directory exists (New makes them all) unless someone
	// removed it since: only then is it made again.
	err := os.Rename(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(src); serr != nil {
			return err // the upload itself is gone
		}
		switch err := os.Mkdir(dir, dirPerm); {
		case err == nil:
			// A new directory's own entry must be durable too.
			if err := syncDir(filepath.Dir(dir)); err != nil {
				return err
			}
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		err = os.Rename(src, dst)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that renames and creations in it survive
// a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// SweepTemp removes temporary files of Put calls that were interrupted
// (a crash between create and rename) and are older than olderThan. It
// returns how many it removed. olderThan should exceed the time any Put
// can take, since a live Put's file looks the same.
func (s *Store) SweepTemp(olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return 0, fmt.Errorf("sweep temporary files: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var errList []error
	for _, e := range entries {
		if !e.Type().IsRegular() || len(e.Name()) <= len(tmpPrefix) || e.Name()[:len(tmpPrefix)] != tmpPrefix {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue // gone already, or maybe still being written
		}
		switch err := os.Remove(filepath.Join(s.tmp, e.Name())); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errList = append(errList, err)
		}
	}
	if err := errors.Join(errList...); err != nil {
		return removed, fmt.Errorf("sweep temporary files: %w", err)
	}
	return removed, nil
}

// trunc keeps hostile input short in error messages.
func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
