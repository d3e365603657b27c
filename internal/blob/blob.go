// Package blob defines where berth keeps bytes: content-addressed blobs and
// the temporary data of uploads in progress. A Store knows nothing of
// repositories, manifests or SQL; the metadata store decides what exists.
// Drivers live in sub-packages (fs, s3) and all pass blobtest.
package blob

import (
	"context"
	"io"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// Store holds committed blobs by digest and the temporary data of uploads.
//
// Durability contract (DESIGN.md invariant 1): when CommitUpload returns
// nil the bytes of the digest are durably stored (fsync'd, or acknowledged
// by the object store) and Open/Stat will find them, even after a crash.
// Errors of kind errs.NotFound (internal/errs) mean the object does not exist.
type Store interface {
	// Stat returns the size of a committed blob.
	Stat(ctx context.Context, d oci.Digest) (int64, error)
	// Open returns a reader of length bytes of a committed blob starting at
	// offset; length < 0 reads to the end.
	Open(ctx context.Context, d oci.Digest, offset, length int64) (io.ReadCloser, error)
	// Delete removes a committed blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, d oci.Digest) error

	// WriteUpload writes r into upload id starting at offset and returns the
	// number of bytes written. Data already stored at or past offset is
	// discarded first, so a chunk that was partly written before a crash
	// is simply written again. The upload is created on first write. The
	// bytes written are durable when it returns nil.
	WriteUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error)
	// ReadUpload reads the stored bytes of upload id from offset.
	ReadUpload(ctx context.Context, id string, offset int64) (io.ReadCloser, error)
	// CommitUpload makes the first size bytes of upload id the committed
	// blob d, durably, and removes the upload. When d already exists, the
	// upload is just removed (content addressing makes them equal).
	CommitUpload(ctx context.Context, id string, size int64, d oci.Digest) error
	// DeleteUpload removes the data of upload id; a missing upload is fine.
	DeleteUpload(ctx context.Context, id string) error
	// ListUploads lists uploads with the time they were last written.
	ListUploads(ctx context.Context) ([]UploadInfo, error)
	// Put stores b as committed blob d durably (small blobs, tests).
	Put(ctx context.Context, d oci.Digest, b []byte) error
}

// UploadInfo describes upload data found in the store.
type UploadInfo struct {
	ID       string
	Size     int64
	Modified time.Time
}

// Redirecter is an optional capability: a store that can hand clients a
// short-lived URL to fetch a blob directly (for example a presigned S3 URL).
type Redirecter interface {
	RedirectURL(ctx context.Context, d oci.Digest, expiry time.Duration) (string, error)
}

// Tapped is an optional capability of the reader given to WriteUpload: a
// reader whose bytes something else must also see (the upload's running
// hash). Reading it does both, one after the other on the caller's
// goroutine. A store that pipelines its copy may instead read Source and
// pass every chunk it read, in order and each exactly once, to Tap on
// another goroutine, so that receiving, hashing and writing overlap. It
// must have tapped every byte it read by the time WriteUpload returns,
// including after a failure.
type Tapped interface {
	io.Reader
	Source() io.Reader
	Tap(p []byte)
}
