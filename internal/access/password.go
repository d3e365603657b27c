package access

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/berth-registry/berth/internal/errs"
)

// hashIterations is the PBKDF2-SHA256 work factor for new hashes. Stored
// hashes carry their own count, so raising it only affects new secrets.
const hashIterations = 120_000

// HashSecret returns a salted slow hash of secret.
func HashSecret(secret string) (string, error) {
	return hashWith(secret, hashIterations)
}

func hashWith(secret string, iter int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, secret, salt, iter, 32)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	enc := base64.RawStdEncoding
	return "pbkdf2_sha256$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// VerifySecret reports whether secret matches hash, comparing in constant
// time. A malformed or empty hash never matches.
func VerifySecret(hash, secret string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2_sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1000 || iter > 10_000_000 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 16 || len(want) != 32 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, secret, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// CheckPasswordPolicy enforces Harbor's rule for passwords and secrets:
// 8 to 128 characters with an upper-case letter, a lower-case letter and a
// digit.
func CheckPasswordPolicy(p string) error {
	if len(p) < 8 || len(p) > 128 {
		return errs.New(errs.Invalid, "", "the password must be 8 to 128 characters long")
	}
	var upper, lower, digit bool
	for _, r := range p {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return errs.New(errs.Invalid, "", "the password must contain at least one upper-case letter, one lower-case letter and one digit")
	}
	return nil
}

// NewSecret returns a random secret of 32 characters that meets the
// password policy.
func NewSecret() (string, error) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	for {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("random secret: %w", err)
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		if CheckPasswordPolicy(string(b)) == nil {
			return string(b), nil
		}
	}
}
