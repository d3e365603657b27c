package api

import (
	"net/http"

	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scanjob"
)

// addOverviews fills scan_overview (with_scan_overview=true) and
// sbom_overview (with_sbom_overview=true) of out, which holds arts in
// the same order. An index shows its children's reports merged.
func (h *Handler) addOverviews(r *http.Request, repo string, arts []registry.Artifact, out []artifactJSON) error {
	withScan, _ := boolParam(r, "with_scan_overview", false)
	withSBOM, _ := boolParam(r, "with_sbom_overview", false)
	if (!withScan && !withSBOM) || h.scans == nil || len(arts) == 0 {
		return nil
	}
	subjects := make([]scanjob.Subject, len(arts))
	for i, a := range arts {
		subjects[i].Digest = a.Digest
		for _, c := range a.References {
			subjects[i].Children = append(subjects[i].Children, c.ChildDigest)
		}
	}
	ov, err := h.scans.Overview(r.Context(), repo, subjects)
	if err != nil {
		return err
	}
	for i, a := range arts {
		d := a.Digest
		if withScan {
			out[i].ScanOverview = ov.Scan[d]
		}
		if withSBOM {
			out[i].SBOMOverview = ov.SBOM[d]
		}
	}
	return nil
}
