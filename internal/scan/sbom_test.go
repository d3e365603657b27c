package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// TestSBOM writes both formats for the Alpine test image: every package
// with its purl, relationships from the image, and the same bytes on a
// second run (no database needed).
func TestSBOM(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, meta.SQLite)
	img := alpineImage(t)

	spdx, mt, err := e.SBOM(ctx, img, "spdx")
	if err != nil || mt != MediaTypeSPDX {
		t.Fatalf("SBOM spdx: %q %v", mt, err)
	}
	again, _, err := e.SBOM(ctx, img, MediaTypeSPDX)
	if err != nil || !bytes.Equal(spdx, again) {
		t.Fatalf("SPDX differs between two runs (%v)", err)
	}
	var doc struct {
		SPDXVersion  string `json:"spdxVersion"`
		CreationInfo struct {
			Created string `json:"created"`
		} `json:"creationInfo"`
		Packages []struct {
			SPDXID       string `json:"SPDXID"`
			Name         string `json:"name"`
			VersionInfo  string `json:"versionInfo"`
			ExternalRefs []struct {
				Type    string `json:"referenceType"`
				Locator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
		Relationships []struct {
			Element, Type, Related string
		} `json:"relationships"`
	}
	if err := json.Unmarshal(spdx, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2024-05-01T10:00:00Z" {
		t.Errorf("SPDX header = %q %q", doc.SPDXVersion, doc.CreationInfo.Created)
	}
	purls := map[string]bool{}
	ids := map[string]bool{}
	for _, p := range doc.Packages {
		if ids[p.SPDXID] {
			t.Errorf("duplicate SPDXID %s", p.SPDXID)
		}
		ids[p.SPDXID] = true
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				purls[r.Locator] = true
			}
		}
	}
	for _, want := range []string{
		"pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=3.19.1&origin=zlib",
		"pkg:npm/lodash@4.17.20",
		"pkg:golang/github.com/google/uuid@1.6.0",
		"pkg:pypi/django@3.2.0",
		"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
	} {
		if !purls[want] {
			t.Errorf("SPDX lacks %s; has %v", want, purls)
		}
	}
	if len(doc.Relationships) != len(doc.Packages) {
		t.Errorf("%d relationships for %d packages", len(doc.Relationships), len(doc.Packages))
	}

	cdx, mt, err := e.SBOM(ctx, img, "cyclonedx")
	if err != nil || mt != MediaTypeCycloneDX {
		t.Fatalf("SBOM cyclonedx: %q %v", mt, err)
	}
	var c struct {
		BOMFormat, SpecVersion, SerialNumber string
		Components                           []struct {
			Type, Name, Version, PURL string
		}
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	if err := json.Unmarshal(cdx, &c); err != nil {
		t.Fatal(err)
	}
	if c.BOMFormat != "CycloneDX" || c.SpecVersion != "1.5" || len(c.SerialNumber) != len("urn:uuid:")+36 {
		t.Errorf("CycloneDX header = %+v", c)
	}
	found := false
	for _, comp := range c.Components {
		if comp.PURL == "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1" && comp.Type == "library" {
			found = true
		}
	}
	if !found || len(c.Dependencies) != 1 || len(c.Dependencies[0].DependsOn) != len(c.Components) {
		t.Errorf("CycloneDX components/dependencies = %+v", c)
	}

	if _, _, err := e.SBOM(ctx, img, "text/plain"); !errs.Is(err, errs.Invalid) {
		t.Errorf("unknown format: %v, want Invalid", err)
	}
}

// TestSBOMReadByStandardTools reads both documents with the SPDX and
// CycloneDX projects' own Go libraries: field names and types are what
// other tools expect.
func TestSBOMReadByStandardTools(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, meta.SQLite)
	img := alpineImage(t)
	inv, err := e.Inventory(ctx, img)
	if err != nil {
		t.Fatal(err)
	}

	raw, _, err := e.SBOMOf(img, inv, "spdx")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("SPDX tools cannot read the document: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) != len(inv.Packages)+1 || len(doc.Relationships) != len(inv.Packages)+1 {
		t.Errorf("SPDX: version %q, %d packages, %d relationships for %d found", doc.SPDXVersion, len(doc.Packages),
			len(doc.Relationships), len(inv.Packages))
	}
	purls := 0
	for _, p := range doc.Packages {
		for _, r := range p.PackageExternalReferences {
			if r.RefType == "purl" && strings.HasPrefix(r.Locator, "pkg:") {
				purls++
			}
		}
	}
	if purls != len(inv.Packages) {
		t.Errorf("SPDX: %d purls for %d packages", purls, len(inv.Packages))
	}

	raw, _, err = e.SBOMOf(img, inv, "cyclonedx")
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(raw), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("CycloneDX tools cannot read the document: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_5 || bom.Components == nil || len(*bom.Components) != len(inv.Packages)+1 {
		t.Fatalf("CycloneDX: spec %v, components %v", bom.SpecVersion, bom.Components)
	}
	for _, c := range *bom.Components {
		if c.Type == cdx.ComponentTypeLibrary && !strings.HasPrefix(c.PackageURL, "pkg:") {
			t.Errorf("CycloneDX component %s has purl %q", c.Name, c.PackageURL)
		}
	}
}
