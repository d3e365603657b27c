package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// External identities: the link from a user to its account at an OIDC
// provider or LDAP directory, with the OIDC refresh token and CLI secret.

const identityCols = `user_id, source, issuer, subject, refresh_token, verified_at, cli_secret, cli_secret_hash,
	created_at, updated_at`

func scanIdentity(row interface{ Scan(...any) error }) (UserIdentity, error) {
	var id UserIdentity
	err := row.Scan(&id.UserID, &id.Source, &id.Issuer, &id.Subject, &id.RefreshToken, timeCol{&id.VerifiedAt},
		&id.CLISecret, &id.CLISecretHash, timeCol{&id.CreatedAt}, timeCol{&id.UpdatedAt})
	return id, err
}

func checkIdentity(id UserIdentity) error {
	switch {
	case id.Source != SourceOIDC && id.Source != SourceLDAP:
		return errs.New(errs.Invalid, "", "identity source %q is neither %q nor %q", id.Source, SourceOIDC, SourceLDAP)
	case id.Subject == "":
		return errs.New(errs.Invalid, "", "identity subject is empty")
	}
	return nil
}

// CreateExternalUser stores a new user and its identity together and
// returns the user. Conflict if the username or email is taken, or if
// the identity already belongs to a user; neither is stored then.
func (q *Q) CreateExternalUser(ctx context.Context, u User, id UserIdentity) (User, error) {
	if err := checkIdentity(id); err != nil {
		return User{}, err
	}
	err := q.atomic(ctx, func(q *Q) error {
		var err error
		if u, err = q.CreateUser(ctx, u); err != nil {
			return err
		}
		id.UserID = u.ID
		t := u.CreatedAt
		if id.VerifiedAt.IsZero() {
			id.VerifiedAt = t
		}
		res, err := q.exec(ctx, `INSERT INTO user_identities (user_id, source, issuer, subject, refresh_token,
			verified_at, cli_secret, cli_secret_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id.UserID, id.Source, id.Issuer, id.Subject, nonNil(id.RefreshToken), q.ts(id.VerifiedAt),
			nonNil(id.CLISecret), id.CLISecretHash, q.ts(t), q.ts(t))
		if err != nil {
			return fmt.Errorf("create identity of %s: %w", u.Username, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errs.New(errs.Conflict, "", "the %s identity %s is already linked to a user", id.Source, id.Subject)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// GetUserIdentity returns the external identity of user userID; NotFound
// for local users.
func (q *Q) GetUserIdentity(ctx context.Context, userID int64) (UserIdentity, error) {
	id, err := scanIdentity(q.queryRow(ctx, `SELECT `+identityCols+` FROM user_identities WHERE user_id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return UserIdentity{}, errs.New(errs.NotFound, "", "user %d has no external identity", userID)
	}
	if err != nil {
		return UserIdentity{}, fmt.Errorf("identity of user %d: %w", userID, err)
	}
	return id, nil
}

// FindUserByIdentity returns the user linked to source, issuer and
// subject, and its identity; NotFound when nobody is.
func (q *Q) FindUserByIdentity(ctx context.Context, source, issuer, subject string) (User, UserIdentity, error) {
	id, err := scanIdentity(q.queryRow(ctx, `SELECT `+identityCols+` FROM user_identities
		WHERE source = ? AND issuer = ? AND subject = ?`, source, issuer, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, UserIdentity{}, errs.New(errs.NotFound, "", "no user has the %s identity %s", source, subject)
	}
	if err != nil {
		return User{}, UserIdentity{}, fmt.Errorf("find %s identity %s: %w", source, subject, err)
	}
	u, err := q.GetUser(ctx, id.UserID)
	if err != nil {
		return User{}, UserIdentity{}, err
	}
	return u, id, nil
}

// UpdateIdentityVerified records that the provider vouched for the user at
// t, and stores refreshToken (sealed) unless it is nil, which keeps the
// stored one.
func (q *Q) UpdateIdentityVerified(ctx context.Context, userID int64, refreshToken []byte, t time.Time) error {
	var n int64
	var err error
	if refreshToken == nil {
		n, err = q.execN(ctx, `UPDATE user_identities SET verified_at = ?, updated_at = ? WHERE user_id = ?`,
			q.ts(t), q.ts(now()), userID)
	} else {
		n, err = q.execN(ctx, `UPDATE user_identities SET verified_at = ?, refresh_token = ?, updated_at = ?
			WHERE user_id = ?`, q.ts(t), refreshToken, q.ts(now()), userID)
	}
	if err != nil {
		return fmt.Errorf("update identity of user %d: %w", userID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "user %d has no external identity", userID)
	}
	return nil
}

// SetCLISecret stores the user's sealed CLI secret and its hash,
// replacing the old one; empty values revoke it.
func (q *Q) SetCLISecret(ctx context.Context, userID int64, sealed []byte, hash string) error {
	n, err := q.execN(ctx, `UPDATE user_identities SET cli_secret = ?, cli_secret_hash = ?, updated_at = ?
		WHERE user_id = ?`, nonNil(sealed), hash, q.ts(now()), userID)
	if err != nil {
		return fmt.Errorf("set CLI secret of user %d: %w", userID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "user %d has no external identity", userID)
	}
	return nil
}
