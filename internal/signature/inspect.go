package signature

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/oci"
)

// Reader returns the content of a layer of a candidate. The caller bounds
// its size; Inspect checks the digest.
type Reader func(oci.Descriptor) ([]byte, error)

// class is what a candidate is, from its manifest alone.
type class struct {
	format, kind, scheme string
	subject              oci.Digest // what it is linked to
	m                    *oci.Manifest
}

// sbomPredicates are in-toto predicate types (prefixes) of SBOMs.
var sbomPredicates = []string{"https://spdx.dev/Document", "https://cyclonedx.org/bom", "https://spdx.github.io/spdx-spec"}

// kindOfPredicate is the kind of an in-toto statement with predicate p.
func kindOfPredicate(p string) string {
	if p == PredicateCosignSign {
		return KindSignature
	}
	for _, s := range sbomPredicates {
		if strings.HasPrefix(p, s) {
			return KindSBOM
		}
	}
	return KindAttestation
}

func classify(c Candidate) (class, bool) {
	m, err := oci.ParseManifest(c.MediaType, c.Content)
	if err != nil || oci.IsIndexType(m.MediaType) {
		return class{}, false
	}
	for _, l := range m.Layers {
		if IsImageLayer(l.MediaType) {
			return class{}, false // an image, whatever its tag or subject says
		}
	}
	cl := class{m: m}
	suffix := ""
	switch {
	case m.Subject != nil:
		cl.scheme, cl.subject = SchemeReferrer, m.Subject.Digest
	case c.Tag != "":
		d, s, ok := SubjectOfTag(c.Tag)
		if !ok || s == "" {
			return class{}, false
		}
		cl.scheme, cl.subject, suffix = SchemeTag, d, s
	default:
		return class{}, false
	}
	hasLayer := func(mt string) bool {
		for _, l := range m.Layers {
			if l.MediaType == mt {
				return true
			}
		}
		return false
	}
	switch typ := m.EffectiveArtifactType(); {
	case typ == TypeNotationSignature:
		cl.format, cl.kind = FormatNotation, KindSignature
	case typ == TypeSigstoreBundle:
		cl.format, cl.kind = FormatCosign, KindSignature
		if p := m.Annotations[AnnotationBundlePredicate]; p != "" {
			cl.kind = kindOfPredicate(p) // Inspect re-decides from the signed statement
		}
	case typ == TypeCosignArtifactSig:
		cl.format, cl.kind = FormatCosign, KindSignature
	case typ == TypeCosignArtifactSBOM:
		cl.format, cl.kind = FormatCosign, KindSBOM
	case suffix == "sig" && hasLayer(TypeCosignSimpleSigning):
		cl.format, cl.kind = FormatCosign, KindSignature
	case suffix == "att":
		cl.format, cl.kind = FormatCosign, KindAttestation
	case suffix == "sbom":
		cl.format, cl.kind = FormatCosign, KindSBOM
	default:
		return class{}, false
	}
	return cl, true
}

// Classify says what candidate c holds, from its manifest alone: its
// format (FormatCosign, FormatNotation), its kind (KindSignature,
// KindAttestation, KindSBOM) and the subject it is linked to. ok is false
// for anything else. The kind of a Sigstore bundle comes from its
// (unsigned) predicate annotation here; Inspect decides from the signed
// statement.
func Classify(c Candidate) (format, kind string, subject oci.Digest, ok bool) {
	cl, ok := classify(c)
	return cl.format, cl.kind, cl.subject, ok
}

// Inspect returns the signatures, attestations and SBOMs that candidate c
// holds, reading the layers it needs with read, each checked against
// trust. It returns nothing for a manifest that holds none. A layer that
// cannot be read or parsed gives a Signature with a Problem, so that a
// broken signature is seen rather than silently ignored.
func Inspect(c Candidate, read Reader, trust Trust) []Signature {
	cl, ok := classify(c)
	if !ok {
		return nil
	}
	base := Signature{Accessory: c.Digest, Format: cl.format, Kind: cl.kind, Scheme: cl.scheme, SignedAt: c.Created}
	load := func(l oci.Descriptor) ([]byte, error) {
		b, err := read(l)
		if err != nil {
			return nil, err
		}
		if !matches(l.Digest, b) {
			return nil, fmt.Errorf("layer %s: content does not match its digest", l.Digest)
		}
		return b, nil
	}
	switch {
	case cl.format == FormatNotation:
		return []Signature{inspectNotation(base, cl, load, trust)}
	case cl.m.EffectiveArtifactType() == TypeSigstoreBundle:
		return []Signature{inspectBundle(base, cl, load, trust)}
	case cl.kind == KindSignature:
		return inspectSimpleSigning(base, cl, load, trust)
	}
	// Attestations and SBOMs of the tag scheme: listed, never verified.
	base.Subject = cl.subject
	if len(cl.m.Layers) > 0 {
		base.PredicateType = cl.m.Layers[0].Annotations[AnnotationPredicateType]
	}
	return []Signature{base}
}

// matches reports whether b hashes to d.
func matches(d oci.Digest, b []byte) bool {
	switch d.Algorithm() {
	case oci.SHA256:
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:]) == d.Hex()
	case oci.SHA512:
		s := sha512.Sum512(b)
		return hex.EncodeToString(s[:]) == d.Hex()
	}
	return false
}

// problem sets s's Problem and returns s.
func problem(s Signature, format string, args ...any) Signature {
	s.Problem = fmt.Sprintf(format, args...)
	s.Verified = false
	return s
}

// isJSONObject reports whether b looks like a JSON object (json.Unmarshal
// into a struct accepts null).
func isJSONObject(b []byte) bool { return bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) }

// IsImageLayer reports whether a layer media type is filesystem content
// a container runtime would unpack. A manifest with such a layer is an
// image, never a signature, attestation or SBOM.
func IsImageLayer(mt string) bool {
	return strings.Contains(mt, ".tar") || strings.Contains(mt, "rootfs") || strings.Contains(mt, "image.layer")
}
