package scan

import (
	"context"
	"io"

	"github.com/berth-registry/berth/internal/errs"
)

// Scan finds the packages in img and the advisories that affect them.
// Errors: errs.Unavailable when no vulnerability database is loaded yet;
// errs.Invalid when a layer is not a readable tar (gzip, zstd or plain);
// a layer's Open error is returned wrapped as is (its kind kept), so the
// caller can retry on errs.Unavailable.
func (e *Engine) Scan(ctx context.Context, img Image) (Report, error) {
	inv, err := e.Inventory(ctx, img)
	if err != nil {
		return Report{}, err
	}
	return e.Match(ctx, img, inv)
}

// Inventory finds the packages in img without matching them.
func (e *Engine) Inventory(ctx context.Context, img Image) (Inventory, error) {
	return Inventory{}, errs.New(errs.Unsupported, "", "scan: not implemented yet")
}

// Match matches an inventory of img against the vulnerability database.
func (e *Engine) Match(ctx context.Context, img Image, inv Inventory) (Report, error) {
	return Report{}, errs.New(errs.Unsupported, "", "scan: not implemented yet")
}

// SBOM returns an SBOM of img's packages as format, which is
// MediaTypeSPDX (SPDX 2.3 JSON) or MediaTypeCycloneDX (CycloneDX 1.6
// JSON); "spdx" and "cyclonedx" are accepted too. It returns the
// document and its media type. The output is deterministic for the same
// image (no random ids; timestamps from the clock). An unknown format
// is errs.Invalid. SBOM does not need the vulnerability database.
func (e *Engine) SBOM(ctx context.Context, img Image, format string) ([]byte, string, error) {
	return nil, "", errs.New(errs.Unsupported, "", "sbom: not implemented yet")
}

// DBInfo describes the vulnerability database in use; Loaded is false
// when none has been imported.
func (e *Engine) DBInfo(ctx context.Context) (DBInfo, error) {
	return DBInfo{}, nil
}

// Import replaces the vulnerability database with the OSV records read
// from r: a zip of OSV JSON files (osv.dev's <ecosystem>/all.zip), a
// tar or tar.gz of such files or zips, or a single JSON record or array.
// source is recorded (a file name or URL). The new database replaces the
// old one atomically when the import succeeds; on any error the old one
// stays in use.
func (e *Engine) Import(ctx context.Context, r io.Reader, source string) (DBInfo, error) {
	return DBInfo{}, errs.New(errs.Unsupported, "", "import: not implemented yet")
}
