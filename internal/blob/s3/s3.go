// Package s3 is the blob store on an S3-compatible object store, so that
// any number of berth nodes can share one bucket. It owns the keys under
// its prefix and nothing else in the bucket; it never creates or deletes
// the bucket itself, and it knows nothing of repositories or SQL.
//
// # Layout
//
// Committed blobs live at <prefix>/blobs/<alg>/<first 2 hex>/<hex>. The
// data of upload <id> is a chain of chunk objects
// <prefix>/uploads/<id>/<offset>, the offset written as 20 decimal digits
// so that the keys sort in byte order. The chunk at offset 0 starts the
// chain and each next chunk starts where the one before ends; the upload's
// bytes are their concatenation. An empty upload is one empty chunk at 0.
//
// # Writing
//
// WriteUpload streams the request body through one buffer of PartSize
// bytes (8 MiB unless set): every time the buffer is full it becomes a
// chunk object, and what is left at the end becomes the last one. So
// memory per upload in flight is one buffer whatever the size of the
// layer (a store keeps two idle buffers for the next uploads), and every
// chunk but the last has at least the 5 MiB that S3 demands of a
// multipart part. A chunk that would break that rule (a
// client sending chunks smaller than OCI-Chunk-Min-Length, or a chunk
// rewritten part-way) is merged: the small last chunk is read back into
// the buffer and rewritten, under its own key, together with the new
// bytes. Writing at an offset before the end first deletes the chunks at
// or after it, the last one first, so that what is stored at any instant,
// even after a crash, is a chain from 0. When the body fails part-way the
// bytes that did arrive are still stored, and counted in the result.
//
// # Committing
//
// CommitUpload assembles the blob on the server, without moving its bytes
// through berth: CopyObject when the blob is exactly one chunk, otherwise
// a multipart upload whose parts are UploadPartCopy ranges of the chunks
// (at most 10,000 parts: when chunks are too small or too many for that,
// runs of them are read back and uploaded as one part, through one
// buffer of a part's size). CompleteMultipartUpload makes the blob
// appear whole and at once, so readers never see a part of it.
// Committing a digest that already exists only deletes the upload:
// content addressing makes the two equal, and concurrent commits of one
// digest all write the same bytes.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

const (
	// MinPartSize is S3's smallest multipart part (other than the last).
	MinPartSize = 5 << 20
	// DefaultPartSize is the buffer of one upload in flight and the size
	// of its chunk objects.
	DefaultPartSize = 8 << 20
	// maxPartSize bounds the buffer: S3 parts may be larger, but one
	// upload in flight should not hold more memory than this.
	maxPartSize = 256 << 20
	// maxParts is S3's limit of parts in one multipart upload.
	maxParts = 10_000
	// maxCopyPart is S3's largest part made by UploadPartCopy and its
	// largest single CopyObject.
	maxCopyPart = 5 << 30
	// contentType of every object: they are opaque bytes.
	contentType = "application/octet-stream"
)

// Options locate the bucket and say how to reach it.
type Options struct {
	Endpoint  string // host[:port] of the S3 API, without a scheme
	Secure    bool   // HTTPS to the endpoint
	Region    string // "" to ask the server
	Bucket    string // must exist
	Prefix    string // key prefix inside the bucket, "" for the root; no leading or trailing '/'
	PathStyle bool   // address the bucket as /bucket/key instead of bucket.host/key
	AccessKey string
	SecretKey string
	// PartSize is the size of chunk objects and of the one buffer each
	// upload in flight uses; 0 means DefaultPartSize. It must be at least
	// MinPartSize.
	PartSize int64
	// Transport replaces the HTTP transport (nil: minio-go's default).
	Transport http.RoundTripper
}

// Store is a blob.Store in an S3 bucket.
type Store struct {
	client   *minio.Client
	core     minio.Core // the same client, with the low-level multipart calls
	bucket   string
	prefix   string // "" or "<prefix>/"
	partSize int64
	bufs     buffers // of partSize bytes
}

// idleBuffers is how many part buffers a store keeps between uploads.
const idleBuffers = 2

// buffers hands out part buffers and keeps a few idle ones. A sync.Pool
// would drop them at every garbage collection, and each PATCH would then
// cost a fresh part buffer.
type buffers struct {
	size int64
	idle chan *[]byte
}

func (b *buffers) get() *[]byte {
	select {
	case p := <-b.idle:
		return p
	default:
		p := make([]byte, b.size)
		return &p
	}
}

func (b *buffers) put(p *[]byte) {
	select {
	case b.idle <- p:
	default: // enough kept: let it go
	}
}

var (
	_ blob.Store      = (*Store)(nil)
	_ blob.Redirecter = (*Store)(nil)
)

// New returns a store in the bucket that o names. It checks that the
// bucket exists and that the credentials reach it, so that a wrong
// configuration fails at start rather than at the first push.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Endpoint == "" {
		return nil, errs.Invalidf("s3 storage: no endpoint")
	}
	if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
		return nil, errs.Invalidf("s3 storage: bucket %q: %v", o.Bucket, err)
	}
	if !validPrefix(o.Prefix) {
		return nil, errs.Invalidf("s3 storage: prefix %q must be path segments without '.', '..' or empty ones", o.Prefix)
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > maxPartSize {
		return nil, errs.Invalidf("s3 storage: part size %d is outside %d..%d", o.PartSize, MinPartSize, maxPartSize)
	}
	lookup := minio.BucketLookupAuto
	if o.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:       o.Secure,
		Region:       o.Region,
		BucketLookup: lookup,
		Transport:    o.Transport,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, errs.Invalidf("s3 storage: endpoint %q: %v", o.Endpoint, err)
	}
	s := &Store{
		client:   client,
		core:     minio.Core{Client: client},
		bucket:   o.Bucket,
		partSize: o.PartSize,
		bufs:     buffers{size: o.PartSize, idle: make(chan *[]byte, idleBuffers)},
	}
	if o.Prefix != "" {
		s.prefix = o.Prefix + "/"
	}
	ok, err := client.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: reach bucket %s at %s: %w", o.Bucket, o.Endpoint, err)
	}
	if !ok {
		return nil, errs.NotFoundf("s3 storage: bucket %s does not exist at %s", o.Bucket, o.Endpoint)
	}
	return s, nil
}

// validPrefix accepts "" or '/'-separated segments of [A-Za-z0-9._-],
// none of them empty, "." or "..".
func validPrefix(p string) bool {
	if p == "" {
		return true
	}
	if len(p) > 512 {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// MinChunkLength is S3's minimum part size, advertised to clients as
// OCI-Chunk-Min-Length. Smaller chunks work too (they are merged), but
// cost a read back of the stored tail.
func (s *Store) MinChunkLength() int64 { return MinPartSize }

// SharedWriters reports that several berth nodes write this store, so the
// registry verifies an upload's stored bytes before committing them.
func (s *Store) SharedWriters() bool { return true }

// PartSize returns the size of chunk objects and upload buffers.
func (s *Store) PartSize() int64 { return s.partSize }

// blobKey validates d and returns the key of its object.
func (s *Store) blobKey(d oci.Digest) (string, error) {
	p, err := oci.ParseDigest(string(d))
	if err != nil {
		return "", &errs.Error{Kind: errs.Invalid, Code: "DIGEST_INVALID", Msg: err.Error()}
	}
	h := p.Hex()
	return s.prefix + "blobs/" + p.Algorithm() + "/" + h[:2] + "/" + h, nil
}

func blobNotFound(d oci.Digest) error {
	return errs.New(errs.NotFound, "BLOB_UNKNOWN", "blob %s is not known", d)
}

// isNotFound reports whether err says that the object does not exist. A
// missing bucket is not that: it is a broken configuration.
func isNotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || (r.StatusCode == http.StatusNotFound && r.Code != "NoSuchBucket")
}

// unavailable marks a failure of the object store as retryable, keeping
// err for the log.
func unavailable(err error, format string, args ...any) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf(format+": %w", append(args, err)...)
	}
	return errs.Wrap(errs.Unavailable, err, format, args...)
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, d oci.Digest) (int64, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if isNotFound(err) {
		return 0, blobNotFound(d)
	}
	if err != nil {
		return 0, unavailable(err, "stat blob %s", d)
	}
	return info.Size, nil
}

// Open implements blob.Store. A length that runs past the end is cut at
// the end; an offset past the end is a RangeInvalid error.
func (s *Store) Open(ctx context.Context, d oci.Digest, offset, length int64) (io.ReadCloser, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return nil, err
	}
	size, err := s.Stat(ctx, d)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > size {
		return nil, errs.New(errs.RangeInvalid, "", "open blob %s: offset %d is outside 0..%d", d, offset, size)
	}
	if length < 0 || length > size-offset {
		length = size - offset
	}
	rc, err := s.getRange(ctx, key, offset, length)
	if isNotFound(err) {
		return nil, blobNotFound(d) // deleted since Stat
	}
	if err != nil {
		return nil, unavailable(err, "open blob %s", d)
	}
	return rc, nil
}

// getRange reads length bytes of the object key from offset. The reader
// fails with io.ErrUnexpectedEOF if the object turns out shorter.
func (s *Store) getRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil // a Range header cannot ask for nothing
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(offset, offset+length-1); err != nil {
		return nil, err
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, err
	}
	return &exactReader{r: body, c: body, left: length}, nil
}

// exactReader passes through exactly left bytes, and says
// io.ErrUnexpectedEOF when the body ends sooner.
type exactReader struct {
	r    io.Reader
	c    io.Closer
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		return n, io.EOF
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (e *exactReader) Close() error { return e.c.Close() }

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, d oci.Digest) error {
	key, err := s.blobKey(d)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return unavailable(err, "delete blob %s", d)
	}
	return nil
}

// Put implements blob.Store: b must hash to d.
func (s *Store) Put(ctx context.Context, d oci.Digest, b []byte) error {
	key, err := s.blobKey(d)
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
	if _, err := s.Stat(ctx, d); err == nil {
		return nil // content addressing: the stored bytes are these bytes
	}
	if err := s.putObject(ctx, key, b); err != nil {
		return unavailable(err, "put blob %s", d)
	}
	return nil
}

// putObject stores b under key in one PUT.
func (s *Store) putObject(ctx context.Context, key string, b []byte) error {
	return retryDirRace(ctx, func() error {
		_, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), "", "",
			minio.PutObjectOptions{ContentType: contentType})
		return err
	})
}

// dirRaceAttempts bounds the tries of a write that retryDirRace repeats.
const dirRaceAttempts = 5

// retryDirRace runs op, a write that is safe to repeat, and runs it again
// while the server answers ExistingObjectIsDirectory. S3 has no
// directories and AWS never says that; servers that keep objects as files
// in directories do. versitygw's posix backend (v1.8.0) says it for a PUT
// whose parent directories a concurrent DeleteObject elsewhere removed
// while the PUT was creating them: deleting the last chunk of one upload
// removes <prefix>/uploads/<id>/ and then <prefix>/uploads/ itself when
// it looks empty, just as another upload's first PUT has created
// <prefix>/uploads/ and not yet <prefix>/uploads/<its id>/ (the same
// holds for blobs/<alg>/<xx>/ under GC). No key of this store names a
// directory, so the conflict is always that race, and the next try finds
// the parents whole or recreates them.
func retryDirRace(ctx context.Context, op func() error) error {
	var err error
	for try := range dirRaceAttempts {
		if try > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(try) * time.Millisecond): // spread the racers apart
			}
		}
		err = op()
		if minio.ToErrorResponse(err).Code != "ExistingObjectIsDirectory" {
			return err
		}
	}
	return err
}

// RedirectURL implements blob.Redirecter with a presigned GET URL. It
// does not check that the blob exists; callers Stat it first.
func (s *Store) RedirectURL(ctx context.Context, d oci.Digest, expiry time.Duration) (string, error) {
	key, err := s.blobKey(d)
	if err != nil {
		return "", err
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", errs.Invalidf("presigned URL expiry %s is outside 1s..168h", expiry)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, expiry, nil)
	if err != nil {
		return "", unavailable(err, "presign blob %s", d)
	}
	return u.String(), nil
}

// trunc keeps hostile input short in error messages.
func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
