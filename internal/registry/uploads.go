package registry

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// UploadStatus is what a client learns about an upload session.
type UploadStatus struct {
	ID     string
	Repo   string
	Offset int64 // bytes received so far
}

// StartUpload opens an upload session in repository name, creating the
// repository on first push. alg selects the running hash ("" for sha256);
// a different algorithm at completion is still accepted (the data is hashed
// again).
func (s *Service) StartUpload(ctx context.Context, name, alg string) (UploadStatus, error) {
	if alg == "" {
		alg = oci.SHA256
	}
	if _, err := oci.NewHash(alg); err != nil {
		return UploadStatus{}, digestInvalid("%v", err)
	}
	repo, err := s.ensureRepo(ctx, name)
	if err != nil {
		return UploadStatus{}, err
	}
	if lu, ok := s.localUploads(); ok {
		id := rowlessID(uuid.NewString(), repo.ID, alg)
		if err := lu.StartUpload(ctx, id); err != nil {
			return UploadStatus{}, fmt.Errorf("start upload in %s: %w", name, err)
		}
		return UploadStatus{ID: id, Repo: name}, nil
	}
	now := s.now().UTC()
	u := meta.Upload{ID: uuid.NewString(), RepoID: repo.ID, Algorithm: alg, CreatedAt: now, UpdatedAt: now}
	if err := s.db.Q().CreateUpload(ctx, u); err != nil {
		return UploadStatus{}, fmt.Errorf("create upload in %s: %w", name, err)
	}
	return UploadStatus{ID: u.ID, Repo: name}, nil
}

// upload loads session id and checks that it belongs to repository name.
// rowless says that the session has no row yet (see rowlessID).
func (s *Service) upload(ctx context.Context, name, id string) (repo meta.Repo, u meta.Upload, rowless bool, err error) {
	repo, err = s.repo(ctx, name)
	if errs.Is(err, errs.NotFound) {
		return meta.Repo{}, meta.Upload{}, false, uploadUnknown(id)
	}
	if err != nil {
		return meta.Repo{}, meta.Upload{}, false, err
	}
	if !validUploadID(id) {
		return meta.Repo{}, meta.Upload{}, false, uploadUnknown(id)
	}
	u, err = s.db.Q().GetUpload(ctx, id)
	if errs.Is(err, errs.NotFound) {
		u, ok, err := s.rowlessUpload(ctx, repo, id)
		if err != nil {
			return meta.Repo{}, meta.Upload{}, false, err
		}
		if !ok {
			return meta.Repo{}, meta.Upload{}, false, uploadUnknown(id)
		}
		return repo, u, true, nil
	}
	if err == nil && u.RepoID != repo.ID {
		return meta.Repo{}, meta.Upload{}, false, uploadUnknown(id)
	}
	if err != nil {
		return meta.Repo{}, meta.Upload{}, false, fmt.Errorf("get upload %s: %w", id, err)
	}
	return repo, u, false, nil
}

func validUploadID(id string) bool {
	if _, _, ok := parseRowlessID(id); ok {
		return true
	}
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// UploadStatus reports how many bytes session id has received.
func (s *Service) UploadStatus(ctx context.Context, name, id string) (UploadStatus, error) {
	_, u, _, err := s.upload(ctx, name, id)
	if err != nil {
		return UploadStatus{}, err
	}
	return UploadStatus{ID: id, Repo: name, Offset: u.Offset}, nil
}

// AppendUpload writes r to session id. start is the offset the client
// says the chunk begins at (from Content-Range), or -1 for a streamed
// chunk that simply continues. A chunk that does not start at the current
// offset is refused with a RangeInvalid error; the returned status always
// carries the current offset when the session exists.
func (s *Service) AppendUpload(ctx context.Context, name, id string, start int64, r io.Reader) (UploadStatus, error) {
	unlock := s.uploadLocks.Lock(id)
	defer unlock()
	_, u, rowless, err := s.upload(ctx, name, id)
	if err != nil {
		return UploadStatus{}, err
	}
	u, release, err := s.claimUpload(ctx, u)
	if err != nil {
		return UploadStatus{ID: id, Repo: name, Offset: u.Offset}, err
	}
	defer release()
	u, err = s.appendLocked(ctx, u, start, r, false, rowless)
	return UploadStatus{ID: id, Repo: name, Offset: u.Offset}, err
}

// appendLocked writes r at the session's offset and advances it by what
// was durably written, even when the body ends early, so the client can
// resume from the offset it reads back.
//
// final marks the chunk that completes the upload: when it arrives whole,
// the new offset and hash state are only returned, not stored, since the
// commit that follows deletes the row (one database write fewer per
// blob). Should the commit fail, the row keeps the previous offset and
// the next write there discards the bytes past it, so row and data still
// agree. On a store shared by nodes the row is still advanced, so that
// the offset stays the compare-and-swap that orders them.
//
// rowless marks a session with no row yet: the row is created, with the
// new offset, once bytes are stored and must be remembered.
func (s *Service) appendLocked(ctx context.Context, u meta.Upload, start int64, r io.Reader, final, rowless bool) (meta.Upload, error) {
	if start >= 0 && start != u.Offset {
		return u, errs.New(errs.RangeInvalid, "BLOB_UPLOAD_INVALID",
			"chunk starts at byte %d but the upload has %d bytes; send chunks in order", start, u.Offset)
	}
	h, err := oci.RestoreHash(u.Algorithm, u.HashState)
	if err != nil {
		return u, fmt.Errorf("upload %s: %w", u.ID, err)
	}
	hr := &hashingReader{r: r, h: h}
	n, werr := s.blobs.WriteUpload(ctx, u.ID, u.Offset, hr)
	// A client that went away has its request context cancelled as soon
	// as the server reads EOF, yet the bytes it did send are stored:
	// record them regardless, so that it can resume from there.
	ctx = context.WithoutCancel(ctx)
	if n > 0 && n != hr.n {
		// The store wrote fewer bytes than it read: hash what is stored.
		// (With nothing stored there is nothing to hash, and nothing to
		// read back: a new session's data may not exist at all.)
		if h, err = s.rehash(ctx, u, n); err != nil {
			if werr == nil {
				return u, err
			}
			// The write's own failure is what the client must hear (a
			// retryable one, typically), not the failure to reread: the
			// offset stays where it was, and the next write there
			// replaces what this one left.
			s.log.Warn("reread a partly written chunk", "upload", u.ID, "err", err)
			return u, bodyError(werr)
		}
	}
	if n > 0 {
		state, err := oci.HashState(h)
		if err != nil {
			return u, err
		}
		if final && werr == nil && !s.sharedStore() {
			u.Offset += n
			u.HashState = state
			return u, nil
		}
		if rowless {
			now := s.now().UTC()
			row := u
			row.Offset, row.HashState, row.CreatedAt, row.UpdatedAt = u.Offset+n, state, now, now
			if err := s.db.Q().CreateUpload(ctx, row); err != nil {
				return u, fmt.Errorf("record upload %s: %w", u.ID, err)
			}
		} else if err := s.db.Q().AdvanceUpload(ctx, u.ID, u.Offset, u.Offset+n, state); err != nil {
			return u, fmt.Errorf("advance upload %s: %w", u.ID, err)
		}
		u.Offset += n
		u.HashState = state
	}
	if werr != nil {
		return u, bodyError(werr)
	}
	return u, nil
}

// bodyError classifies a failure while reading a request body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errs.New(errs.TooLarge, "SIZE_INVALID", "the request body is larger than the limit of %d bytes", mbe.Limit)
	case errs.KindOf(err) != errs.Internal:
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		return &errs.Error{Kind: errs.Invalid, Code: "BLOB_UPLOAD_INVALID", Msg: "the request body ended early", Err: err}
	}
	return fmt.Errorf("write upload data: %w", err)
}

// rehash restores the session's hash and feeds it the n bytes stored
// after the session's offset.
func (s *Service) rehash(ctx context.Context, u meta.Upload, n int64) (hash.Hash, error) {
	h, err := oci.RestoreHash(u.Algorithm, u.HashState)
	if err != nil {
		return nil, err
	}
	rc, err := s.blobs.ReadUpload(ctx, u.ID, u.Offset)
	if err != nil {
		return nil, fmt.Errorf("reread upload %s: %w", u.ID, err)
	}
	defer rc.Close()
	if _, err := io.CopyN(h, rc, n); err != nil {
		return nil, fmt.Errorf("reread upload %s: %w", u.ID, err)
	}
	return h, nil
}

// CompleteUpload appends the final chunk r (may be empty) to session id,
// checks that the content hashes to digest, and commits it as a blob of
// the repository.
func (s *Service) CompleteUpload(ctx context.Context, name, id, digest string, start int64, r io.Reader) (oci.Digest, error) {
	d, err := oci.ParseDigest(digest)
	if err != nil {
		return "", digestInvalid("%v", err)
	}
	unlock := s.uploadLocks.Lock(id)
	defer unlock()
	repo, u, rowless, err := s.upload(ctx, name, id)
	if err != nil {
		return "", err
	}
	u, release, err := s.claimUpload(ctx, u)
	if err != nil {
		return "", err
	}
	defer release() // after the commit, which deletes the session
	if u, err = s.appendLocked(ctx, u, start, r, true, rowless); err != nil {
		return "", err
	}
	var got oci.Digest
	if d.Algorithm() == u.Algorithm && !s.sharedStore() {
		h, err := oci.RestoreHash(u.Algorithm, u.HashState)
		if err != nil {
			return "", err
		}
		got = oci.DigestOf(u.Algorithm, h)
	} else {
		if got, err = s.hashStored(ctx, u, d.Algorithm()); err != nil {
			return "", err
		}
	}
	if got != d {
		s.discardUpload(ctx, u.ID)
		return "", digestInvalid("the uploaded content has digest %s, not %s", got, d).WithDetail(map[string]string{"digest": string(d)})
	}
	if err := s.commitBlob(ctx, repo, u.ID, u.Offset, d, rowless); err != nil {
		return "", err
	}
	return d, nil
}

func (s *Service) hashStored(ctx context.Context, u meta.Upload, alg string) (oci.Digest, error) {
	h, err := oci.NewHash(alg)
	if err != nil {
		return "", digestInvalid("%v", err)
	}
	if u.Offset > 0 {
		rc, err := s.blobs.ReadUpload(ctx, u.ID, 0)
		if err != nil {
			return "", fmt.Errorf("read upload %s: %w", u.ID, err)
		}
		defer rc.Close()
		if _, err := io.CopyN(h, rc, u.Offset); err != nil {
			return "", fmt.Errorf("read upload %s: %w", u.ID, err)
		}
	}
	return oci.DigestOf(alg, h), nil
}

// commitBlob follows DESIGN.md's protocol: with D's row locked, bytes go to
// their final place before the row that says they exist; a blob that GC
// is deleting is not resurrected underneath it. rowless: the session has
// no row to delete.
func (s *Service) commitBlob(ctx context.Context, repo meta.Repo, uploadID string, size int64, d oci.Digest, rowless bool) error {
	prePlaced, err := s.prePlaceBlob(ctx, repo, uploadID, size, d)
	if err != nil {
		return err
	}
	// The commit may share its transaction with other pushes (GroupTx),
	// so it must not be cancelled half-way; the bytes are received anyway.
	ctx = context.WithoutCancel(ctx)
	var placed bool
	for attempt := 0; ; attempt++ {
		err := s.db.GroupTx(ctx, func(q *meta.Q) error {
			placed = false
			now := s.now().UTC()
			b, err := q.LockBlob(ctx, d)
			// Quota (quota.go): decided before any bytes move, and
			// committed with the link.
			if err := s.checkQuota(ctx, q, repo, d, size); err != nil {
				return err
			}
			switch {
			case errs.Is(err, errs.NotFound):
				if err := s.placeBlob(ctx, uploadID, size, d, prePlaced); err != nil {
					return err
				}
				placed = true
				if _, err := q.InsertBlob(ctx, meta.Blob{Digest: d, Size: size, State: meta.BlobLive, LastSeen: now, CreatedAt: now}); err != nil {
					return err
				}
			case err != nil:
				return err
			case b.State == meta.BlobDeleting:
				return errBlobDeleting
			default:
				if err := q.TouchBlob(ctx, d, now); err != nil {
					return err
				}
			}
			if err := q.LinkBlob(ctx, repo.ID, d); err != nil {
				return err
			}
			if rowless {
				return nil
			}
			return q.DeleteUpload(ctx, uploadID)
		})
		if errors.Is(err, errBlobDeleting) && attempt < 50 {
			// GC is removing these bytes right now; it finishes quickly.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if errors.Is(err, errBlobDeleting) {
			return errs.New(errs.Unavailable, "UNAVAILABLE", "blob %s is being garbage collected; retry the upload", d)
		}
		if errs.Is(err, errs.Denied) {
			s.discardUpload(ctx, uploadID) // refused by the quota: the data is of no further use
		}
		if err != nil {
			return fmt.Errorf("commit blob %s: %w", d, err)
		}
		if !placed {
			if err := s.blobs.DeleteUpload(ctx, uploadID); err != nil {
				s.log.Warn("remove upload data", "upload", uploadID, "err", err)
			}
		}
		return nil
	}
}

var errBlobDeleting = errors.New("blob is being deleted")

// prePlaceBlob moves the bytes of a blob the database does not know yet
// to their final place before the commit transaction, on a store one node
// writes, so that the rename and its directory fsync do not hold SQLite's
// single writer (concurrent pushes then fsync in parallel, and the writer
// waits only for its own commit). Bytes without a row are harmless: no row
// points at them, and the transaction that inserts the row first checks,
// with D's row locked, that they are still there (placeBlob). GC deletes
// only bytes whose row it marked deleting, so once a row is found live or
// absent under the lock, the bytes found are the bytes kept. The quota is
// checked first, so that a refused blob moves nothing.
func (s *Service) prePlaceBlob(ctx context.Context, repo meta.Repo, uploadID string, size int64, d oci.Digest) (bool, error) {
	if _, ok := s.localUploads(); !ok {
		return false, nil
	}
	q := s.db.Q()
	if _, err := q.GetBlob(ctx, d); !errs.Is(err, errs.NotFound) {
		return false, nil // known (or unsure): the transaction decides
	}
	if err := s.checkQuota(ctx, q, repo, d, size); err != nil {
		if errs.Is(err, errs.Denied) {
			s.discardUpload(ctx, uploadID)
		}
		return false, fmt.Errorf("commit blob %s: %w", d, err)
	}
	if err := s.blobs.CommitUpload(ctx, uploadID, size, d); err != nil {
		return false, fmt.Errorf("store blob %s: %w", d, err)
	}
	return true, nil
}

// placeBlob moves upload data to its final place. When a retried
// transaction, or prePlaceBlob (prePlaced), already moved it, the
// committed blob is found instead; bytes that have gone meanwhile (GC
// of an earlier row of the same digest) fail the upload, retryably.
func (s *Service) placeBlob(ctx context.Context, uploadID string, size int64, d oci.Digest, prePlaced bool) error {
	if prePlaced {
		if got, err := s.blobs.Stat(ctx, d); err == nil && got == size {
			return nil
		}
		return errs.New(errs.Unavailable, "UNAVAILABLE", "blob %s was garbage collected during the upload; retry the upload", d)
	}
	err := s.blobs.CommitUpload(ctx, uploadID, size, d)
	if err == nil {
		return nil
	}
	if got, serr := s.blobs.Stat(ctx, d); serr == nil && got == size {
		return nil
	}
	return fmt.Errorf("store blob %s: %w", d, err)
}

// CancelUpload ends session id and drops its data.
func (s *Service) CancelUpload(ctx context.Context, name, id string) error {
	unlock := s.uploadLocks.Lock(id)
	defer unlock()
	if _, _, _, err := s.upload(ctx, name, id); err != nil {
		return err
	}
	s.discardUpload(ctx, id)
	return nil
}

// discardUpload removes the row and then the data of session id. It
// finishes even when the client has gone, so that a session is never
// left half-removed: a row whose data is gone would refuse every resume.
func (s *Service) discardUpload(ctx context.Context, id string) {
	ctx = context.WithoutCancel(ctx)
	if err := s.db.Q().DeleteUpload(ctx, id); err != nil && !errs.Is(err, errs.NotFound) {
		s.log.Warn("delete upload row", "upload", id, "err", err)
	}
	if err := s.blobs.DeleteUpload(ctx, id); err != nil {
		s.log.Warn("delete upload data", "upload", id, "err", err)
	}
}

// PutBlob is a monolithic upload: the whole blob in one request.
func (s *Service) PutBlob(ctx context.Context, name, digest string, r io.Reader) (oci.Digest, error) {
	d, err := oci.ParseDigest(digest)
	if err != nil {
		return "", digestInvalid("%v", err)
	}
	st, err := s.StartUpload(ctx, name, d.Algorithm())
	if err != nil {
		return "", err
	}
	got, err := s.CompleteUpload(ctx, name, st.ID, digest, 0, r)
	if err != nil {
		s.discardUpload(context.WithoutCancel(ctx), st.ID)
		return "", err
	}
	return got, nil
}

// Mount links blob digest, already in repository from, into repository
// name. With from empty, a repository holding the blob that canRead
// accepts is used (no automatic mount when canRead is nil). It returns
// false, with no error, when nothing could be mounted: the client then
// uploads as usual.
func (s *Service) Mount(ctx context.Context, name, digest, from string, canRead func(context.Context, string) (bool, error)) (bool, error) {
	d, err := oci.ParseDigest(digest)
	if err != nil {
		return false, digestInvalid("%v", err)
	}
	if from == "" {
		if canRead == nil {
			return false, nil
		}
		candidates, err := s.db.Q().ReposLinking(ctx, d, 100)
		if err != nil {
			return false, err
		}
		for _, c := range candidates {
			ok, err := canRead(ctx, c)
			if err != nil {
				return false, err
			}
			if ok {
				from = c
				break
			}
		}
		if from == "" {
			return false, nil
		}
	}
	src, err := s.repo(ctx, from)
	if err != nil {
		if errs.Is(err, errs.NotFound) || errs.Is(err, errs.Invalid) {
			return false, nil
		}
		return false, err
	}
	if ok, err := s.db.Q().IsBlobLinked(ctx, src.ID, d); err != nil || !ok {
		return false, err
	}
	repo, err := s.ensureRepo(ctx, name)
	if err != nil {
		return false, err
	}
	mounted := false
	err = s.db.Tx(ctx, func(q *meta.Q) error {
		mounted = false
		b, err := q.LockBlob(ctx, d)
		if errs.Is(err, errs.NotFound) {
			return nil
		}
		if err != nil || b.State != meta.BlobLive {
			return err
		}
		if err := q.TouchBlob(ctx, d, s.now().UTC()); err != nil {
			return err
		}
		if err := s.checkQuota(ctx, q, repo, d, b.Size); err != nil { // quota.go
			return err
		}
		mounted = true
		return q.LinkBlob(ctx, repo.ID, d)
	})
	if err != nil {
		return false, fmt.Errorf("mount %s into %s: %w", d, name, err)
	}
	return mounted, nil
}

// hashingReader hashes and counts what is read through it. As a
// blob.Tapped it lets a store read the source and hash on a goroutine of
// its own (the filesystem store does): n then counts what was tapped.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if n > 0 {
		hr.Tap(p[:n])
	}
	return n, err
}

// Source implements blob.Tapped.
func (hr *hashingReader) Source() io.Reader { return hr.r }

// Tap implements blob.Tapped.
func (hr *hashingReader) Tap(p []byte) {
	hr.h.Write(p)
	hr.n += int64(len(p))
}
