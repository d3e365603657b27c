package scanjob

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Registration is a scanner registration as the API shows it: the stored
// fields (never the credential) plus, when asked, what the scanner says
// of itself.
type Registration struct {
	meta.Scanner
	Adapter, Vendor, Version, Health string
	Capabilities                     map[string]bool
}

// RegistrationSpec is what a caller sets on a registration.
type RegistrationSpec struct {
	Name, Description, URL, Auth, AccessCredential string
	SkipCertVerify, UseInternalAddr, Disabled      bool
}

func (s *Service) requireScannerAdmin(p access.Principal, action string) error {
	if s.acc.CanSystem(p, "scanner", action) {
		return nil
	}
	if p.IsAnonymous() {
		return errs.New(errs.Unauthorized, "UNAUTHORIZED", "authentication required to manage scanners")
	}
	return errs.New(errs.Denied, "FORBIDDEN", "%s is not allowed to %s scanners", p.Name(), action)
}

func checkSpec(sp *RegistrationSpec) error {
	sp.Name = strings.TrimSpace(sp.Name)
	if sp.Name == "" || len(sp.Name) > 128 {
		return errs.New(errs.Invalid, "", "a scanner needs a name of at most 128 characters")
	}
	if len(sp.Description) > 1024 || len(sp.AccessCredential) > 4096 {
		return errs.New(errs.Invalid, "", "description or access_credential too long")
	}
	// PostgreSQL refuses NUL and invalid UTF-8 (a 500 otherwise); the
	// credential goes into a header, where control characters do not belong.
	control := func(r rune) bool { return r < 0x20 || r == 0x7f }
	if !utf8.ValidString(sp.Description) || strings.ContainsRune(sp.Description, 0) {
		return errs.New(errs.Invalid, "", "description must be UTF-8 text without NUL")
	}
	for _, f := range []string{sp.Name, sp.URL, sp.AccessCredential} {
		if !utf8.ValidString(f) || strings.ContainsFunc(f, control) {
			return errs.New(errs.Invalid, "", "name, url and access_credential must be text without control characters")
		}
	}
	u, err := url.Parse(sp.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errs.New(errs.Invalid, "", "url must be an http(s) base URL of the scanner adapter, such as http://trivy-adapter:8080, got %q", clip(sp.URL))
	}
	switch sp.Auth {
	case "", "Basic", "Bearer", "X-ScannerAdapter-API-Key":
	default:
		return errs.New(errs.Invalid, "", `auth must be "", "Basic", "Bearer" or "X-ScannerAdapter-API-Key", got %q`, clip(sp.Auth))
	}
	if sp.Auth != "" && sp.AccessCredential == "" {
		return errs.New(errs.Invalid, "", "auth %s needs an access_credential", sp.Auth)
	}
	return nil
}

// describeReg adds what the scanner says of itself (with a short timeout:
// listings must not hang on a dead adapter).
func (s *Service) describeReg(ctx context.Context, sc meta.Scanner) Registration {
	r := Registration{Scanner: sc, Health: "unhealthy", Capabilities: map[string]bool{}}
	r.AccessCredential = ""
	b, err := s.backendOf(sc)
	if err != nil {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := b.metadata(ctx)
	if err != nil {
		return r
	}
	r.Adapter, r.Vendor, r.Version, r.Health = md.Scanner.Name, md.Scanner.Vendor, md.Scanner.Version, "healthy"
	_, r.Capabilities["support_vulnerability"] = md.reportMimeType(KindVulnerability)
	_, r.Capabilities["support_sbom"] = md.reportMimeType(KindSBOM)
	return r
}

// ListScanners returns every registration.
func (s *Service) ListScanners(ctx context.Context, p access.Principal) ([]Registration, error) {
	if err := s.requireScannerAdmin(p, access.ActList); err != nil {
		return nil, err
	}
	scs, err := s.db.Q().ListScanners(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Registration, 0, len(scs))
	for _, sc := range scs {
		out = append(out, s.describeReg(ctx, sc))
	}
	return out, nil
}

// GetScanner returns registration uuid.
func (s *Service) GetScanner(ctx context.Context, p access.Principal, id string) (Registration, error) {
	if err := s.requireScannerAdmin(p, access.ActRead); err != nil {
		return Registration{}, err
	}
	sc, err := s.db.Q().GetScanner(ctx, id)
	if err != nil {
		return Registration{}, err
	}
	return s.describeReg(ctx, sc), nil
}

// CreateScanner registers a pluggable scanner adapter.
func (s *Service) CreateScanner(ctx context.Context, p access.Principal, sp RegistrationSpec) (meta.Scanner, error) {
	if err := s.requireScannerAdmin(p, access.ActCreate); err != nil {
		return meta.Scanner{}, err
	}
	if err := checkSpec(&sp); err != nil {
		return meta.Scanner{}, err
	}
	sc := meta.Scanner{UUID: uuid(), Name: sp.Name, Description: sp.Description, URL: sp.URL, Auth: sp.Auth,
		AccessCredential: sp.AccessCredential, SkipCertVerify: sp.SkipCertVerify, UseInternalAddr: sp.UseInternalAddr,
		Disabled: sp.Disabled}
	err := s.db.Tx(ctx, func(q *meta.Q) error {
		_, noDefault := q.DefaultScanner(ctx)
		sc.IsDefault = errs.Is(noDefault, errs.NotFound)
		var err error
		sc, err = q.CreateScanner(ctx, sc)
		return err
	})
	return sc, err
}

// UpdateScanner changes registration id. The built-in scanner can only be
// enabled or disabled. An empty credential keeps the stored one while
// auth is set, as in Harbor.
func (s *Service) UpdateScanner(ctx context.Context, p access.Principal, id string, sp RegistrationSpec) error {
	if err := s.requireScannerAdmin(p, access.ActUpdate); err != nil {
		return err
	}
	sc, err := s.db.Q().GetScanner(ctx, id)
	if err != nil {
		return err
	}
	if sc.Builtin {
		if sp.Name != sc.Name || sp.URL != "" {
			return errs.New(errs.Invalid, "", "the built-in scanner's name and url cannot be changed")
		}
		sc.Disabled, sc.Description = sp.Disabled, sp.Description
		return s.db.Q().UpdateScanner(ctx, sc)
	}
	if sp.Auth != "" && sp.AccessCredential == "" {
		sp.AccessCredential = sc.AccessCredential
	}
	if err := checkSpec(&sp); err != nil {
		return err
	}
	sc.Name, sc.Description, sc.URL, sc.Auth, sc.AccessCredential = sp.Name, sp.Description, sp.URL, sp.Auth, sp.AccessCredential
	sc.SkipCertVerify, sc.UseInternalAddr, sc.Disabled = sp.SkipCertVerify, sp.UseInternalAddr, sp.Disabled
	return s.db.Q().UpdateScanner(ctx, sc)
}

// DeleteScanner removes registration id and returns it. The built-in
// scanner and the default registration cannot be removed.
func (s *Service) DeleteScanner(ctx context.Context, p access.Principal, id string) (meta.Scanner, error) {
	if err := s.requireScannerAdmin(p, access.ActDelete); err != nil {
		return meta.Scanner{}, err
	}
	sc, err := s.db.Q().GetScanner(ctx, id)
	if err != nil {
		return meta.Scanner{}, err
	}
	if sc.Builtin {
		return meta.Scanner{}, errs.New(errs.Conflict, "CONFLICT", "the built-in scanner cannot be deleted; disable it instead")
	}
	if sc.IsDefault {
		return meta.Scanner{}, errs.New(errs.Conflict, "CONFLICT", "scanner %s is the default; make another the default first", sc.Name)
	}
	return sc, s.db.Q().DeleteScanner(ctx, id)
}

// SetDefaultScanner makes registration id the system default.
func (s *Service) SetDefaultScanner(ctx context.Context, p access.Principal, id string, def bool) error {
	if err := s.requireScannerAdmin(p, access.ActUpdate); err != nil {
		return err
	}
	if !def {
		return errs.New(errs.Invalid, "", "is_default can only be set to true; make another scanner the default instead")
	}
	return s.db.Q().SetDefaultScanner(ctx, id)
}

// Ping checks that an adapter answers its metadata call with settings not
// yet registered.
func (s *Service) Ping(ctx context.Context, p access.Principal, sp RegistrationSpec) (Metadata, error) {
	if err := s.requireScannerAdmin(p, access.ActCreate); err != nil {
		return Metadata{}, err
	}
	if err := checkSpec(&sp); err != nil {
		return Metadata{}, err
	}
	a := adapter{s: s, reg: meta.Scanner{Name: sp.Name, URL: sp.URL, Auth: sp.Auth, AccessCredential: sp.AccessCredential,
		SkipCertVerify: sp.SkipCertVerify}}
	return a.metadata(ctx)
}

// ScannerMetadata returns what registration id says of itself.
func (s *Service) ScannerMetadata(ctx context.Context, p access.Principal, id string) (Metadata, error) {
	if err := s.requireScannerAdmin(p, access.ActRead); err != nil {
		return Metadata{}, err
	}
	sc, err := s.db.Q().GetScanner(ctx, id)
	if err != nil {
		return Metadata{}, err
	}
	b, err := s.backendOf(sc)
	if err != nil {
		return Metadata{}, err
	}
	return b.metadata(ctx)
}

// ProjectScanner returns the registration that scans project pr (which
// the caller may read).
func (s *Service) ProjectScanner(ctx context.Context, pr meta.Project) (Registration, error) {
	sc, err := s.scannerOf(ctx, pr)
	if errs.Is(err, errs.Invalid) {
		return Registration{}, errs.New(errs.NotFound, "NOT_FOUND", "no scanner is registered")
	}
	if err != nil {
		return Registration{}, err
	}
	return s.describeReg(ctx, sc), nil
}

// SetProjectScanner makes project pr use registration id (the caller has
// been allowed scanner:create on it).
func (s *Service) SetProjectScanner(ctx context.Context, pr meta.Project, id string) error {
	sc, err := s.db.Q().GetScanner(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return errs.New(errs.Invalid, "BAD_REQUEST", "scanner %s not found", clip(id))
	}
	if err != nil {
		return err
	}
	return s.db.Q().SetProjectScanner(ctx, pr.ID, sc.ID)
}

// Candidates lists the registrations a project may choose.
func (s *Service) Candidates(ctx context.Context) ([]Registration, error) {
	scs, err := s.db.Q().ListScanners(ctx)
	if err != nil {
		return nil, err
	}
	out := []Registration{}
	for _, sc := range scs {
		if !sc.Disabled {
			r := Registration{Scanner: sc}
			r.AccessCredential = ""
			out = append(out, r)
		}
	}
	return out, nil
}
