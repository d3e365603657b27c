package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"time"
)

// Lifetimes of generated certificates. A server certificate stays within
// the 398 days that browsers and Apple platforms accept, and is renewed
// well before it ends.
const (
	caLifetime     = 10 * 365 * 24 * time.Hour
	serverLifetime = 365 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
	// backdate covers clocks of clients that run a little behind.
	backdate = time.Hour
)

// newCA makes a private certificate authority that can sign only end
// entity certificates (path length zero).
func newCA(now time.Time) (*pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	name := "berth registry CA"
	if h, err := os.Hostname(); err == nil && h != "" {
		name += " (" + h + ")"
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"berth"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	raw, err := encodePair([][]byte{der}, key)
	if err != nil {
		return nil, err
	}
	return decodePair(raw)
}

// newServer makes a server certificate for hosts, signed by ca. It ends
// no later than ca does.
func newServer(ca *pair, hosts *hostSet, now time.Time) (*pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	cn := "berth"
	if len(hosts.names) > 0 {
		cn = hosts.names[0]
	}
	notAfter := now.Add(serverLifetime)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"berth"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     hosts.names,
		IPAddresses:  hosts.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}
	// The chain carries only the leaf: clients must trust the CA itself,
	// and sending it along would not change that.
	raw, err := encodePair([][]byte{der}, key)
	if err != nil {
		return nil, err
	}
	return decodePair(raw)
}

// serial returns a random 128-bit serial number, as RFC 5280 suggests
// for certificates that are not otherwise tracked.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n.Add(n, big.NewInt(1)) // never zero
}
