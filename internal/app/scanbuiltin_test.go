package app

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/scan"
)

// alpineLayer is an uncompressed layer claiming Alpine 3.19 with
// openssl's libssl3 at 3.1.4-r1.
func alpineLayer(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"},
		{"lib/apk/db/installed", "C:Q1abc=\nP:libssl3\nV:3.1.4-r1\nA:x86_64\nS:1\nI:2\nT:ssl\nL:Apache-2.0\no:openssl\n\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	return buf.Bytes()
}

// osvAlpine is a one-record OSV database: openssl before 3.1.4-r3.
func osvAlpine(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("ALPINE-CVE-2099-31337.json")
	json.NewEncoder(w).Encode(map[string]any{
		"schema_version": "1.6.0", "id": "ALPINE-CVE-2099-31337", "modified": "2026-01-01T00:00:00Z",
		"upstream": []string{"CVE-2099-31337"},
		"severity": []any{map[string]any{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": []any{map[string]any{
			"package": map[string]any{"ecosystem": "Alpine:v3.19", "name": "openssl"},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{
				map[string]any{"introduced": "0"}, map[string]any{"fixed": "3.1.4-r3"}}}},
		}},
	})
	zw.Close()
	return buf.Bytes()
}

// TestBuiltinScanner drives the built-in scanner through the job queue:
// scan on push, the full report, an SBOM stored as an accessory that the
// referrers API lists and that downloads, and scan all with its metrics.
func TestBuiltinScanner(t *testing.T) {
	s := startScanServer(t)
	ctx := context.Background()
	if _, err := scan.New(s.n.db, scan.WithTempDir(t.TempDir())).Import(ctx, bytes.NewReader(osvAlpine(t)), "osv-alpine.zip"); err != nil {
		t.Fatal(err)
	}
	r := s.do("GET", "/api/v2.0/projects/library/scanner", nil)
	s.expect(r, http.StatusOK, "default scanner")
	if !strings.Contains(string(r.body), `"is_default":true`) || !strings.Contains(string(r.body), `"name":"berth"`) {
		t.Fatalf("the built-in scanner is not the default: %s", r.body)
	}

	s.expect(s.do("POST", "/api/v2.0/projects", map[string]any{"project_name": "auto",
		"metadata": map[string]string{"auto_scan": "true"}}), http.StatusCreated, "create project")
	digest := s.push("auto/app", "v1", alpineLayer(t))

	ov := s.waitScan("auto", "app", "v1", scan.MediaTypeVulnReport)
	if ov["scan_status"] != "Success" || ov["severity"] != "Critical" {
		t.Fatalf("scan on push: %v", ov)
	}
	r = s.do("GET", "/api/v2.0/projects/auto/repositories/app/artifacts/v1?with_scan_overview=true", nil,
		"X-Accept-Vulnerabilities", scan.MediaTypeHarborVulnReport)
	if strings.Contains(string(r.body), "scan_overview") {
		t.Fatalf("scan_overview in a type the caller did not accept: %s", r.body)
	}
	r = s.do("GET", "/api/v2.0/projects/auto/repositories/app/artifacts/"+digest+"/additions/vulnerabilities", nil)
	s.expect(r, http.StatusOK, "vulnerabilities")
	var full map[string]scan.Report
	json.Unmarshal(r.body, &full)
	rep := full[scan.MediaTypeVulnReport]
	if len(rep.Vulnerabilities) != 1 || rep.Vulnerabilities[0].ID != "CVE-2099-31337" || rep.Vulnerabilities[0].FixVersion != "3.1.4-r3" {
		t.Fatalf("report: %s", r.body)
	}

	// SBOM: generated as a job, kept as an accessory the referrers API lists.
	s.expect(s.do("POST", "/api/v2.0/projects/auto/repositories/app/artifacts/v1/scan", map[string]string{"scan_type": "sbom"}),
		http.StatusAccepted, "generate sbom")
	var sbom map[string]any
	for deadline := time.Now().Add(2 * time.Minute); ; {
		r = s.do("GET", "/api/v2.0/projects/auto/repositories/app/artifacts/v1?with_sbom_overview=true", nil)
		var art struct {
			SBOMOverview map[string]any `json:"sbom_overview"`
		}
		json.Unmarshal(r.body, &art)
		sbom = art.SBOMOverview
		if st := sbom["scan_status"]; st == "Success" || st == "Error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sbom not generated: %s", r.body)
		}
		time.Sleep(100 * time.Millisecond) // polling an asynchronous job, bounded by the deadline
	}
	sbomDigest, _ := sbom["sbom_digest"].(string)
	if sbom["scan_status"] != "Success" || !strings.HasPrefix(sbomDigest, "sha256:") {
		t.Fatalf("sbom overview: %v", sbom)
	}
	r = s.do("GET", "/v2/auto/app/referrers/"+digest, nil)
	s.expect(r, http.StatusOK, "referrers")
	var idx struct {
		Manifests []struct{ Digest, ArtifactType string }
	}
	json.Unmarshal(r.body, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sbomDigest || idx.Manifests[0].ArtifactType != scan.MediaTypeSPDX {
		t.Fatalf("referrers: %s", r.body)
	}
	r = s.do("GET", "/v2/auto/app/manifests/"+sbomDigest, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
	s.expect(r, http.StatusOK, "sbom manifest")
	var m struct {
		Layers []struct{ Digest, MediaType string }
	}
	json.Unmarshal(r.body, &m)
	if len(m.Layers) != 1 || m.Layers[0].MediaType != scan.MediaTypeSPDX {
		t.Fatalf("sbom manifest: %s", r.body)
	}
	r = s.do("GET", "/v2/auto/app/blobs/"+m.Layers[0].Digest, nil)
	s.expect(r, http.StatusOK, "sbom download")
	if !strings.Contains(string(r.body), `"spdxVersion"`) || !strings.Contains(string(r.body), "libssl3") {
		t.Fatalf("sbom document: %.300s", r.body)
	}
	// The API serves the same bytes as a download (Harbor's sbom addition).
	blob := r.body
	r = s.do("GET", "/api/v2.0/projects/auto/repositories/app/artifacts/"+sbomDigest+"/additions/sbom", nil)
	s.expect(r, http.StatusOK, "sbom addition")
	if !bytes.Equal(r.body, blob) || r.header.Get("Content-Type") != scan.MediaTypeSPDX ||
		r.header.Get("Content-Disposition") != "attachment; filename=sbom.spdx.json" {
		t.Fatalf("sbom addition: %s %s, %d bytes (blob %d)", r.header.Get("Content-Type"), r.header.Get("Content-Disposition"), len(r.body), len(blob))
	}

	// Scan all: every image again, with metrics.
	s.expect(s.do("POST", "/api/v2.0/system/scanAll/schedule", map[string]any{"schedule": map[string]string{"type": "Manual"}}),
		http.StatusCreated, "scan all")
	for deadline := time.Now().Add(2 * time.Minute); ; {
		r = s.do("GET", "/api/v2.0/scans/all/metrics", nil)
		s.expect(r, http.StatusOK, "scan all metrics")
		var st struct {
			Total, Completed int
			Ongoing          bool
			Metrics          map[string]int
			Trigger          string
		}
		json.Unmarshal(r.body, &st)
		if !st.Ongoing {
			if st.Total != 1 || st.Metrics["Success"] != 1 || st.Trigger != "Manual" {
				t.Fatalf("scan all metrics: %s", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan all did not finish: %s", r.body)
		}
		time.Sleep(100 * time.Millisecond) // polling an asynchronous job, bounded by the deadline
	}
}

// TestIndexScan: scanning an index scans its images; the index's
// overview merges them, counting a finding both images share once.
func TestIndexScan(t *testing.T) {
	s := startScanServer(t)
	if _, err := scan.New(s.n.db, scan.WithTempDir(t.TempDir())).Import(context.Background(), bytes.NewReader(osvAlpine(t)), "osv.zip"); err != nil {
		t.Fatal(err)
	}
	layer := alpineLayer(t)
	amd := s.pushArch("library/multi", "amd64", layer, "amd64")
	arm := s.pushArch("library/multi", "arm64", layer, "arm64")
	size := func(tag string) int {
		r := s.do("GET", "/v2/library/multi/manifests/"+tag, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		s.expect(r, http.StatusOK, "get "+tag)
		return len(r.body)
	}
	idx := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + amd + `","size":` + strconv.Itoa(size("amd64")) + `,"platform":{"architecture":"amd64","os":"linux"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + arm + `","size":` + strconv.Itoa(size("arm64")) + `,"platform":{"architecture":"arm64","os":"linux"}}]}`
	s.expect(s.do("PUT", "/v2/library/multi/manifests/v1", []byte(idx), "Content-Type", "application/vnd.oci.image.index.v1+json"),
		http.StatusCreated, "push index")

	s.expect(s.do("POST", "/api/v2.0/projects/library/repositories/multi/artifacts/v1/scan", nil), http.StatusAccepted, "scan index")
	for _, tag := range []string{"amd64", "arm64"} {
		if ov := s.waitScan("library", "multi", tag, scan.MediaTypeVulnReport); ov["scan_status"] != "Success" {
			t.Fatalf("%s: %v", tag, ov)
		}
	}
	ov := s.waitScan("library", "multi", "v1", scan.MediaTypeVulnReport)
	sum, _ := json.Marshal(ov["summary"])
	if ov["scan_status"] != "Success" || ov["severity"] != "Critical" || string(sum) != `{"fixable":1,"summary":{"Critical":1},"total":1}` {
		t.Fatalf("index overview: %v %s", ov, sum)
	}
}
