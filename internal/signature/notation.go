package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// Notation protected header names.
const (
	notarySigningScheme   = "io.cncf.notary.signingScheme"
	notarySigningTime     = "io.cncf.notary.signingTime"
	notaryAuthenticTime   = "io.cncf.notary.authenticSigningTime"
	notaryExpiry          = "io.cncf.notary.expiry"
	notarySchemeX509      = "notary.x509"
	notarySchemeAuthority = "notary.x509.signingAuthority"
)

// jws is a JWS in JSON serialization, as Notation stores it.
type jws struct {
	Payload   string `json:"payload"`
	Protected string `json:"protected"`
	Header    struct {
		X5C [][]byte `json:"x5c"`
	} `json:"header"`
	Signature string `json:"signature"`
}

type jwsProtected struct {
	Alg           string   `json:"alg"`
	Cty           string   `json:"cty"`
	Crit          []string `json:"crit"`
	SigningScheme string   `json:"io.cncf.notary.signingScheme"`
	SigningTime   string   `json:"io.cncf.notary.signingTime"`
	AuthenticTime string   `json:"io.cncf.notary.authenticSigningTime"`
	Expiry        string   `json:"io.cncf.notary.expiry"`
}

// notationPayload is the signed payload: the descriptor of the subject.
type notationPayload struct {
	TargetArtifact oci.Descriptor `json:"targetArtifact"`
}

// inspectNotation reads a Notation signature envelope. JWS envelopes are
// verified as the Notary Project specification says: integrity with the
// leaf certificate, the payload is about the subject, the chain leads to
// a trusted root at signing time, not expired. COSE envelopes are
// recognised but not verified.
func inspectNotation(s Signature, cl class, load func(oci.Descriptor) ([]byte, error), trust Trust) Signature {
	if len(cl.m.Layers) != 1 {
		return problem(s, "a Notation signature has exactly one layer, not %d", len(cl.m.Layers))
	}
	l := cl.m.Layers[0]
	switch l.MediaType {
	case TypeJWS:
	case TypeCOSE:
		s.Subject = cl.subject // unchecked: COSE_Sign1 is not parsed
		return problem(s, "COSE signature envelopes are recognised but not verified by berth")
	default:
		return problem(s, "unknown signature envelope %q", truncate(l.MediaType))
	}
	raw, err := load(l)
	if err != nil {
		return problem(s, "read envelope: %v", err)
	}
	var env jws
	if err := json.Unmarshal(raw, &env); err != nil || !isJSONObject(raw) {
		return problem(s, "the envelope is not a JWS in JSON serialization")
	}
	ph, err := base64.RawURLEncoding.DecodeString(env.Protected)
	if err != nil {
		return problem(s, "the protected header is not base64url")
	}
	var hdr jwsProtected
	if err := json.Unmarshal(ph, &hdr); err != nil {
		return problem(s, "the protected header is not JSON")
	}
	signingTime := hdr.SigningTime
	if hdr.SigningScheme == notarySchemeAuthority {
		signingTime = hdr.AuthenticTime
	}
	if t, err := time.Parse(time.RFC3339, signingTime); err == nil {
		s.SignedAt = t.UTC()
	} else {
		return problem(s, "the protected header has no valid signing time")
	}
	if len(env.Header.X5C) == 0 {
		return problem(s, "the envelope has no certificate chain (x5c)")
	}
	var chain []*x509.Certificate
	for _, der := range env.Header.X5C {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return problem(s, "the certificate chain does not parse: %v", err)
		}
		chain = append(chain, c)
	}
	leaf := chain[0]
	s.Signer = leaf.Subject.String()

	body, err := base64.RawURLEncoding.DecodeString(env.Payload)
	if err != nil {
		return problem(s, "the payload is not base64url")
	}
	var pl notationPayload
	if err := json.Unmarshal(body, &pl); err != nil {
		return problem(s, "the payload is not a Notation payload")
	}
	s.Subject = pl.TargetArtifact.Digest
	if s.Subject != cl.subject {
		return problem(s, "signs %q, not the subject %s", truncate(string(s.Subject)), cl.subject)
	}
	if cl.m.Subject != nil && cl.m.Subject.Size != pl.TargetArtifact.Size {
		return problem(s, "the signed size %d is not the subject's %d", pl.TargetArtifact.Size, cl.m.Subject.Size)
	}
	if p := checkHeader(hdr); p != "" {
		return problem(s, "%s", p)
	}
	sig, err := base64.RawURLEncoding.DecodeString(env.Signature)
	if err != nil {
		return problem(s, "the signature is not base64url")
	}
	if !verifyJWS(hdr.Alg, leaf.PublicKey, []byte(env.Protected+"."+env.Payload), sig) {
		return problem(s, "the signature does not verify with its certificate (alg %s)", truncate(hdr.Alg))
	}
	if hdr.Expiry != "" {
		exp, err := time.Parse(time.RFC3339, hdr.Expiry)
		if err != nil {
			return problem(s, "the expiry is not a time")
		}
		if time.Now().After(exp) {
			return problem(s, "the signature expired at %s", exp.UTC().Format(time.RFC3339))
		}
	}
	if len(trust.NotationRoots) == 0 {
		return s
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return problem(s, "the signing certificate may not sign (key usage)")
	}
	roots := x509.NewCertPool()
	for _, r := range trust.NotationRoots {
		roots.AddCert(r.Cert)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	paths, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: s.SignedAt,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
	if err != nil {
		return problem(s, "the certificate chain does not lead to a trusted root at signing time: %v", err)
	}
	top := paths[0][len(paths[0])-1]
	for _, r := range trust.NotationRoots {
		if r.Cert.Equal(top) {
			s.Verified, s.TrustedBy = true, r.Name
		}
	}
	return s
}

// checkHeader applies the spec's rules on the protected header.
func checkHeader(h jwsProtected) string {
	if h.Cty != TypeNotationPayload {
		return "the content type is not " + TypeNotationPayload
	}
	if h.SigningScheme != notarySchemeX509 && h.SigningScheme != notarySchemeAuthority {
		return "unknown signing scheme " + truncate(h.SigningScheme)
	}
	critical := map[string]bool{notarySigningScheme: true, notaryExpiry: true, notaryAuthenticTime: true}
	for _, c := range h.Crit {
		if !critical[c] {
			return "unknown critical header " + truncate(c)
		}
	}
	if !slices.Contains(h.Crit, notarySigningScheme) {
		return "the signing scheme is not marked critical"
	}
	if h.Expiry != "" && !slices.Contains(h.Crit, notaryExpiry) {
		return "the expiry is not marked critical"
	}
	return ""
}

// verifyJWS checks a JWS signature with the algorithms Notation allows.
func verifyJWS(alg string, pub crypto.PublicKey, input, sig []byte) bool {
	hashOf := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA256:
			s := sha256.Sum256(input)
			return s[:]
		case crypto.SHA384:
			s := sha512.Sum384(input)
			return s[:]
		}
		s := sha512.Sum512(input)
		return s[:]
	}
	switch alg {
	case "PS256", "PS384", "PS512":
		h := map[string]crypto.Hash{"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512}[alg]
		k, ok := pub.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(k, h, hashOf(h), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case "ES256", "ES384", "ES512":
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		h := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[alg]
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != want {
			return false
		}
		n := (want.Params().BitSize + 7) / 8
		if len(sig) != 2*n { // JWS: r || s, fixed width
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(k, hashOf(h), r, s)
	}
	return false
}
