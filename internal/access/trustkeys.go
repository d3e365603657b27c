package access

import (
	"context"
	"strings"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/signature"
)

// Trust keys: the cosign public keys and Notation trust-store
// certificates a project trusts (berth's strict content trust, see
// registry/contenttrust.go). Reading them needs the project's metadata
// read permission (Maintainer and up); changing them its metadata update
// permission (Project Admin), as for the content trust switches.

const maxTrustKeys = 50

// ListTrustKeys returns the project's trusted keys and certificates.
func (s *Service) ListTrustKeys(ctx context.Context, p Principal, ref ProjectRef) ([]meta.TrustKey, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActRead)
	if err != nil {
		return nil, err
	}
	return s.db.Q().ListTrustKeys(ctx, pr.ID)
}

// AddTrustKey adds a cosign public key (typ meta.TrustCosign) or a
// Notation root certificate (meta.TrustNotation), given in PEM.
func (s *Service) AddTrustKey(ctx context.Context, p Principal, source string, ref ProjectRef, typ, name, pemText string) (meta.TrustKey, error) {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActUpdate)
	if err != nil {
		return meta.TrustKey{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 || !plainText(name) {
		return meta.TrustKey{}, errs.New(errs.Invalid, "", "name must be 1 to 128 characters of text")
	}
	if !plainText(pemText) { // PEM parsing skips leading junk; the text is stored as given
		return meta.TrustKey{}, errs.New(errs.Invalid, "", "pem must be UTF-8 text without NUL")
	}
	k := meta.TrustKey{ProjectID: pr.ID, Type: typ, Name: name, PEM: pemText}
	switch typ {
	case meta.TrustCosign:
		key, err := signature.ParseKey(name, pemText)
		if err != nil {
			return meta.TrustKey{}, errs.New(errs.Invalid, "", "invalid cosign public key: %v", err)
		}
		k.Fingerprint = key.Fingerprint
	case meta.TrustNotation:
		root, err := signature.ParseRoot(name, pemText)
		if err != nil {
			return meta.TrustKey{}, errs.New(errs.Invalid, "", "invalid notation certificate: %v", err)
		}
		k.Fingerprint = root.Fingerprint
	default:
		return meta.TrustKey{}, errs.New(errs.Invalid, "", `type must be "cosign" or "notation", got %q`, clip(typ))
	}
	q := s.db.Q()
	existing, err := q.ListTrustKeys(ctx, pr.ID)
	if err != nil {
		return meta.TrustKey{}, err
	}
	if len(existing) >= maxTrustKeys {
		return meta.TrustKey{}, errs.New(errs.Invalid, "", "project %s already has %d trust keys, the most allowed", pr.Name, maxTrustKeys)
	}
	k, err = q.AddTrustKey(ctx, k)
	if err != nil {
		return meta.TrustKey{}, err
	}
	s.auditProject(ctx, p, source, pr, "create", "trust key "+k.Type+" "+k.Name)
	return k, nil
}

// DeleteTrustKey removes one of the project's trust keys.
func (s *Service) DeleteTrustKey(ctx context.Context, p Principal, source string, ref ProjectRef, id int64) error {
	pr, err := s.authorizeProject(ctx, p, ref, ResMetadata, ActUpdate)
	if err != nil {
		return err
	}
	q := s.db.Q()
	k, err := q.GetTrustKey(ctx, pr.ID, id)
	if err != nil {
		return err
	}
	if err := q.DeleteTrustKey(ctx, pr.ID, id); err != nil {
		return err
	}
	s.auditProject(ctx, p, source, pr, "delete", "trust key "+k.Type+" "+k.Name)
	return nil
}
