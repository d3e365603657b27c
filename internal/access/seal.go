package access

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Secrets that berth must be able to show or use again (a user's CLI
// secret, an OIDC refresh token, the OIDC client secret) are sealed with
// AES-256-GCM before they reach the database. The key is 32 random bytes
// created on first start and shared by every node through the settings
// table, unless the operator supplies one (WithSecretKey), which keeps it
// out of database dumps. Each sealed value is a version byte, a random
// 12-byte nonce and the ciphertext with its tag; the purpose of the value
// is the additional data, so a sealed refresh token cannot be passed off
// as a CLI secret.
//
// CLI secrets are also stored as an HMAC-SHA256 under the same key, which
// Basic authentication compares in constant time without decrypting:
// the secret is random and long, so a slow hash would add nothing that
// the key does not already give.

const secretKeySetting = "access.secret_key"

const sealVersion = 1

// WithSecretKey sets the key that seals stored secrets instead of the
// one kept in the database. It must be 32 bytes and the same on every
// node; changing it makes stored CLI secrets and refresh tokens unusable.
func WithSecretKey(key []byte) Option {
	return func(s *Service) { s.secretKey = append([]byte(nil), key...) }
}

// loadSecretKey sets s.secretKey: the configured key or the shared one.
func (s *Service) loadSecretKey(ctx context.Context) error {
	if s.secretKey != nil {
		if len(s.secretKey) != 32 {
			return fmt.Errorf("the secret key must be 32 bytes, got %d", len(s.secretKey))
		}
		return nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	stored, err := s.db.Q().PutSettingIfAbsent(ctx, secretKeySetting, key)
	if err != nil {
		return fmt.Errorf("load secret key: %w", err)
	}
	if len(stored) != 32 {
		return fmt.Errorf("the secret key in the database is %d bytes, want 32", len(stored))
	}
	s.secretKey = stored
	return nil
}

// Seal encrypts plain for storage; purpose names what it is.
func (s *Service) Seal(purpose string, plain []byte) ([]byte, error) {
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(out, out[1:], plain, []byte(purpose)), nil
}

// Unseal decrypts what Seal returned for the same purpose. An empty
// value unseals to nothing.
func (s *Service) Unseal(purpose string, sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("unseal: malformed value")
	}
	plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(purpose))
	if err != nil {
		return nil, errors.New("unseal: the value does not open with this key")
	}
	return plain, nil
}

func (s *Service) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.secretKey)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// secretMAC is the stored lookup form of a CLI secret.
func (s *Service) secretMAC(secret string) string {
	m := hmac.New(sha256.New, s.secretKey)
	m.Write([]byte("cli-secret\x00" + secret))
	return hex.EncodeToString(m.Sum(nil))
}

// macEqual compares two secretMAC values in constant time.
func macEqual(a, b string) bool {
	return a != "" && b != "" && hmac.Equal([]byte(a), []byte(b))
}
