package api

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
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
	accepted := acceptedReports(r)
	for i, a := range arts {
		d := a.Digest
		if withScan {
			for mt, sum := range ov.Scan[d] {
				if accepted[mt] {
					if out[i].ScanOverview == nil {
						out[i].ScanOverview = map[string]scanjob.NativeReportSummary{}
					}
					out[i].ScanOverview[mt] = sum
				}
			}
		}
		if withSBOM {
			out[i].SBOMOverview = ov.SBOM[d]
		}
	}
	return nil
}

// acceptedReports reads Harbor's X-Accept-Vulnerabilities header: the
// report MIME types the caller wants in scan_overview, by default
// Harbor's v1.1 and v1.0 vulnerability reports.
func acceptedReports(r *http.Request) map[string]bool {
	out := map[string]bool{scan.MediaTypeVulnReport: true, scan.MediaTypeHarborVulnReport: true}
	h := r.Header.Get("X-Accept-Vulnerabilities")
	if h == "" {
		return out
	}
	out = map[string]bool{}
	// MIME types contain "; version=…", so split on commas only.
	for _, mt := range strings.Split(h, ",") {
		out[strings.TrimSpace(mt)] = true
	}
	return out
}
