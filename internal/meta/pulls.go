package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// PullBatch is what a write-behind buffer collected about pulls since
// its last flush: pull counts coalesced per repository, the newest pull
// time of each manifest (and of each tag it was pulled by), and the
// pulls' audit entries.
type PullBatch struct {
	Counts map[int64]int64 // repository id -> pulls
	Times  []PullTime
	Audits []AuditLog
}

// PullTime is the newest pull of a manifest, or of a tag pointing at it
// when Tag is set.
type PullTime struct {
	RepoID int64
	Digest oci.Digest
	Tag    string
	At     time.Time
}

// Empty reports whether the batch holds nothing to write.
func (b PullBatch) Empty() bool {
	return len(b.Counts) == 0 && len(b.Times) == 0 && len(b.Audits) == 0
}

// RecordPulls writes a batch in one transaction. A pull time only moves
// forward, so batches flushed out of order (by several nodes) keep the
// newest time.
func (q *Q) RecordPulls(ctx context.Context, b PullBatch) error {
	err := q.atomic(ctx, func(q *Q) error {
		for id, n := range b.Counts {
			if _, err := q.exec(ctx, `UPDATE repositories SET pull_count = pull_count + ? WHERE id = ?`, n, id); err != nil {
				return err
			}
		}
		for _, p := range b.Times {
			at := q.ts(p.At)
			var err error
			if p.Tag == "" {
				_, err = q.exec(ctx, `UPDATE manifests SET pulled_at = ? WHERE repo_id = ? AND digest = ?
					AND (pulled_at IS NULL OR pulled_at < ?)`, at, p.RepoID, p.Digest, at)
			} else {
				_, err = q.exec(ctx, `UPDATE tags SET pulled_at = ? WHERE repo_id = ? AND name = ? AND digest = ?
					AND (pulled_at IS NULL OR pulled_at < ?)`, at, p.RepoID, p.Tag, p.Digest, at)
			}
			if err != nil {
				return err
			}
		}
		for _, a := range b.Audits {
			if _, err := q.InsertAudit(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d pull counts, %d pull times, %d audit entries: %w", len(b.Counts), len(b.Times), len(b.Audits), err)
	}
	return nil
}
