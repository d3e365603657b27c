package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
)

// Key is a cosign public key a project trusts.
type Key struct {
	Name        string
	Public      crypto.PublicKey
	Fingerprint string // "SHA256:<hex>" of the DER SubjectPublicKeyInfo
}

// Root is a Notation trust-store certificate (a root CA, or a signing
// authority) a project trusts.
type Root struct {
	Name        string
	Cert        *x509.Certificate
	Fingerprint string // "SHA256:<hex>" of the DER certificate
}

// Trust is what signatures are verified against. An empty list for a
// format means nothing of that format can verify.
type Trust struct {
	CosignKeys    []Key
	NotationRoots []Root
}

// maxPEM bounds one configured key or certificate.
const maxPEM = 64 << 10

// ParseKey parses a PEM public key (ECDSA, Ed25519 or RSA of at least
// 2048 bits), as `cosign generate-key-pair` writes cosign.pub.
func ParseKey(name, pemText string) (Key, error) {
	if len(pemText) > maxPEM {
		return Key{}, fmt.Errorf("key %q: longer than %d bytes", name, maxPEM)
	}
	// pem.Decode skips text before the block; a key is the block alone.
	b, rest := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if b == nil || b.Type != "PUBLIC KEY" || len(strings.TrimSpace(string(rest))) > 0 ||
		!strings.HasPrefix(strings.TrimSpace(pemText), "-----BEGIN") {
		return Key{}, fmt.Errorf(`key %q: want one PEM block "PUBLIC KEY"`, name)
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("key %q: %v", name, err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return Key{}, fmt.Errorf("key %q: RSA keys need at least 2048 bits", name)
		}
	default:
		return Key{}, fmt.Errorf("key %q: unsupported key type %T", name, pub)
	}
	sum := sha256.Sum256(b.Bytes)
	return Key{Name: name, Public: pub, Fingerprint: "SHA256:" + hex.EncodeToString(sum[:])}, nil
}

// ParseRoot parses a PEM CA certificate for the Notation trust store.
// Like Notation's trust store, it takes CA certificates only.
func ParseRoot(name, pemText string) (Root, error) {
	if len(pemText) > maxPEM {
		return Root{}, fmt.Errorf("certificate %q: longer than %d bytes", name, maxPEM)
	}
	b, rest := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if b == nil || b.Type != "CERTIFICATE" || !strings.HasPrefix(strings.TrimSpace(pemText), "-----BEGIN") {
		return Root{}, fmt.Errorf(`certificate %q: want one PEM block "CERTIFICATE"`, name)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return Root{}, fmt.Errorf("certificate %q: one certificate per entry", name)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return Root{}, fmt.Errorf("certificate %q: %v", name, err)
	}
	if !c.IsCA {
		return Root{}, fmt.Errorf("certificate %q: not a CA certificate", name)
	}
	sum := sha256.Sum256(c.Raw)
	return Root{Name: name, Cert: c, Fingerprint: "SHA256:" + hex.EncodeToString(sum[:])}, nil
}
