package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// keyHint prefixes the signer of a bundle signed with a bare key until a
// trusted key verifies it.
const keyHint = "key hint "

// simpleSigning is cosign's signed payload of the tag scheme.
type simpleSigning struct {
	Critical struct {
		Image struct {
			Digest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// rekorBundle is the transparency-log receipt cosign may annotate.
type rekorBundle struct {
	Payload struct {
		IntegratedTime int64 `json:"integratedTime"`
	} `json:"Payload"`
}

// inspectSimpleSigning reads each simple-signing layer: one signature
// per layer, over the layer's bytes.
func inspectSimpleSigning(base Signature, cl class, load func(oci.Descriptor) ([]byte, error), trust Trust) []Signature {
	var out []Signature
	for _, l := range cl.m.Layers {
		if l.MediaType != TypeCosignSimpleSigning {
			continue
		}
		s := base
		s.Layer = l.Digest
		if b := l.Annotations["dev.sigstore.cosign/bundle"]; b != "" {
			var rb rekorBundle
			if json.Unmarshal([]byte(b), &rb) == nil && rb.Payload.IntegratedTime > 0 {
				s.SignedAt = time.Unix(rb.Payload.IntegratedTime, 0).UTC()
			}
		}
		if cert := l.Annotations[AnnotationCosignCertificate]; cert != "" {
			s.Signer = certIdentityPEM(cert)
		}
		payload, err := load(l)
		if err != nil {
			out = append(out, problem(s, "read payload: %v", err))
			continue
		}
		var ss simpleSigning
		if err := json.Unmarshal(payload, &ss); err != nil || !isJSONObject(payload) {
			out = append(out, problem(s, "payload is not a simple-signing document"))
			continue
		}
		s.Subject = oci.Digest(ss.Critical.Image.Digest)
		sig, err := base64.StdEncoding.DecodeString(l.Annotations[AnnotationCosignSignature])
		if err != nil || len(sig) == 0 {
			out = append(out, problem(s, "no signature annotation %s", AnnotationCosignSignature))
			continue
		}
		out = append(out, verifyCosign(s, cl.subject, payload, sig, false, trust))
	}
	if len(out) == 0 {
		out = append(out, problem(base, "no %s layer", TypeCosignSimpleSigning))
	}
	return out
}

// verifyCosign finishes s: the payload must be about subject and the
// signature must verify with one of the trusted keys. prehashed says msg
// is already a SHA-256 digest (a bundle's message signature).
func verifyCosign(s Signature, subject oci.Digest, msg, sig []byte, prehashed bool, trust Trust) Signature {
	if s.Subject != subject {
		return problem(s, "signs %q, not the subject %s", truncate(string(s.Subject)), subject)
	}
	if len(trust.CosignKeys) == 0 {
		return s
	}
	for _, k := range trust.CosignKeys {
		if verifyKey(k.Public, msg, sig, prehashed) {
			s.Verified, s.TrustedBy = true, k.Name
			if s.Signer == "" || strings.HasPrefix(s.Signer, keyHint) {
				s.Signer = "key " + k.Fingerprint
			}
			return s
		}
	}
	return problem(s, "the signature does not verify with any of the %d trusted cosign keys", len(trust.CosignKeys))
}

// verifyKey checks sig over msg with pub as sigstore signs: ECDSA and
// RSA over SHA-256 (PKCS#1 v1.5 or PSS), Ed25519 over the message.
func verifyKey(pub crypto.PublicKey, msg, sig []byte, prehashed bool) bool {
	digest := msg
	if !prehashed {
		h := sha256.Sum256(msg)
		digest = h[:]
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if ecdsa.VerifyASN1(k, digest, sig) {
			return true
		}
		if prehashed {
			return false
		}
		// Keys on larger curves may sign with the matching hash.
		switch k.Curve {
		case elliptic.P384():
			h := sha512.Sum384(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		case elliptic.P521():
			h := sha512.Sum512(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		}
	case ed25519.PublicKey:
		return !prehashed && ed25519.Verify(k, msg, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil ||
			rsa.VerifyPSS(k, crypto.SHA256, digest, sig, nil) == nil
	}
	return false
}

// bundle is the part of a Sigstore bundle (v0.3) berth reads.
type bundle struct {
	MediaType            string `json:"mediaType"`
	VerificationMaterial struct {
		PublicKey *struct {
			Hint string `json:"hint"`
		} `json:"publicKey"`
		Certificate *struct {
			RawBytes []byte `json:"rawBytes"`
		} `json:"certificate"`
		X509CertificateChain *struct {
			Certificates []struct {
				RawBytes []byte `json:"rawBytes"`
			} `json:"certificates"`
		} `json:"x509CertificateChain"`
		TlogEntries []struct {
			IntegratedTime string `json:"integratedTime"`
		} `json:"tlogEntries"`
	} `json:"verificationMaterial"`
	DSSEEnvelope *struct {
		Payload     []byte `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []struct {
			Sig []byte `json:"sig"`
		} `json:"signatures"`
	} `json:"dsseEnvelope"`
	MessageSignature *struct {
		MessageDigest struct {
			Algorithm string `json:"algorithm"`
			Digest    []byte `json:"digest"`
		} `json:"messageDigest"`
		Signature []byte `json:"signature"`
	} `json:"messageSignature"`
}

// statement is an in-toto statement (v0.1 or v1).
type statement struct {
	Subject []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string `json:"predicateType"`
}

// inspectBundle reads the bundle in the first layer of a cosign v3
// referrer: a DSSE envelope over an in-toto statement (cosign sign and
// cosign attest) or a message signature over a digest.
func inspectBundle(s Signature, cl class, load func(oci.Descriptor) ([]byte, error), trust Trust) Signature {
	if t := cl.m.Annotations[AnnotationCreated]; t != "" {
		if at, err := time.Parse(time.RFC3339, t); err == nil {
			s.SignedAt = at.UTC()
		}
	}
	s.PredicateType = cl.m.Annotations[AnnotationBundlePredicate]
	if len(cl.m.Layers) == 0 {
		return problem(s, "the bundle manifest has no layer")
	}
	raw, err := load(cl.m.Layers[0])
	if err != nil {
		return problem(s, "read bundle: %v", err)
	}
	var b bundle
	if err := json.Unmarshal(raw, &b); err != nil || !isJSONObject(raw) {
		return problem(s, "the layer is not a Sigstore bundle")
	}
	vm := b.VerificationMaterial
	if len(vm.TlogEntries) > 0 {
		if n, err := strconv.ParseInt(vm.TlogEntries[0].IntegratedTime, 10, 64); err == nil && n > 0 {
			s.SignedAt = time.Unix(n, 0).UTC()
		}
	}
	switch {
	case vm.Certificate != nil:
		s.Signer = certIdentityDER(vm.Certificate.RawBytes)
	case vm.X509CertificateChain != nil && len(vm.X509CertificateChain.Certificates) > 0:
		s.Signer = certIdentityDER(vm.X509CertificateChain.Certificates[0].RawBytes)
	case vm.PublicKey != nil && vm.PublicKey.Hint != "":
		s.Signer = keyHint + vm.PublicKey.Hint // replaced by the key once verified
	}
	switch {
	case b.DSSEEnvelope != nil:
		env := b.DSSEEnvelope
		var st statement
		if env.PayloadType != TypeInToto || json.Unmarshal(env.Payload, &st) != nil {
			return problem(s, "the DSSE payload is not an in-toto statement")
		}
		// The signed statement, not the annotation, decides the kind.
		s.PredicateType, s.Kind = st.PredicateType, kindOfPredicate(st.PredicateType)
		for _, sub := range st.Subject {
			for alg, h := range sub.Digest {
				if d := oci.Digest(alg + ":" + h); d == cl.subject {
					s.Subject = d
				}
			}
		}
		if s.Subject == "" && len(st.Subject) > 0 {
			for alg, h := range st.Subject[0].Digest {
				s.Subject = oci.Digest(alg + ":" + h)
			}
		}
		if len(env.Signatures) == 0 {
			return problem(s, "the DSSE envelope has no signature")
		}
		if s.Kind != KindSignature {
			return s // attestations are listed, never verified as signatures
		}
		msg := pae(env.PayloadType, env.Payload)
		var last Signature
		for _, sg := range env.Signatures {
			last = verifyCosign(s, cl.subject, msg, sg.Sig, false, trust)
			if last.Verified || last.Problem == "" {
				return last
			}
		}
		return last
	case b.MessageSignature != nil:
		ms := b.MessageSignature
		s.Kind = KindSignature
		if ms.MessageDigest.Algorithm != "SHA2_256" || len(ms.MessageDigest.Digest) != sha256.Size {
			return problem(s, "unsupported message digest %q", truncate(ms.MessageDigest.Algorithm))
		}
		s.Subject = oci.Digest("sha256:" + fmt.Sprintf("%x", ms.MessageDigest.Digest))
		return verifyCosign(s, cl.subject, ms.MessageDigest.Digest, ms.Signature, true, trust)
	}
	return problem(s, "the bundle holds neither a DSSE envelope nor a message signature")
}

// pae is DSSE's pre-authentication encoding, what is actually signed.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// certIdentityPEM is certIdentity of a PEM certificate.
func certIdentityPEM(p string) string {
	b, _ := pem.Decode([]byte(p))
	if b == nil {
		return ""
	}
	return certIdentityDER(b.Bytes)
}

// certIdentityDER names who a signing certificate was issued to: the
// first e-mail or URI SAN (Fulcio's identities), else the subject.
func certIdentityDER(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return ""
	}
	return certIdentity(c)
}

func certIdentity(c *x509.Certificate) string {
	switch {
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	}
	return c.Subject.String()
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
