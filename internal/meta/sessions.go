package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// UI sessions are looked up by the hash of the cookie's token, so a copy
// of the database does not hand out live sessions. An expired session is
// as good as absent; DeleteExpiredSessions clears them away.

// CreateSession stores s. A zero CreatedAt means now; ExpiresAt is
// required. NotFound if the user does not exist, Conflict if the token
// hash is already stored.
func (q *Q) CreateSession(ctx context.Context, s Session) error {
	if s.TokenHash == "" {
		return errs.New(errs.Invalid, "", "session token hash is empty")
	}
	if s.ExpiresAt.IsZero() {
		return errs.New(errs.Invalid, "", "session has no expiry")
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	n, err := q.execN(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		s.TokenHash, s.UserID, s.CSRFToken, q.ts(s.CreatedAt), q.ts(s.ExpiresAt))
	if isFKViolation(err) {
		return errs.Wrap(errs.NotFound, err, "user %d not found", s.UserID)
	}
	if err != nil {
		return fmt.Errorf("create session for user %d: %w", s.UserID, err)
	}
	if n == 0 {
		return errs.New(errs.Conflict, "", "session already exists")
	}
	return nil
}

// GetSession returns the unexpired session stored under tokenHash.
func (q *Q) GetSession(ctx context.Context, tokenHash string) (Session, error) {
	s := Session{TokenHash: tokenHash}
	err := q.queryRow(ctx, `SELECT user_id, csrf_token, created_at, expires_at FROM sessions
		WHERE token_hash = ? AND expires_at > ?`, tokenHash, q.ts(now())).
		Scan(&s.UserID, &s.CSRFToken, timeCol{&s.CreatedAt}, timeCol{&s.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		// The hash is a secret's stand-in: keep it out of messages.
		return Session{}, errs.New(errs.NotFound, "", "session not found or expired")
	}
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// DeleteSession deletes the session stored under tokenHash, expired or
// not; NotFound if there is none.
func (q *Q) DeleteSession(ctx context.Context, tokenHash string) error {
	n, err := q.execN(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "session not found")
	}
	return nil
}

// DeleteUserSessions deletes every session of the user (logging it out
// everywhere, e.g. after a password change); none is not an error.
func (q *Q) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions that expired at or before t
// (normally now) and returns how many it deleted.
func (q *Q) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	n, err := q.execN(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, q.ts(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}
