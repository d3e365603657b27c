package registry

import (
	"context"

	"fmt"
	"github.com/berth-registry/berth/internal/errs"
	"time"
)

// SweepUploads removes upload sessions untouched for longer than the
// upload expiry, and upload data that no session owns. It is safe to run
// on any node at any time: a session being written is never old.
func (s *Service) SweepUploads(ctx context.Context) (removed int, err error) {
	cutoff := s.now().UTC().Add(-s.uploadExpiry)
	for {
		old, err := s.db.Q().ListUploadsBefore(ctx, cutoff, 500)
		if err != nil {
			return removed, fmt.Errorf("list expired uploads: %w", err)
		}
		for _, u := range old {
			unlock := s.uploadLocks.Lock(u.ID)
			s.discardUpload(ctx, u.ID)
			unlock()
			removed++
		}
		if len(old) < 500 {
			break
		}
	}
	data, err := s.blobs.ListUploads(ctx)
	if err != nil {
		return removed, fmt.Errorf("list upload data: %w", err)
	}
	for _, d := range data {
		if !d.Modified.Before(cutoff) {
			continue
		}
		if !validUploadID(d.ID) {
			// Not one of ours; leave it, but it is old, so say so.
			s.log.Warn("unknown upload data", "id", d.ID)
			continue
		}
		if _, err := s.db.Q().GetUpload(ctx, d.ID); !errs.Is(err, errs.NotFound) {
			continue // still owned, or the database could not say: keep it
		}
		if err := s.blobs.DeleteUpload(ctx, d.ID); err != nil {
			return removed, fmt.Errorf("delete orphaned upload data %s: %w", d.ID, err)
		}
		removed++
	}
	return removed, nil
}

// RunSweeper sweeps uploads every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.SweepUploads(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("sweep uploads", "err", err)
		} else if n > 0 {
			s.log.Info("swept expired uploads", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
