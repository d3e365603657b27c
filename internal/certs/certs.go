// Package certs owns berth's TLS certificates: the private CA and server
// certificate that berth makes for itself at first start (Manager), a
// certificate and key that the operator provides as files (FileSource),
// and the TLS settings the listener uses (ServerConfig). It keeps key
// material in a Store given by the caller and never touches the network
// or HTTP handlers.
package certs

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// Store keeps named byte strings that every berth node sees alike; the
// metadata store (*meta.Q) is one. GetSetting returns an error of kind
// errs.NotFound for a missing key. PutSettingIfAbsent and SwapSetting
// return the value stored after the call, so that nodes racing to set a
// key converge on the first value written.
type Store interface {
	GetSetting(ctx context.Context, key string) ([]byte, error)
	PutSettingIfAbsent(ctx context.Context, key string, val []byte) ([]byte, error)
	SwapSetting(ctx context.Context, key string, old, val []byte) ([]byte, error)
}

// Keys of the generated certificates in the Store. Each value holds a
// certificate and its private key together (PEM), so that a pair is
// written, and replaced, in one step.
const (
	KeyCA     = "tls.ca"
	KeyServer = "tls.server"
)

// ServerConfig returns the TLS settings of berth's listener: TLS 1.2 or
// newer, forward-secret AEAD cipher suites only (TLS 1.3 suites are not
// configurable and all qualify), HTTP/2 offered before HTTP/1.1, and the
// certificate taken from get at every handshake so that it can change
// without a restart.
func ServerConfig(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: get,
	}
}

// Fingerprint is the SHA-256 of a certificate's DER bytes in hex, the
// form `openssl x509 -fingerprint -sha256` shows (without colons).
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// pair is a certificate chain (leaf first) and its private key as kept
// in the Store.
type pair struct {
	raw  []byte // the stored value, to compare and swap
	cert *x509.Certificate
	key  crypto.Signer
	tls  *tls.Certificate
}

// encodePair is the stored form: the certificates, then the key (PKCS #8).
func encodePair(chain [][]byte, key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	var out []byte
	for _, c := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...), nil
}

// decodePair parses a stored value and checks that key and certificate
// belong together.
func decodePair(raw []byte) (*pair, error) {
	var certPEM, keyPEM []byte
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			certPEM = append(certPEM, pem.EncodeToMemory(b)...)
		case "PRIVATE KEY":
			keyPEM = pem.EncodeToMemory(b)
		}
	}
	if certPEM == nil || keyPEM == nil {
		return nil, errors.New("want a PEM certificate and private key")
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	signer, ok := tc.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", tc.PrivateKey)
	}
	return &pair{raw: raw, cert: tc.Leaf, key: signer, tls: &tc}, nil
}

// certPEM returns the PEM of the first certificate of p.
func (p *pair) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
}
