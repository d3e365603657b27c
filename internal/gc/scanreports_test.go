package gc_test

import (
	"fmt"
	"testing"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// TestScanReportsOfDeletedArtifacts: a GC run removes the scan reports of
// artifacts no repository holds any more and keeps the others; a dry
// run removes nothing.
func TestScanReportsOfDeletedArtifacts(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		kept := e.pushImage("p/a", "1", "kept", data("k", 100))
		gone := e.pushImage("p/a", "2", "gone", data("g", 100))
		q := e.db.Q()
		for i, d := range []oci.Digest{kept, gone} {
			if _, err := q.StartScanReport(e.ctx, meta.ScanReport{UUID: fmt.Sprintf("r%d", i), Digest: d, ScannerUUID: "s", MimeType: "v"}); err != nil {
				t.Fatal(err)
			}
		}
		e.deleteManifest("p/a", gone)
		reports := func(d oci.Digest) int {
			n, err := e.db.Count(e.ctx, `SELECT count(*) FROM scan_reports WHERE digest = ?`, string(d))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		e.run(gc.Params{DryRun: true})
		if reports(gone) != 1 {
			t.Fatal("a dry run removed a scan report")
		}
		r := e.run(gc.Params{})
		if reports(gone) != 0 || reports(kept) != 1 {
			t.Fatalf("after GC: %d reports of the deleted artifact (want 0), %d of the kept one (want 1)\n%s",
				reports(gone), reports(kept), r.Log)
		}
	})
}
