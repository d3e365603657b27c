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
	"errors"
	"fmt"
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

// envelope is a Notation signature envelope, JWS or COSE, parsed.
type envelope struct {
	alg         string // JWS names: PS256 … ES512
	cty         string
	crit        []string
	scheme      string
	signingTime time.Time
	authentic   time.Time
	expiry      time.Time // zero when none
	chain       [][]byte  // DER, leaf first
	payload     []byte
	signedInput []byte // what the signature is over
	sig         []byte
}

// inspectNotation reads a Notation signature envelope (JWS or COSE) and
// verifies it as the Notary Project specification says: integrity with
// the leaf certificate, the payload is about the subject, the chain leads
// to a trusted root at signing time, not expired.
func inspectNotation(s Signature, cl class, load func(oci.Descriptor) ([]byte, error), trust Trust) Signature {
	if len(cl.m.Layers) != 1 {
		return problem(s, "a Notation signature has exactly one layer, not %d", len(cl.m.Layers))
	}
	l := cl.m.Layers[0]
	var parse func([]byte) (envelope, error)
	switch l.MediaType {
	case TypeJWS:
		parse = parseJWS
	case TypeCOSE:
		parse = parseCOSE
	default:
		return problem(s, "unknown signature envelope %q", truncate(l.MediaType))
	}
	raw, err := load(l)
	if err != nil {
		return problem(s, "read envelope: %v", err)
	}
	env, err := parse(raw)
	if err != nil {
		return problem(s, "%v", err)
	}
	if env.scheme == notarySchemeAuthority {
		s.SignedAt = env.authentic
	} else {
		s.SignedAt = env.signingTime
	}
	if s.SignedAt.IsZero() {
		return problem(s, "the protected header has no valid signing time")
	}
	if len(env.chain) == 0 {
		return problem(s, "the envelope has no certificate chain")
	}
	var chain []*x509.Certificate
	for _, der := range env.chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return problem(s, "the certificate chain does not parse: %v", err)
		}
		chain = append(chain, c)
	}
	leaf := chain[0]
	s.Signer = leaf.Subject.String()

	var pl notationPayload
	if err := json.Unmarshal(env.payload, &pl); err != nil {
		return problem(s, "the payload is not a Notation payload")
	}
	s.Subject = pl.TargetArtifact.Digest
	if s.Subject != cl.subject {
		return problem(s, "signs %q, not the subject %s", truncate(string(s.Subject)), cl.subject)
	}
	if cl.m.Subject != nil && cl.m.Subject.Size != pl.TargetArtifact.Size {
		return problem(s, "the signed size %d is not the subject's %d", pl.TargetArtifact.Size, cl.m.Subject.Size)
	}
	if p := checkHeader(env); p != "" {
		return problem(s, "%s", p)
	}
	if !verifyJWS(env.alg, leaf.PublicKey, env.signedInput, env.sig) {
		return problem(s, "the signature does not verify with its certificate (alg %s)", truncate(env.alg))
	}
	if !env.expiry.IsZero() && time.Now().After(env.expiry) {
		return problem(s, "the signature expired at %s", env.expiry.UTC().Format(time.RFC3339))
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

// parseJWS reads a JWS envelope in JSON serialization.
func parseJWS(raw []byte) (envelope, error) {
	var j jws
	if err := json.Unmarshal(raw, &j); err != nil || !isJSONObject(raw) {
		return envelope{}, errors.New("the envelope is not a JWS in JSON serialization")
	}
	ph, err := base64.RawURLEncoding.DecodeString(j.Protected)
	if err != nil {
		return envelope{}, errors.New("the protected header is not base64url")
	}
	var hdr jwsProtected
	if err := json.Unmarshal(ph, &hdr); err != nil {
		return envelope{}, errors.New("the protected header is not JSON")
	}
	payload, err := base64.RawURLEncoding.DecodeString(j.Payload)
	if err != nil {
		return envelope{}, errors.New("the payload is not base64url")
	}
	sig, err := base64.RawURLEncoding.DecodeString(j.Signature)
	if err != nil {
		return envelope{}, errors.New("the signature is not base64url")
	}
	env := envelope{alg: hdr.Alg, cty: hdr.Cty, crit: hdr.Crit, scheme: hdr.SigningScheme, chain: j.Header.X5C,
		payload: payload, signedInput: []byte(j.Protected + "." + j.Payload), sig: sig}
	env.signingTime, _ = time.Parse(time.RFC3339, hdr.SigningTime)
	env.authentic, _ = time.Parse(time.RFC3339, hdr.AuthenticTime)
	if hdr.Expiry != "" {
		if env.expiry, err = time.Parse(time.RFC3339, hdr.Expiry); err != nil {
			return envelope{}, errors.New("the expiry is not a time")
		}
	}
	return env, nil
}

// coseAlgs maps COSE algorithm ids to the JWS names verifyJWS knows.
var coseAlgs = map[int64]string{-7: "ES256", -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512"}

// parseCOSE reads a COSE_Sign1 envelope (RFC 9052) as Notation writes it.
func parseCOSE(raw []byte) (envelope, error) {
	v, err := decodeCBOR(raw)
	if err != nil {
		return envelope{}, fmt.Errorf("the COSE envelope: %v", err)
	}
	if t, ok := v.(cborTag); ok {
		if t.Number != 18 {
			return envelope{}, fmt.Errorf("the COSE envelope has tag %d, not COSE_Sign1 (18)", t.Number)
		}
		v = t.Value
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 4 {
		return envelope{}, errors.New("the COSE envelope is not a COSE_Sign1 array")
	}
	protected, ok1 := arr[0].([]byte)
	unprotected, ok2 := arr[1].(map[any]any)
	payload, ok3 := arr[2].([]byte)
	sig, ok4 := arr[3].([]byte)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return envelope{}, errors.New("the COSE_Sign1 fields have the wrong types")
	}
	pv, err := decodeCBOR(protected)
	if err != nil {
		return envelope{}, fmt.Errorf("the COSE protected header: %v", err)
	}
	ph, ok := pv.(map[any]any)
	if !ok {
		return envelope{}, errors.New("the COSE protected header is not a map")
	}
	env := envelope{payload: payload, sig: sig, signedInput: coseSigStructure(protected, payload)}
	if a, ok := ph[int64(1)].(int64); ok {
		env.alg = coseAlgs[a]
	}
	env.cty, _ = ph[int64(3)].(string)
	if crit, ok := ph[int64(2)].([]any); ok {
		for _, c := range crit {
			env.crit = append(env.crit, fmt.Sprint(c))
		}
	}
	env.scheme, _ = ph[notarySigningScheme].(string)
	env.signingTime = coseTime(ph[notarySigningTime])
	env.authentic = coseTime(ph[notaryAuthenticTime])
	if e, ok := ph[notaryExpiry]; ok {
		if env.expiry = coseTime(e); env.expiry.IsZero() {
			return envelope{}, errors.New("the expiry is not a time")
		}
	}
	switch x := unprotected[int64(33)].(type) { // x5chain
	case []byte:
		env.chain = [][]byte{x}
	case []any:
		for _, c := range x {
			der, ok := c.([]byte)
			if !ok {
				return envelope{}, errors.New("the x5chain holds a non-certificate")
			}
			env.chain = append(env.chain, der)
		}
	}
	return env, nil
}

// coseTime reads a CBOR epoch time (tag 1), zero otherwise.
func coseTime(v any) time.Time {
	t, ok := v.(cborTag)
	if !ok || t.Number != 1 {
		return time.Time{}
	}
	switch n := t.Value.(type) {
	case uint64:
		return time.Unix(int64(n), 0).UTC()
	case int64:
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}

// checkHeader applies the spec's rules on the protected header.
func checkHeader(h envelope) string {
	if h.cty != TypeNotationPayload {
		return "the content type is not " + TypeNotationPayload
	}
	if h.scheme != notarySchemeX509 && h.scheme != notarySchemeAuthority {
		return "unknown signing scheme " + truncate(h.scheme)
	}
	critical := map[string]bool{notarySigningScheme: true, notaryExpiry: true, notaryAuthenticTime: true}
	for _, c := range h.crit {
		if !critical[c] {
			return "unknown critical header " + truncate(c)
		}
	}
	if !slices.Contains(h.crit, notarySigningScheme) {
		return "the signing scheme is not marked critical"
	}
	if !h.expiry.IsZero() && !slices.Contains(h.crit, notaryExpiry) {
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
