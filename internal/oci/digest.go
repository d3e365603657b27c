// Package oci holds the pure parts of the OCI distribution and image specs
// that berth relies on: digests, the repository name and reference grammar,
// media types, manifest parsing and HTTP range syntax. It does no I/O and
// must never import storage or HTTP packages.
package oci

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Digest is a validated content digest such as "sha256:ab12…".
type Digest string

// Algorithms berth accepts, with the length of their hex encoding.
const (
	SHA256 = "sha256"
	SHA512 = "sha512"
)

var hexLen = map[string]int{SHA256: 64, SHA512: 128}

// ParseDigest validates s and returns it as a Digest. Only sha256 and
// sha512 with lower-case hex of the right length are accepted: anything
// else is rejected early so that a digest can be used safely in a path.
func ParseDigest(s string) (Digest, error) {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("digest %q: missing algorithm", trunc(s))
	}
	n, known := hexLen[alg]
	if !known {
		return "", fmt.Errorf("digest %q: unsupported algorithm", trunc(s))
	}
	if len(enc) != n {
		return "", fmt.Errorf("digest %q: %s needs %d hex characters", trunc(s), alg, n)
	}
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("digest %q: invalid hex", trunc(s))
		}
	}
	return Digest(s), nil
}

// Algorithm returns the part before the colon.
func (d Digest) Algorithm() string { a, _, _ := strings.Cut(string(d), ":"); return a }

// Hex returns the part after the colon.
func (d Digest) Hex() string { _, h, _ := strings.Cut(string(d), ":"); return h }

func (d Digest) String() string { return string(d) }

// FromBytes returns the sha256 digest of b.
func FromBytes(b []byte) Digest {
	s := sha256.Sum256(b)
	return Digest(SHA256 + ":" + hex.EncodeToString(s[:]))
}

// FromBytesAlg returns the digest of b with algorithm alg.
func FromBytesAlg(alg string, b []byte) (Digest, error) {
	h, err := NewHash(alg)
	if err != nil {
		return "", err
	}
	h.Write(b)
	return DigestOf(alg, h), nil
}

// NewHash returns a fresh hash for alg. Its state can be saved with
// MarshalBinary and restored with RestoreHash, so uploads can resume.
func NewHash(alg string) (hash.Hash, error) {
	switch alg {
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported digest algorithm %q", trunc(alg))
}

// DigestOf returns the digest for the current sum of h.
func DigestOf(alg string, h hash.Hash) Digest {
	return Digest(alg + ":" + hex.EncodeToString(h.Sum(nil)))
}

// HashState returns the marshalled state of h.
func HashState(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, fmt.Errorf("hash state cannot be saved")
	}
	return m.MarshalBinary()
}

// RestoreHash returns a hash for alg restored from state (nil state: fresh).
func RestoreHash(alg string, state []byte) (hash.Hash, error) {
	h, err := NewHash(alg)
	if err != nil || len(state) == 0 {
		return h, err
	}
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, fmt.Errorf("hash state cannot be restored")
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("restore %s state: %w", alg, err)
	}
	return h, nil
}

// trunc keeps hostile input short in error messages.
func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
