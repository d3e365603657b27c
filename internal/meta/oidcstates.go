package meta

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// OIDC sign-in states: a state is stored when a sign-in starts and taken
// (deleted) by its callback, so that a callback replayed on any node finds
// nothing.

// PutOIDCState records a sign-in state (by hash) valid until expires, and
// drops those that expired.
func (q *Q) PutOIDCState(ctx context.Context, hash string, expires time.Time) error {
	if hash == "" {
		return errs.New(errs.Invalid, "", "state hash is empty")
	}
	if _, err := q.exec(ctx, `DELETE FROM oidc_states WHERE expires_at <= ?`, q.ts(now())); err != nil {
		return fmt.Errorf("purge OIDC states: %w", err)
	}
	if _, err := q.exec(ctx, `INSERT INTO oidc_states (state_hash, expires_at) VALUES (?, ?)`, hash, q.ts(expires)); err != nil {
		if isUniqueViolation(err) {
			return errs.Wrap(errs.Conflict, err, "OIDC state exists")
		}
		return fmt.Errorf("put OIDC state: %w", err)
	}
	return nil
}

// TakeOIDCState deletes the state and reports whether it was there and
// not expired at t: true for exactly one caller.
func (q *Q) TakeOIDCState(ctx context.Context, hash string, t time.Time) (bool, error) {
	n, err := q.execN(ctx, `DELETE FROM oidc_states WHERE state_hash = ? AND expires_at > ?`, hash, q.ts(t))
	if err != nil {
		return false, fmt.Errorf("take OIDC state: %w", err)
	}
	return n == 1, nil
}
