package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/signature"
)

// Content trust: a project with enable_content_trust_cosign (cosign) or
// enable_content_trust (Notation) set to "true" serves a manifest only if
// it carries a signature of each required format. As in Harbor the
// refusal is 412 PROJECTPOLICYVIOLATION. Unlike Harbor:
//
//   - attestations and SBOMs (cosign attest, SLSA provenance) are not
//     signatures, and a signature must claim the artifact's own digest;
//   - a signature of an index covers the manifests it lists when a client
//     pulls one of them by digest (as docker does after reading the index);
//   - when the project trusts keys of a format (trust_keys), a signature of
//     that format counts only if it verifies against one of them.

// Project metadata keys of content trust, as Harbor names them.
const (
	MetaContentTrustNotation = "enable_content_trust"
	MetaContentTrustCosign   = "enable_content_trust_cosign"
)

// PolicyViolation is the code of a pull refused by a project policy.
const PolicyViolation = "PROJECTPOLICYVIOLATION"

// requiredFormats are the signature formats project pr requires.
func requiredFormats(pr meta.Project) []string {
	var out []string
	if pr.Metadata[MetaContentTrustCosign] == "true" {
		out = append(out, signature.FormatCosign)
	}
	if pr.Metadata[MetaContentTrustNotation] == "true" {
		out = append(out, signature.FormatNotation)
	}
	return out
}

// isSignatureArtifact reports whether m (fetched by ref) is itself a
// signature, attestation or SBOM of the cosign or Notation kind: those
// are served under content trust so that clients can verify. A manifest
// with image layers never is, whatever its tag or artifact type says
// (signature.Classify).
func isSignatureArtifact(m meta.Manifest, ref string) bool {
	tag := ""
	if !strings.Contains(ref, ":") {
		tag = ref
	}
	_, _, _, ok := signature.Classify(signature.Candidate{Digest: m.Digest, MediaType: m.MediaType, Content: m.Content, Tag: tag})
	return ok
}

// CheckContentTrust decides whether manifest m of repository name,
// fetched by ref (a tag or a digest), may be served under the project's
// content trust settings. It returns nil to serve, or a Denied error with
// code PolicyViolation saying what is missing and how to proceed.
func (s *Service) CheckContentTrust(ctx context.Context, name, ref string, m meta.Manifest) error {
	q := s.db.Q()
	pr, err := q.CachedProjectByName(ctx, projectName(name))
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	required := requiredFormats(pr)
	if len(required) == 0 || isSignatureArtifact(m, ref) {
		return nil
	}
	trust, err := s.trustOf(ctx, pr)
	if err != nil {
		return err
	}
	own, err := s.signaturesOf(ctx, q, m.RepoID, m.Digest, trust)
	if err != nil {
		return err
	}
	byDigest := strings.Contains(ref, ":")
	var inherited map[oci.Digest][]signature.Signature
	if byDigest {
		parents, err := q.ManifestParents(ctx, m.RepoID, m.Digest)
		if err != nil {
			return err
		}
		inherited = map[oci.Digest][]signature.Signature{}
		for _, p := range parents[:min(len(parents), maxInheritParents)] {
			if inherited[p], err = s.signaturesOf(ctx, q, m.RepoID, p, trust); err != nil {
				return err
			}
		}
	}
	for _, f := range required {
		if satisfied(own, m.Digest, f, trust) {
			continue
		}
		ok := false
		for p, sigs := range inherited {
			if satisfied(sigs, p, f, trust) {
				ok = true
				break
			}
		}
		if !ok {
			return refusal(pr.Name, name, m.Digest, f, own, trust)
		}
	}
	return nil
}

// strictFor reports whether trust has keys of format f: then signatures
// of f must verify, not merely exist.
func strictFor(trust signature.Trust, f string) bool {
	if f == signature.FormatCosign {
		return len(trust.CosignKeys) > 0
	}
	return len(trust.NotationRoots) > 0
}

// satisfied reports whether sigs hold a signature of format f about d
// that counts: verified in strict mode, intact and about d otherwise.
func satisfied(sigs []signature.Signature, d oci.Digest, f string, trust signature.Trust) bool {
	strict := strictFor(trust, f)
	for _, sg := range sigs {
		if !sg.IsSignature(f) || sg.Subject != d {
			continue
		}
		if strict && sg.Verified || !strict && sg.Problem == "" {
			return true
		}
	}
	return false
}

// refusal words the 412: Harbor's sentence first, then why and what to do.
func refusal(project, repo string, d oci.Digest, f string, sigs []signature.Signature, trust signature.Trust) error {
	setting := MetaContentTrustCosign
	how := fmt.Sprintf("sign it with `cosign sign %s@%s`", repo, d)
	if f == signature.FormatNotation {
		setting = MetaContentTrustNotation
		how = fmt.Sprintf("sign it with `notation sign %s@%s`", repo, d)
	}
	msg := fmt.Sprintf("The image is not signed by %s.", f)
	if strictFor(trust, f) {
		why := ""
		for _, sg := range sigs {
			if sg.IsSignature(f) && sg.Problem != "" {
				why = fmt.Sprintf(" Signature %s: %s.", sg.Accessory, sg.Problem)
				break
			}
		}
		msg = fmt.Sprintf("The image is not signed by %s with a key project %s trusts.%s", f, project, why)
		how = strings.Replace(how, "sign it with", "sign it with a trusted key using", 1)
	}
	if f == signature.FormatCosign {
		for _, sg := range sigs {
			if sg.Format == f && sg.Kind != signature.KindSignature && sg.Subject == d {
				msg += " Attestations and SBOMs are not signatures."
				break
			}
		}
	}
	return errs.New(errs.Denied, PolicyViolation, "%s To pull it, %s, or ask a project admin to set %s to false.", msg, how, setting)
}
