package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Writer claims on upload sessions (see meta.ClaimUpload). On a store
// that several nodes write, two PATCHes of one session arriving at two
// nodes at once would both write bytes at the session's offset, and the
// object store keeps whichever came last; the claim in the database lets
// only one of them write. A claim lasts claimTTL and is renewed every
// claimRenew while its request writes, so a node that dies mid-request
// frees the session within claimTTL.
const (
	claimTTL   = 30 * time.Second
	claimRenew = 10 * time.Second
)

// claimUpload takes the writer claim of session u, when the store is
// shared, and returns the session as it is now and the function that
// gives the claim up. Without a shared store the node's own lock is
// enough and u is returned as is.
func (s *Service) claimUpload(ctx context.Context, u meta.Upload) (meta.Upload, func(), error) {
	if !s.sharedStore() {
		return u, func() {}, nil
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	writer := hex.EncodeToString(b)
	q := s.db.Q()
	now := s.now()
	claimed, err := q.ClaimUpload(ctx, u.ID, writer, now, now.Add(claimTTL))
	if errs.Is(err, errs.Conflict) {
		return u, nil, errs.New(errs.Conflict, "BLOB_UPLOAD_INVALID",
			"another request is writing to upload %s; retry once it has finished", truncate(u.ID))
	}
	if errs.Is(err, errs.NotFound) {
		return u, nil, uploadUnknown(u.ID)
	}
	if err != nil {
		return u, nil, fmt.Errorf("claim upload %s: %w", u.ID, err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(claimRenew)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if ok, err := q.RenewUploadClaim(context.WithoutCancel(ctx), u.ID, writer, s.now().Add(claimTTL)); err != nil || !ok {
					s.log.Warn("renew upload claim", "upload", u.ID, "held", ok, "err", err)
				}
			}
		}
	}()
	release := func() {
		close(stop)
		<-done
		if err := q.ReleaseUploadClaim(context.WithoutCancel(ctx), u.ID, writer); err != nil {
			s.log.Warn("release upload claim", "upload", u.ID, "err", err)
		}
	}
	return claimed, release, nil
}
