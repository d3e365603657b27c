package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// berth's extensions for signatures and content trust (docs/signing.md):
// an artifact's checked signatures as an addition, and the keys and
// certificates a project trusts. Harbor's own switches are the project
// metadata enable_content_trust and enable_content_trust_cosign.

func (h *Handler) routesSignatures() {
	h.handle("GET "+artifactsPath+"/{reference}/additions/signatures", h.getSignatures)
	h.handleProject("GET /projects/{project}/trust-keys", h.listTrustKeys)
	h.handleProject("POST /projects/{project}/trust-keys", h.addTrustKey)
	h.handleProject("GET /projects/{project}/trust-keys/{key_id}", h.getTrustKey)
	h.handleProject("DELETE /projects/{project}/trust-keys/{key_id}", h.deleteTrustKey)
}

// signatureJSON is one signature, attestation or SBOM of an artifact.
type signatureJSON struct {
	Digest        string     `json:"digest"` // the accessory manifest
	Layer         string     `json:"layer,omitempty"`
	Format        string     `json:"format"` // cosign, notation
	Kind          string     `json:"kind"`   // signature, attestation, sbom
	Scheme        string     `json:"scheme"` // tag, referrer
	Subject       string     `json:"subject_digest"`
	InheritedFrom string     `json:"inherited_from,omitempty"`
	PredicateType string     `json:"predicate_type,omitempty"`
	Signer        string     `json:"signer"`
	SignedAt      *time.Time `json:"signed_at,omitempty"`
	Verified      bool       `json:"verified"`
	TrustedBy     string     `json:"trusted_by,omitempty"`
	Problem       string     `json:"problem,omitempty"`
}

func toSignatureJSON(s registry.ArtifactSignature) signatureJSON {
	out := signatureJSON{Digest: string(s.Accessory), Layer: string(s.Layer), Format: s.Format, Kind: s.Kind,
		Scheme: s.Scheme, Subject: string(s.Subject), InheritedFrom: string(s.InheritedFrom),
		PredicateType: s.PredicateType, Signer: s.Signer, Verified: s.Verified,
		TrustedBy: s.TrustedBy, Problem: s.Problem}
	if !s.SignedAt.IsZero() {
		t := s.SignedAt.UTC()
		out.SignedAt = &t
	}
	return out
}

// getSignatures is GET …/artifacts/{reference}/additions/signatures: the
// artifact's signatures, attestations and SBOMs, each checked against the
// project's trust keys, then those of the indexes that list it.
func (h *Handler) getSignatures(w http.ResponseWriter, r *http.Request, p access.Principal) {
	_, name, err := h.repositoryScope(r, p, access.ResArtifactAddition, access.ActRead)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sigs, err := h.reg.Signatures(r.Context(), name, r.PathValue("reference"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]signatureJSON, 0, len(sigs))
	for _, s := range sigs {
		out = append(out, toSignatureJSON(s))
	}
	writeJSON(w, http.StatusOK, out)
}

// trustKeyJSON is a key or certificate a project trusts.
type trustKeyJSON struct {
	ID           int64     `json:"id"`
	Type         string    `json:"type"` // cosign, notation
	Name         string    `json:"name"`
	PEM          string    `json:"pem"`
	Fingerprint  string    `json:"fingerprint"`
	CreationTime time.Time `json:"creation_time"`
}

type trustKeyReqJSON struct {
	Type string `json:"type"`
	Name string `json:"name"`
	PEM  string `json:"pem"`
}

func toTrustKeyJSON(k meta.TrustKey) trustKeyJSON {
	return trustKeyJSON{ID: k.ID, Type: k.Type, Name: k.Name, PEM: k.PEM, Fingerprint: k.Fingerprint, CreationTime: k.CreatedAt.UTC()}
}

func (h *Handler) listTrustKeys(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	ks, err := h.acc.ListTrustKeys(r.Context(), p, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]trustKeyJSON, 0, len(ks))
	for _, k := range ks {
		out = append(out, toTrustKeyJSON(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) addTrustKey(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	var body trustKeyReqJSON
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	k, err := h.acc.AddTrustKey(r.Context(), p, auth.Source(r), ref, body.Type, body.Name, body.PEM)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created(w, strings.TrimSuffix(r.URL.EscapedPath(), "/")+"/"+strconv.FormatInt(k.ID, 10), nil)
}

func (h *Handler) getTrustKey(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	id, err := pathInt(r, "key_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ks, err := h.acc.ListTrustKeys(r.Context(), p, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, k := range ks {
		if k.ID == id {
			writeJSON(w, http.StatusOK, toTrustKeyJSON(k))
			return
		}
	}
	h.fail(w, r, errs.New(errs.NotFound, "NOT_FOUND", "trust key %d not found", id))
}

func (h *Handler) deleteTrustKey(w http.ResponseWriter, r *http.Request, p access.Principal, ref access.ProjectRef) {
	id, err := pathInt(r, "key_id")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.acc.DeleteTrustKey(r.Context(), p, auth.Source(r), ref, id); err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w)
}
