package access

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// CLI secrets: an OIDC user cannot sign in to docker or an API client
// through the browser, so it has one secret, shown in its profile, that
// works as its password on the command line. Unlike Harbor's, it does not
// lapse with the provider's session: it stays valid until it is replaced,
// revoked or the user is disabled, and the provider is asked again at
// most every recheckInterval whether the user is still allowed in (a
// refresh with the stored refresh token), so a user the provider disables
// loses access within minutes.

// Purposes of sealed values (additional data of the AEAD).
const (
	purposeCLISecret    = "cli-secret"
	purposeRefreshToken = "oidc-refresh-token"
)

const secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newCLISecret returns 32 random letters and digits (190 bits).
func newCLISecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("CLI secret: %w", err)
	}
	// 256 is not a multiple of 62; rejection keeps every letter equally
	// likely.
	out := make([]byte, 0, 32)
	for len(out) < 32 {
		for _, c := range b {
			if int(c) < 248 && len(out) < 32 { // 248 = 4*62
				out = append(out, secretAlphabet[int(c)%len(secretAlphabet)])
			}
		}
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("CLI secret: %w", err)
		}
	}
	return string(out), nil
}

// UserCLISecret returns user id's CLI secret to itself (the profile);
// ok is false for users without an OIDC identity.
func (s *Service) UserCLISecret(ctx context.Context, p Principal, id int64) (secret string, ident meta.UserIdentity, ok bool, err error) {
	if !isSelf(p, id) {
		return "", meta.UserIdentity{}, false, nil // only its owner sees a secret
	}
	ident, ext, err := s.externalSource(ctx, id)
	if err != nil || !ext || ident.Source != meta.SourceOIDC {
		return "", meta.UserIdentity{}, false, err
	}
	plain, err := s.Unseal(purposeCLISecret, ident.CLISecret)
	if err != nil {
		s.log.Warn("CLI secret cannot be unsealed", "user_id", id, "err", err)
		return "", ident, true, nil
	}
	return string(plain), ident, true, nil
}

// SetCLISecret replaces user id's CLI secret with secret, or a generated
// one when secret is "", and returns it; the old one stops working at
// once. The user itself or a system administrator may; only in oidc_auth
// mode and for OIDC users (412 otherwise, as in Harbor).
func (s *Service) SetCLISecret(ctx context.Context, p Principal, source string, id int64, secret string) (string, error) {
	u, ident, err := s.cliSecretUser(ctx, p, id)
	if err != nil {
		return "", err
	}
	if secret == "" {
		if secret, err = newCLISecret(); err != nil {
			return "", err
		}
	} else if err := checkCLISecret(secret); err != nil {
		return "", err
	}
	sealed, err := s.Seal(purposeCLISecret, []byte(secret))
	if err != nil {
		return "", err
	}
	if err := s.db.Q().SetCLISecret(ctx, ident.UserID, sealed, s.secretMAC(secret)); err != nil {
		return "", err
	}
	s.auditUser(ctx, p, source, u, "update", "CLI secret replaced")
	return secret, nil
}

// RevokeCLISecret removes user id's CLI secret: the command line is shut
// for the user until a new one is generated. The user itself or a system
// administrator may.
func (s *Service) RevokeCLISecret(ctx context.Context, p Principal, source string, id int64) error {
	u, ident, err := s.cliSecretUser(ctx, p, id)
	if err != nil {
		return err
	}
	if err := s.db.Q().SetCLISecret(ctx, ident.UserID, nil, ""); err != nil {
		return err
	}
	s.auditUser(ctx, p, source, u, "update", "CLI secret revoked")
	return nil
}

func (s *Service) cliSecretUser(ctx context.Context, p Principal, id int64) (meta.User, meta.UserIdentity, error) {
	u, err := s.userFor(ctx, p, id, ActUpdate)
	if err != nil {
		return meta.User{}, meta.UserIdentity{}, err
	}
	if mode := s.AuthMode(ctx); mode != AuthOIDC {
		return meta.User{}, meta.UserIdentity{}, errs.New(errs.Conflict, "PRECONDITION",
			"CLI secrets exist only in oidc_auth mode (the auth mode is %s)", mode)
	}
	ident, ext, err := s.externalSource(ctx, id)
	if err != nil {
		return meta.User{}, meta.UserIdentity{}, err
	}
	if !ext || ident.Source != meta.SourceOIDC {
		return meta.User{}, meta.UserIdentity{}, errs.New(errs.Conflict, "PRECONDITION",
			"user %s was not onboarded through OIDC and has no CLI secret", u.Username)
	}
	return u, ident, nil
}

// checkCLISecret applies Harbor's rule to a chosen secret: 8 to 128
// characters with a lower-case letter, an upper-case letter and a digit.
func checkCLISecret(secret string) error {
	var lowerc, upper, digit bool
	for _, r := range secret {
		switch {
		case r >= 'a' && r <= 'z':
			lowerc = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		}
	}
	if len(secret) < 8 || len(secret) > 128 || !lowerc || !upper || !digit || !plainText(secret) {
		return errs.New(errs.Invalid, "", "the secret must be 8 to 128 characters with at least one lower-case letter, one upper-case letter and one digit")
	}
	return nil
}

// verifyCLISecret checks secret against u's stored CLI secret and asks
// the provider about u when due. It returns a reason for refusal, "" when
// u may go on.
func (s *Service) verifyCLISecret(ctx context.Context, u *meta.User, ident meta.UserIdentity, secret string) (string, error) {
	if !macEqual(s.secretMAC(secret), ident.CLISecretHash) {
		return "wrong CLI secret", nil
	}
	if u.Disabled {
		return "the account is disabled", nil
	}
	return s.recheck(ctx, u, ident)
}
