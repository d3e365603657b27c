package s3

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
)

// offsetDigits is the width of the offset in a chunk key: enough for any
// int64, so that keys sort like offsets.
const offsetDigits = 20

// flushTimeout bounds the writes that store what a failed or cancelled
// request body did deliver.
const flushTimeout = time.Minute

// chunk is one chunk object of an upload.
type chunk struct {
	key      string
	start    int64
	size     int64
	modified time.Time
}

func (c chunk) end() int64 { return c.start + c.size }

func uploadNotFound(id string) error {
	return errs.New(errs.NotFound, "BLOB_UPLOAD_UNKNOWN", "upload %s is not known", id)
}

// validUploadID accepts 1 to 128 characters of [A-Za-z0-9_-], as the fs
// store does: enough for UUIDs and random tokens, and never a '/' or a
// dot that could reach another key.
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

// uploadDir validates id and returns the key prefix of its chunks.
func (s *Store) uploadDir(id string) (string, error) {
	if !validUploadID(id) {
		return "", errs.New(errs.Invalid, "BLOB_UPLOAD_INVALID", "upload id %q is invalid", trunc(id))
	}
	return s.prefix + "uploads/" + id + "/", nil
}

func chunkKey(dir string, offset int64) string {
	return fmt.Sprintf("%s%0*d", dir, offsetDigits, offset)
}

// list returns the objects under prefix in key order.
func (s *Store) list(ctx context.Context, prefix string) ([]minio.ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx) // stops the lister if we return early
	defer cancel()
	var out []minio.ObjectInfo
	for o := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		out = append(out, o)
	}
	return out, nil
}

// chunks lists the chunk objects under dir and splits them into the chain
// (contiguous from offset 0) and the stray ones that do not belong to it.
// With one writer at a time there are no strays; they are tolerated and
// cleaned up so that a race or a foreign object never corrupts the chain.
func (s *Store) chunks(ctx context.Context, dir string) (chain, stray []chunk, err error) {
	objs, err := s.list(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	all := make([]chunk, 0, len(objs))
	for _, o := range objs {
		c := chunk{key: o.Key, size: o.Size, modified: o.LastModified, start: -1}
		if rest := strings.TrimPrefix(o.Key, dir); len(rest) == offsetDigits {
			if n, err := strconv.ParseInt(rest, 10, 64); err == nil && n >= 0 {
				c.start = n
			}
		}
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b chunk) int { return cmpInt64(a.start, b.start) })
	var pos int64
	for _, c := range all {
		if c.start == pos && (len(chain) == 0 || c.size > 0) {
			chain = append(chain, c)
			pos = c.end()
			continue
		}
		stray = append(stray, c)
	}
	return chain, stray, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func chainEnd(chain []chunk) int64 {
	if len(chain) == 0 {
		return 0
	}
	return chain[len(chain)-1].end()
}

// WriteUpload implements blob.Store; see the package comment for the
// layout. Once it starts storing, it stores with a context that the
// request's cancellation does not reach, so that the bytes read from a
// client that went away are kept and counted in the result.
func (s *Store) WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	dir, err := s.uploadDir(id)
	if err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, errs.New(errs.RangeInvalid, "", "upload %s: negative offset %d", id, offset)
	}
	chain, stray, err := s.chunks(ctx, dir)
	if err != nil {
		return 0, unavailable(err, "write upload %s", id)
	}
	end := chainEnd(chain)
	if len(chain) == 0 && offset > 0 {
		return 0, errs.New(errs.RangeInvalid, "", "upload %s has no data before offset %d", id, offset)
	}
	if offset > end {
		return 0, errs.New(errs.RangeInvalid, "", "upload %s has %d bytes, cannot write at offset %d", id, end, offset)
	}

	// The first new chunk starts at base. When offset falls inside a
	// chunk, or right after a last chunk too small to be a part, that
	// chunk is rewritten: its bytes before offset are carried over.
	base, carry := offset, -1
	for i, c := range chain {
		last := i == len(chain)-1
		if c.start < offset && (offset < c.end() || last && offset == c.end() && c.size < MinPartSize) {
			base, carry = c.start, i
		}
	}
	keep := int(offset - base)

	bp := s.bufs.get()
	defer s.bufs.put(bp)
	buf := *bp
	if keep >= len(buf) {
		// A chunk larger than our parts, written by a node configured
		// with larger ones, is cut inside: carry it in a buffer of its own.
		buf = make([]byte, keep+len(buf))
	}
	// Read first: an empty chunk at the end must change nothing.
	nr, rerr := fill(r, buf[keep:])
	if nr == 0 && offset == end && len(chain) > 0 && len(stray) == 0 {
		if rerr != io.EOF {
			return 0, fmt.Errorf("write upload %s at %d: %w", id, offset, rerr)
		}
		return 0, nil
	}

	// Discard what is stored at or past offset, the last chunk first, so
	// that a crash or a cancelled request in between leaves a chain. The
	// chunk at base is overwritten rather than deleted when it carries
	// bytes over.
	var drop []string
	for _, c := range stray {
		drop = append(drop, c.key)
	}
	for i := len(chain) - 1; i >= 0 && chain[i].start >= base; i-- {
		if i != carry {
			drop = append(drop, chain[i].key)
		}
	}
	for _, key := range drop {
		if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return 0, unavailable(err, "write upload %s: discard data after %d", id, offset)
		}
	}
	if carry >= 0 {
		if err := s.readChunk(ctx, chain[carry], buf[:keep]); err != nil {
			return 0, unavailable(err, "write upload %s: reread data before %d", id, offset)
		}
	}

	// Bytes read are stored even when the request is cancelled meanwhile.
	wctx := context.WithoutCancel(ctx)
	var n int64 // new bytes stored
	pos, filled := base, keep+nr
	for {
		// An upload with no bytes still exists: as one empty chunk.
		if filled > 0 || pos == 0 {
			fctx, cancel := context.WithTimeout(wctx, flushTimeout)
			err := s.putObject(fctx, chunkKey(dir, pos), buf[:filled])
			cancel()
			if err != nil {
				return n, unavailable(err, "write upload %s at %d", id, pos)
			}
			n += int64(filled - keep)
			pos += int64(filled)
			keep = 0
		}
		if rerr != nil {
			break
		}
		if err := ctx.Err(); err != nil {
			rerr = err
			break
		}
		filled, rerr = fill(r, buf)
	}
	if rerr != io.EOF {
		return n, fmt.Errorf("write upload %s at %d: %w", id, offset+n, rerr)
	}
	return n, nil
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

// readChunk reads the first len(b) bytes of chunk c into b.
func (s *Store) readChunk(ctx context.Context, c chunk, b []byte) error {
	rc, err := s.getRange(ctx, c.key, 0, int64(len(b)))
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.ReadFull(rc, b)
	return err
}

// ReadUpload implements blob.Store.
func (s *Store) ReadUpload(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	dir, err := s.uploadDir(id)
	if err != nil {
		return nil, err
	}
	chain, _, err := s.chunks(ctx, dir)
	if err != nil {
		return nil, unavailable(err, "read upload %s", id)
	}
	if len(chain) == 0 {
		return nil, uploadNotFound(id)
	}
	if end := chainEnd(chain); offset < 0 || offset > end {
		return nil, errs.New(errs.RangeInvalid, "", "read upload %s: offset %d is outside 0..%d", id, offset, end)
	}
	return &chainReader{ctx: ctx, s: s, chain: chain, pos: offset, end: chainEnd(chain)}, nil
}

// chainReader reads the chunks of an upload from pos to end, one GET
// per chunk, opened when reached.
type chainReader struct {
	ctx   context.Context
	s     *Store
	chain []chunk
	pos   int64
	end   int64
	cur   io.ReadCloser
}

func (c *chainReader) Read(p []byte) (int, error) {
	for {
		if c.pos >= c.end {
			return 0, io.EOF
		}
		if c.cur == nil {
			i, _ := slices.BinarySearchFunc(c.chain, c.pos, func(ch chunk, pos int64) int {
				switch {
				case ch.end() <= pos:
					return -1
				case ch.start > pos:
					return 1
				}
				return 0
			})
			ch := c.chain[i]
			rc, err := c.s.getRange(c.ctx, ch.key, c.pos-ch.start, ch.end()-c.pos)
			if err != nil {
				return 0, fmt.Errorf("read upload chunk at %d: %w", ch.start, err)
			}
			c.cur = rc
		}
		n, err := c.cur.Read(p)
		c.pos += int64(n)
		if err == io.EOF {
			c.cur.Close()
			c.cur = nil
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (c *chainReader) Close() error {
	if c.cur != nil {
		err := c.cur.Close()
		c.cur = nil
		return err
	}
	return nil
}

// DeleteUpload implements blob.Store.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	dir, err := s.uploadDir(id)
	if err != nil {
		return err
	}
	if err := s.removeUpload(ctx, dir); err != nil {
		return unavailable(err, "delete upload %s", id)
	}
	return nil
}

// removeUpload deletes every object under dir, the last first, so that an
// interrupted removal still leaves a chain.
func (s *Store) removeUpload(ctx context.Context, dir string) error {
	objs, err := s.list(ctx, dir)
	if err != nil {
		return err
	}
	for i := len(objs) - 1; i >= 0; i-- {
		if err := s.client.RemoveObject(ctx, s.bucket, objs[i].Key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// ListUploads implements blob.Store, in the order of the ids. An upload's
// time is that of its newest chunk.
func (s *Store) ListUploads(ctx context.Context) ([]blob.UploadInfo, error) {
	root := s.prefix + "uploads/"
	objs, err := s.list(ctx, root)
	if err != nil {
		return nil, unavailable(err, "list uploads")
	}
	var out []blob.UploadInfo
	for len(objs) > 0 {
		id, _, ok := strings.Cut(strings.TrimPrefix(objs[0].Key, root), "/")
		if !ok {
			objs = objs[1:] // a foreign object, not in an upload's directory
			continue
		}
		dir := root + id + "/"
		n := 1
		for n < len(objs) && strings.HasPrefix(objs[n].Key, dir) {
			n++
		}
		group := objs[:n]
		objs = objs[n:]
		if !validUploadID(id) {
			continue
		}
		u := blob.UploadInfo{ID: id}
		var pos int64
		for _, o := range group {
			if o.Key == chunkKey(dir, pos) && (pos == 0 || o.Size > 0) {
				pos += o.Size
				u.Size = pos
				if o.LastModified.After(u.Modified) {
					u.Modified = o.LastModified
				}
			}
		}
		if u.Modified.IsZero() {
			continue // strays only: not an upload
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b blob.UploadInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
