// Package registry holds the rules of the OCI distribution API: uploads,
// blobs, manifests, tags, mounts, referrers and deletes. It keeps DESIGN.md's
// invariants by always committing bytes to the blob store before the rows
// that point at them. It knows nothing of HTTP; handlers call one method.
package registry

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/blob"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Service implements the registry operations over a metadata store and a
// blob store.
type Service struct {
	db           *meta.DB
	blobs        blob.Store
	log          *slog.Logger
	now          func() time.Time
	maxManifest  int64
	uploadExpiry time.Duration
	maxChunk     int64
	quota        QuotaChecker  // nil: no quotas (quota.go)
	pulls        PullRecorder  // nil: pulls are recorded synchronously (artifacts.go)
	redirect     time.Duration // lifetime of presigned blob URLs; 0: blobs are served directly (blobs.go)
	onPush       []func(ctx context.Context, name string, d oci.Digest)
	sigs         *sigCache // signatures.go

	// uploadLocks serialises writers of one upload session on this node so
	// that two concurrent PATCHes cannot interleave their bytes; the
	// offset compare-and-set in the database catches the rest.
	uploadLocks keyedMutex
}

// Option configures a Service.
type Option func(*Service)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithMaxManifestSize sets the largest manifest accepted.
func WithMaxManifestSize(n int64) Option { return func(s *Service) { s.maxManifest = n } }

// WithUploadExpiry sets how long an untouched upload session lives.
func WithUploadExpiry(d time.Duration) Option { return func(s *Service) { s.uploadExpiry = d } }

// WithPushHook adds f to what runs after a manifest is stored (scan on
// push). f runs in the pushing request's goroutine after the commit; it
// must be quick and must not fail the push.
func WithPushHook(f func(ctx context.Context, name string, d oci.Digest)) Option {
	return func(s *Service) { s.onPush = append(s.onPush, f) }
}

// WithMaxChunk caps the bytes accepted in one upload request (0: no cap).
func WithMaxChunk(n int64) Option { return func(s *Service) { s.maxChunk = n } }

// PullRecorder takes pull records for writing later (package pulls).
type PullRecorder interface {
	Pull(repoID int64, d oci.Digest, tag string, t time.Time)
}

// WithPullRecorder hands pull counts and times to p instead of writing
// them during the request.
func WithPullRecorder(p PullRecorder) Option { return func(s *Service) { s.pulls = p } }

// WithBlobRedirect makes BlobRedirect hand out URLs valid for expiry
// where the blob store can make them (presigned S3 URLs).
func WithBlobRedirect(expiry time.Duration) Option { return func(s *Service) { s.redirect = expiry } }

// New returns a Service.
func New(db *meta.DB, blobs blob.Store, opts ...Option) *Service {
	s := &Service{
		db:           db,
		blobs:        blobs,
		log:          slog.Default(),
		now:          time.Now,
		maxManifest:  oci.MaxManifestSize,
		uploadExpiry: 24 * time.Hour,
		sigs:         newSigCache(),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// MaxChunk is the cap on one upload request's body (0: none).
func (s *Service) MaxChunk() int64 { return s.maxChunk }

// Errors with the OCI codes that clients understand.

func nameInvalid(err error) error {
	return &errs.Error{Kind: errs.Invalid, Code: "NAME_INVALID", Msg: err.Error()}
}

func nameUnknown(name string) error {
	return errs.New(errs.NotFound, "NAME_UNKNOWN", "repository %q is not known to the registry", name)
}

func blobUnknown(d oci.Digest) error {
	return errs.New(errs.NotFound, "BLOB_UNKNOWN", "blob %s is not known to the registry", d).WithDetail(map[string]string{"digest": string(d)})
}

func uploadUnknown(id string) error {
	return errs.New(errs.NotFound, "BLOB_UPLOAD_UNKNOWN", "upload %q is not known to the registry", truncate(id))
}

func manifestUnknown(ref string) error {
	return errs.New(errs.NotFound, "MANIFEST_UNKNOWN", "manifest %q is not known to the registry", truncate(ref))
}

func digestInvalid(format string, args ...any) *errs.Error {
	return errs.New(errs.Invalid, "DIGEST_INVALID", format, args...)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// repo returns the repository row, validating the name first.
func (s *Service) repo(ctx context.Context, name string) (meta.Repo, error) {
	if err := oci.ValidateName(name); err != nil {
		return meta.Repo{}, nameInvalid(err)
	}
	r, err := s.db.Q().GetRepo(ctx, name)
	if errs.Is(err, errs.NotFound) {
		return meta.Repo{}, nameUnknown(name)
	}
	if err != nil {
		return meta.Repo{}, fmt.Errorf("get repository %s: %w", name, err)
	}
	return r, nil
}

// ensureRepo returns the repository row, creating it on first push.
func (s *Service) ensureRepo(ctx context.Context, name string) (meta.Repo, error) {
	if err := oci.ValidateName(name); err != nil {
		return meta.Repo{}, nameInvalid(err)
	}
	// Nearly every push finds its repository: read it first, since the
	// insert of EnsureRepo takes SQLite's single write lock even when it
	// inserts nothing.
	q := s.db.Q()
	if r, err := q.GetRepo(ctx, name); err == nil {
		return r, nil
	} else if !errs.Is(err, errs.NotFound) {
		return meta.Repo{}, fmt.Errorf("get repository %s: %w", name, err)
	}
	r, err := q.EnsureRepo(ctx, name)
	if err != nil {
		return meta.Repo{}, fmt.Errorf("ensure repository %s: %w", name, err)
	}
	return r, nil
}

// keyedMutex is a set of mutexes by key, created on demand and dropped
// when nobody holds them.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) Lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyedEntry)
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// MaxManifestSize is the largest manifest accepted.
func (s *Service) MaxManifestSize() int64 { return s.maxManifest }
