package scan

import "context"

// Scan finds the packages in img and the advisories that affect them.
// Errors: errs.Unavailable when no vulnerability database is loaded yet;
// errs.Invalid when a layer is not a readable tar (gzip, zstd or plain);
// a layer's Open error is returned wrapped (its kind kept), so the
// caller can retry on errs.Unavailable.
func (e *Engine) Scan(ctx context.Context, img Image) (Report, error) {
	if _, err := e.db.Q().CurrentVulnGeneration(ctx); err != nil {
		return Report{}, dbErr(err)
	}
	inv, err := e.Inventory(ctx, img)
	if err != nil {
		return Report{}, err
	}
	return e.Match(ctx, img, inv)
}
