package s3

import (
	"bytes"
	"context"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// CommitUpload implements blob.Store. The caller has verified that the
// first size bytes hash to d; this only assembles them under d, on the
// server.
func (s *Store) CommitUpload(ctx context.Context, id string, size int64, d oci.Digest) error {
	dir, err := s.uploadDir(id)
	if err != nil {
		return err
	}
	key, err := s.blobKey(d)
	if err != nil {
		return err
	}
	if size < 0 {
		return errs.New(errs.Invalid, "SIZE_INVALID", "commit upload %s: negative size %d", id, size)
	}
	chain, _, err := s.chunks(ctx, dir)
	if err != nil {
		return unavailable(err, "commit upload %s", id)
	}
	if len(chain) == 0 {
		return uploadNotFound(id)
	}
	// An existing blob is checked first so that a retried commit whose
	// first try placed the blob but did not finish removing the upload
	// succeeds, however little of the upload is left.
	_, err = s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	switch {
	case err == nil:
		// Content addressing: the stored blob has these very bytes.
	case isNotFound(err):
		if end := chainEnd(chain); end < size {
			return errs.New(errs.Invalid, "SIZE_INVALID", "upload %s has %d bytes, fewer than %d", id, end, size)
		}
		if err := s.compose(ctx, key, chain, size); err != nil {
			return unavailable(err, "commit upload %s as %s", id, d)
		}
	default:
		return unavailable(err, "commit upload %s as %s", id, d)
	}
	// The blob is placed: finish even if the request goes away now.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := s.removeUpload(rctx, dir); err != nil {
		return unavailable(err, "commit upload %s: remove its data", id)
	}
	return nil
}

// compose makes the object key from the first size bytes of chain.
func (s *Store) compose(ctx context.Context, key string, chain []chunk, size int64) error {
	switch {
	case size == 0:
		return s.putObject(ctx, key, nil)
	case chain[0].size == size && size <= maxCopyPart:
		return retryDirRace(ctx, func() error {
			_, err := s.core.CopyObject(ctx, s.bucket, chain[0].key, s.bucket, key, nil,
				minio.CopySrcOptions{}, minio.PutObjectOptions{})
			return err
		})
	}
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return err
	}
	parts, err := s.parts(ctx, key, uploadID, chain, size)
	if err == nil {
		_, err = s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, minio.PutObjectOptions{})
	}
	if err != nil {
		// Best effort: an abandoned multipart upload costs storage only.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		_ = s.core.AbortMultipartUpload(actx, s.bucket, key, uploadID)
		return err
	}
	return nil
}

// parts adds the parts of multipart upload uploadID. A part is a server-side
// copy of a range of one chunk when that range is large enough to be a part
// (or is the last); otherwise it is a run of small chunks, read back through
// one buffer and uploaded. Every part but the last holds at least target
// bytes, so there are never more than maxParts.
func (s *Store) parts(ctx context.Context, key, uploadID string, chain []chunk, size int64) ([]minio.CompletePart, error) {
	target := max(int64(MinPartSize), (size+maxParts-1)/maxParts)
	var parts []minio.CompletePart
	var pos int64
	i := 0
	for pos < size {
		for chain[i].end() <= pos {
			i++
		}
		c := chain[i]
		num := len(parts) + 1
		if rem := min(c.end(), size) - pos; rem >= target || pos+rem == size {
			n := min(rem, maxCopyPart)
			p, err := s.core.CopyObjectPart(ctx, s.bucket, c.key, s.bucket, key, uploadID, num, pos-c.start, n, nil)
			if err != nil {
				return nil, err
			}
			parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
			pos += n
			continue
		}
		n := min(target, size-pos)
		etag, err := s.uploadRun(ctx, key, uploadID, num, chain, pos, n)
		if err != nil {
			return nil, err
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: etag})
		pos += n
	}
	return parts, nil
}

// uploadRun uploads n bytes of the chain from pos as part num.
func (s *Store) uploadRun(ctx context.Context, key, uploadID string, num int, chain []chunk, pos, n int64) (string, error) {
	var buf []byte
	if n <= s.partSize {
		bp := s.bufs.get()
		defer s.bufs.put(bp)
		buf = (*bp)[:n]
	} else {
		buf = make([]byte, n) // only for blobs of more than maxParts chunks
	}
	r := &chainReader{ctx: ctx, s: s, chain: chain, pos: pos, end: pos + n}
	_, err := io.ReadFull(r, buf)
	r.Close()
	if err != nil {
		return "", err
	}
	p, err := s.core.PutObjectPart(ctx, s.bucket, key, uploadID, num, bytes.NewReader(buf), n, minio.PutObjectPartOptions{})
	if err != nil {
		return "", err
	}
	return p.ETag, nil
}
