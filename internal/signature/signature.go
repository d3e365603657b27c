// Package signature recognises and verifies the signatures that clients
// store next to an artifact in a registry: cosign's tag scheme
// (sha256-<hex>.sig), cosign's Sigstore bundles and Notation's JWS
// envelopes stored as OCI 1.1 referrers. It tells signatures from
// attestations and SBOMs, which never count as signatures, says who
// signed and when, and checks a signature against the keys and
// certificates a project trusts.
//
// It is pure: callers hand it manifests and layer contents and it does no
// I/O, so that every rule is table-tested without a registry.
package signature

import (
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

// Formats of signatures.
const (
	FormatCosign   = "cosign"
	FormatNotation = "notation"
)

// Kinds of accessories this package recognises.
const (
	KindSignature   = "signature"
	KindAttestation = "attestation" // in-toto statements other than cosign's signing one
	KindSBOM        = "sbom"
)

// Schemes by which an accessory is linked to its subject.
const (
	SchemeTag      = "tag"      // cosign's sha256-<hex>.sig tag in the same repository
	SchemeReferrer = "referrer" // an OCI 1.1 manifest whose subject is the artifact
)

// Media and artifact types.
const (
	TypeCosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	TypeCosignArtifactSig   = "application/vnd.dev.cosign.artifact.sig.v1+json"
	TypeCosignArtifactSBOM  = "application/vnd.dev.cosign.artifact.sbom.v1+json"
	TypeSigstoreBundle      = "application/vnd.dev.sigstore.bundle.v0.3+json"
	TypeDSSEEnvelope        = "application/vnd.dsse.envelope.v1+json"
	TypeInToto              = "application/vnd.in-toto+json"
	TypeNotationSignature   = "application/vnd.cncf.notary.signature"
	TypeNotationPayload     = "application/vnd.cncf.notary.payload.v1+json"
	TypeJWS                 = "application/jose+json"
	TypeCOSE                = "application/cose"

	// PredicateCosignSign is the predicate of the statement cosign v3
	// signs when it signs an image; any other predicate is an attestation.
	PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"

	AnnotationCosignSignature   = "dev.cosignproject.cosign/signature"
	AnnotationCosignCertificate = "dev.sigstore.cosign/certificate"
	AnnotationBundleContent     = "dev.sigstore.bundle.content"
	AnnotationBundlePredicate   = "dev.sigstore.bundle.predicateType"
	AnnotationCreated           = "org.opencontainers.image.created"
	AnnotationPredicateType     = "predicateType"
)

// Signature is one signature (or attestation, or SBOM) found for a subject.
type Signature struct {
	Accessory oci.Digest // the manifest that holds it
	Layer     oci.Digest // the layer holding this signature ("" when the manifest is all)
	Format    string     // FormatCosign or FormatNotation
	Kind      string     // KindSignature, KindAttestation or KindSBOM
	Scheme    string     // SchemeTag or SchemeReferrer
	Subject   oci.Digest // what it claims to be about
	// PredicateType is the in-toto predicate of an attestation (or of
	// cosign v3's signing statement).
	PredicateType string
	// Signer says who signed: a certificate's identity (SAN or subject),
	// or for a bare key "key SHA256:<fingerprint>" when the key is known
	// (it verified), else the key hint the signature carries.
	Signer string
	// SignedAt is when it was signed: the signed time (Notation) or the
	// transparency-log time when present, else when the accessory was
	// created (an unsigned claim); zero when unknown.
	SignedAt time.Time
	// Verified is true when the signature verified against one of the
	// trusted keys or roots, and is about the subject; TrustedBy names it.
	Verified  bool
	TrustedBy string
	// Problem says why the signature did not verify ("" when it did, or
	// when nothing was configured to verify it with).
	Problem string
}

// IsSignature reports whether s counts as a signature of format (any
// format when format is ""): attestations and SBOMs never do.
func (s Signature) IsSignature(format string) bool {
	return s.Kind == KindSignature && (format == "" || s.Format == format)
}

// Candidate is a manifest that may hold signatures of a subject, as the
// caller found it: a referrer of the subject, or the manifest a tag of
// the cosign scheme names.
type Candidate struct {
	Digest    oci.Digest
	MediaType string
	Content   []byte
	Tag       string    // the tag it was found under ("" for a referrer)
	Created   time.Time // when the registry received it
}

// TagFor returns the cosign tag-scheme tag of subject d with suffix
// ("sig", "att", "sbom"; "" for the referrers tag schema's index tag).
func TagFor(d oci.Digest, suffix string) string {
	t := strings.Replace(string(d), ":", "-", 1)
	if suffix != "" {
		t += "." + suffix
	}
	return t
}

// TagSuffixes are the tag-scheme suffixes of cosign accessories.
var TagSuffixes = []string{"sig", "att", "sbom"}

// SubjectOfTag returns the subject digest and suffix that a tag-scheme tag
// names ("sha256-<hex>.sig" → sha256:<hex>, "sig"), and false for any
// other tag. The referrers tag schema's "sha256-<hex>" gives suffix "".
func SubjectOfTag(tag string) (oci.Digest, string, bool) {
	alg, rest, ok := strings.Cut(tag, "-")
	if !ok || alg != "sha256" && alg != "sha512" {
		return "", "", false
	}
	hex, suffix, _ := strings.Cut(rest, ".")
	d, err := oci.ParseDigest(alg + ":" + hex)
	if err != nil {
		return "", "", false
	}
	switch suffix {
	case "", "sig", "att", "sbom":
		return d, suffix, true
	}
	return "", "", false
}
