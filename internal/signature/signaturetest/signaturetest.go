// Package signaturetest builds signatures the way cosign and Notation
// store them, for tests: a test CA chain, Notation JWS envelopes built
// from the Notary Project specification, cosign simple-signing layers and
// Sigstore bundles. It is for tests only.
package signaturetest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// CA is a test certificate chain: a root, an intermediate and a leaf
// that may sign code, each with an ECDSA P-256 key.
type CA struct {
	Root, Intermediate, Leaf *x509.Certificate
	LeafKey                  *ecdsa.PrivateKey
}

// NewCA makes a chain whose certificates are valid from an hour ago for a
// day; subject is the leaf's common name.
func NewCA(subject string) (*CA, error) {
	now := time.Now()
	mk := func(cn string, parent *x509.Certificate, parentKey crypto.Signer, ca bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{
			SerialNumber: serial,
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"berth test"}},
			NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			BasicConstraintsValid: true, IsCA: ca,
		}
		if ca {
			tmpl.KeyUsage = x509.KeyUsageCertSign
		} else {
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
		}
		signer := crypto.Signer(key)
		if parent == nil {
			parent = tmpl
		} else {
			signer = parentKey
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			return nil, nil, err
		}
		c, err := x509.ParseCertificate(der)
		return c, key, err
	}
	root, rootKey, err := mk("berth test root", nil, nil, true)
	if err != nil {
		return nil, err
	}
	inter, interKey, err := mk("berth test intermediate", root, rootKey, true)
	if err != nil {
		return nil, err
	}
	leaf, leafKey, err := mk(subject, inter, interKey, false)
	if err != nil {
		return nil, err
	}
	return &CA{Root: root, Intermediate: inter, Leaf: leaf, LeafKey: leafKey}, nil
}

// RootPEM is the root certificate in PEM, as a trust store holds it.
func (ca *CA) RootPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}))
}

// Blob is content with its descriptor.
type Blob struct {
	Desc    oci.Descriptor
	Content []byte
}

// NewBlob describes content of media type mt.
func NewBlob(mt string, content []byte) Blob {
	return Blob{Desc: oci.Descriptor{MediaType: mt, Digest: oci.FromBytes(content), Size: int64(len(content))}, Content: content}
}

// Empty is the OCI empty JSON config.
func Empty() Blob { return NewBlob(oci.MediaTypeEmptyJSON, []byte("{}")) }

// Manifest is an OCI image manifest with its blobs.
type Manifest struct {
	Content []byte
	Digest  oci.Digest
	Blobs   []Blob // config first
}

// Desc is the manifest's descriptor.
func (m Manifest) Desc() oci.Descriptor {
	return oci.Descriptor{MediaType: oci.MediaTypeImageManifest, Digest: m.Digest, Size: int64(len(m.Content))}
}

// NewManifest builds an image manifest; subject may be nil.
func NewManifest(artifactType string, config Blob, layers []Blob, subject *oci.Descriptor, annotations map[string]string) Manifest {
	ls := make([]oci.Descriptor, len(layers))
	for i, l := range layers {
		ls[i] = l.Desc
	}
	doc := map[string]any{"schemaVersion": 2, "mediaType": oci.MediaTypeImageManifest, "config": config.Desc, "layers": ls}
	if artifactType != "" {
		doc["artifactType"] = artifactType
	}
	if subject != nil {
		doc["subject"] = subject
	}
	if len(annotations) > 0 {
		doc["annotations"] = annotations
	}
	b, _ := json.Marshal(doc)
	return Manifest{Content: b, Digest: oci.FromBytes(b), Blobs: append([]Blob{config}, layers...)}
}

// NotationOptions vary a Notation signature for negative tests.
type NotationOptions struct {
	SigningTime time.Time       // default now
	Target      *oci.Descriptor // what the payload claims (default the subject)
	Tamper      bool            // flip a bit of the signature
	COSE        bool            // a COSE_Sign1 envelope instead of JWS
}

// Notation builds a Notation signature of subject: a JWS (or COSE_Sign1)
// envelope signed with ca's leaf (ES256) carrying the whole chain (x5c,
// x5chain), in a manifest with artifactType
// application/vnd.cncf.notary.signature.
func Notation(ca *CA, subject oci.Descriptor, o NotationOptions) (Manifest, error) {
	if o.SigningTime.IsZero() {
		o.SigningTime = time.Now()
	}
	target := subject
	if o.Target != nil {
		target = *o.Target
	}
	payload, err := json.Marshal(map[string]any{"targetArtifact": target})
	if err != nil {
		return Manifest{}, err
	}
	layer := "application/jose+json"
	var env []byte
	if o.COSE {
		layer = "application/cose"
		if env, err = coseEnvelope(ca, payload, o); err != nil {
			return Manifest{}, err
		}
	} else if env, err = jwsEnvelope(ca, payload, o); err != nil {
		return Manifest{}, err
	}
	var thumbs []string
	for _, c := range []*x509.Certificate{ca.Leaf, ca.Intermediate, ca.Root} {
		sum := sha256.Sum256(c.Raw)
		thumbs = append(thumbs, hex.EncodeToString(sum[:]))
	}
	tj, _ := json.Marshal(thumbs)
	return NewManifest("application/vnd.cncf.notary.signature", Empty(),
		[]Blob{NewBlob(layer, env)}, &subject,
		map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": string(tj)}), nil
}

// jwsEnvelope builds a JWS (JSON serialization) Notation envelope, ES256.
func jwsEnvelope(ca *CA, payload []byte, o NotationOptions) ([]byte, error) {
	protected, err := json.Marshal(map[string]any{
		"alg":                          "ES256",
		"cty":                          "application/vnd.cncf.notary.payload.v1+json",
		"crit":                         []string{"io.cncf.notary.signingScheme"},
		"io.cncf.notary.signingScheme": "notary.x509",
		"io.cncf.notary.signingTime":   o.SigningTime.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(protected) + "." + enc.EncodeToString(payload)
	h := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, ca.LeafKey, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	if o.Tamper {
		sig[5] ^= 1
	}
	return json.Marshal(map[string]any{
		"payload":   enc.EncodeToString(payload),
		"protected": enc.EncodeToString(protected),
		"header": map[string]any{
			"x5c":                         [][]byte{ca.Leaf.Raw, ca.Intermediate.Raw, ca.Root.Raw},
			"io.cncf.notary.signingAgent": "berth-test/1.0",
		},
		"signature": enc.EncodeToString(sig),
	})
}

// CosignKey is an ECDSA P-256 key pair as cosign generates.
type CosignKey struct{ Key *ecdsa.PrivateKey }

// NewCosignKey makes a key.
func NewCosignKey() (CosignKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return CosignKey{k}, err
}

// PublicPEM is the public key as cosign.pub holds it.
func (k CosignKey) PublicPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(&k.Key.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (k CosignKey) sign(msg []byte) []byte {
	h := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, k.Key, h[:])
	return sig
}

// SimpleSigning builds the tag-scheme signature manifest of subject (to
// be tagged sha256-<hex>.sig), signing a payload that claims claimed.
func SimpleSigning(k CosignKey, repo string, claimed oci.Digest) Manifest {
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, repo, claimed)
	layer := NewBlob("application/vnd.dev.cosign.simplesigning.v1+json", payload)
	layer.Desc.Annotations = map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(k.sign(payload))}
	cfg := NewBlob(oci.MediaTypeImageConfig, []byte(`{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]}}`))
	return NewManifest("", cfg, []Blob{layer}, nil, nil)
}

// Bundle builds a cosign v3 referrer: a Sigstore bundle with a DSSE
// envelope over an in-toto statement about subject with predicateType.
func Bundle(k CosignKey, subject oci.Descriptor, predicateType string) Manifest {
	st, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "", "digest": map[string]string{subject.Digest.Algorithm(): subject.Digest.Hex()}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	})
	pt := "application/vnd.in-toto+json"
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(pt), pt, len(st), st)
	b, _ := json.Marshal(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": map[string]any{"publicKey": map[string]string{"hint": "test"}},
		"dsseEnvelope":         map[string]any{"payload": st, "payloadType": pt, "signatures": []any{map[string]any{"sig": k.sign(pae)}}},
	})
	return NewManifest("application/vnd.dev.sigstore.bundle.v0.3+json", Empty(),
		[]Blob{NewBlob("application/vnd.dev.sigstore.bundle.v0.3+json", b)}, &subject,
		map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": predicateType,
			"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339)})
}

// SimpleSigningWith is SimpleSigning with any signer, as sigstore signs:
// ECDSA (ASN.1) and RSA (PKCS #1 v1.5) over SHA-256, Ed25519 over the
// payload itself. It returns the manifest and the public key in PEM.
func SimpleSigningWith(signer crypto.Signer, repo string, claimed oci.Digest) (Manifest, string, error) {
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, repo, claimed)
	var sig []byte
	var err error
	if _, ok := signer.Public().(ed25519.PublicKey); ok {
		sig, err = signer.Sign(rand.Reader, payload, crypto.Hash(0))
	} else {
		h := sha256.Sum256(payload)
		sig, err = signer.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return Manifest{}, "", err
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return Manifest{}, "", err
	}
	layer := NewBlob("application/vnd.dev.cosign.simplesigning.v1+json", payload)
	layer.Desc.Annotations = map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}
	cfg := NewBlob(oci.MediaTypeImageConfig, []byte(`{"architecture":"","config":{},"os":"","rootfs":{"type":"layers","diff_ids":[]}}`))
	return NewManifest("", cfg, []Blob{layer}, nil, nil), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}
