package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// SBOMs are written from the inventory with small structs of our own
// rather than a document library: the subset of SPDX 2.3 and CycloneDX
// 1.5 a package list needs is small, and this keeps the bytes stable.
// The same image always gives the same document: ids are derived from
// the image digest and package data, the time is the image config's
// "created" (the clock only when the config has none), and packages are
// in a fixed order.

// SBOM returns an SBOM of img's packages as format, which is
// MediaTypeSPDX (SPDX 2.3 JSON) or MediaTypeCycloneDX (CycloneDX 1.5
// JSON); "spdx" and "cyclonedx" are accepted too. It returns the
// document and its media type. An unknown format is errs.Invalid. SBOM
// does not need the vulnerability database.
func (e *Engine) SBOM(ctx context.Context, img Image, format string) ([]byte, string, error) {
	mt, err := sbomMediaType(format)
	if err != nil {
		return nil, "", err
	}
	inv, err := e.Inventory(ctx, img)
	if err != nil {
		return nil, "", err
	}
	return e.SBOMOf(img, inv, mt)
}

// SBOMOf writes the SBOM of an inventory already taken (so that a scan
// and an SBOM of one image read its layers once).
func (e *Engine) SBOMOf(img Image, inv Inventory, format string) ([]byte, string, error) {
	mt, err := sbomMediaType(format)
	if err != nil {
		return nil, "", err
	}
	created := e.created(img)
	var doc any
	if mt == MediaTypeSPDX {
		doc = e.spdx(img, inv, created)
	} else {
		doc = e.cyclonedx(img, inv, created)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, "", err
	}
	return append(b, '\n'), mt, nil
}

func sbomMediaType(format string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case MediaTypeSPDX, "spdx", "spdx-json", "spdx+json":
		return MediaTypeSPDX, nil
	case MediaTypeCycloneDX, "cyclonedx", "cyclonedx-json", "cyclonedx+json":
		return MediaTypeCycloneDX, nil
	}
	return "", errs.Invalidf("sbom format %q: want %s or %s", format, MediaTypeSPDX, MediaTypeCycloneDX)
}

// created is the image config's creation time, or now.
func (e *Engine) created(img Image) time.Time {
	var cfg struct {
		Created time.Time `json:"created"`
	}
	if len(img.Config) > 0 && json.Unmarshal(img.Config, &cfg) == nil && !cfg.Created.IsZero() {
		return cfg.Created.UTC().Truncate(time.Second)
	}
	return e.now().UTC().Truncate(time.Second)
}

// pkgRef is a stable id for a package within a document.
func pkgRef(p Package) string {
	h := sha256.Sum256([]byte(p.Type + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Location + "\x00" + p.PURL))
	return hex.EncodeToString(h[:8])
}

func imageName(img Image) string {
	switch {
	case img.Repository != "" && img.Digest != "":
		return img.Repository + "@" + img.Digest
	case img.Repository != "":
		return img.Repository
	case img.Digest != "":
		return img.Digest
	}
	return "image"
}

type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string        `json:"name"`
	SPDXID           string        `json:"SPDXID"`
	VersionInfo      string        `json:"versionInfo,omitempty"`
	DownloadLocation string        `json:"downloadLocation"`
	FilesAnalyzed    bool          `json:"filesAnalyzed"`
	LicenseConcluded string        `json:"licenseConcluded"`
	LicenseDeclared  string        `json:"licenseDeclared"`
	CopyrightText    string        `json:"copyrightText"`
	SourceInfo       string        `json:"sourceInfo,omitempty"`
	PrimaryPurpose   string        `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []spdxExtRef  `json:"externalRefs,omitempty"`
	Checksums        []spdxSummary `json:"checksums,omitempty"`
}

type spdxSummary struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExtRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

func (e *Engine) spdx(img Image, inv Inventory, created time.Time) spdxDoc {
	name := imageName(img)
	ns := sha256.Sum256([]byte(name))
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: name,
		DocumentNamespace: "https://spdx.org/spdxdocs/berth/" + hex.EncodeToString(ns[:16]),
		CreationInfo: spdxCreation{Created: created.Format(time.RFC3339),
			Creators: []string{"Tool: " + e.scanner.Name + "-" + e.scanner.Version}},
		Packages:      []spdxPackage{},
		Relationships: []spdxRelationship{},
	}
	root := spdxPackage{Name: name, SPDXID: "SPDXRef-Image", DownloadLocation: "NOASSERTION",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		PrimaryPurpose: "CONTAINER"}
	if alg, hexsum, ok := strings.Cut(img.Digest, ":"); ok && alg == "sha256" {
		root.VersionInfo = img.Digest
		root.Checksums = []spdxSummary{{Algorithm: "SHA256", ChecksumValue: hexsum}}
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"})
	for _, p := range inv.Packages {
		id := "SPDXRef-Package-" + pkgRef(p)
		sp := spdxPackage{Name: p.Name, SPDXID: id, VersionInfo: p.Version, DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			PrimaryPurpose: "LIBRARY"}
		if p.Location != "" {
			sp.SourceInfo = fmt.Sprintf("%s package found in /%s", p.Type, p.Location)
		}
		if p.PURL != "" {
			sp.ExternalRefs = []spdxExtRef{{"PACKAGE-MANAGER", "purl", p.PURL}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-Image", "CONTAINS", id})
	}
	return doc
}

type cdxDoc struct {
	BOMFormat    string         `json:"bomFormat"`
	SpecVersion  string         `json:"specVersion"`
	SerialNumber string         `json:"serialNumber"`
	Version      int            `json:"version"`
	Metadata     cdxMetadata    `json:"metadata"`
	Components   []cdxComponent `json:"components"`
	Dependencies []cdxDep       `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Tools     cdxTools     `json:"tools"`
	Component cdxComponent `json:"component"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	BOMRef     string        `json:"bom-ref,omitempty"`
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Version    string        `json:"version,omitempty"`
	PURL       string        `json:"purl,omitempty"`
	Licenses   []cdxLicense  `json:"licenses,omitempty"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxLicense struct {
	License struct {
		Name string `json:"name"`
	} `json:"license"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDep struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

func (e *Engine) cyclonedx(img Image, inv Inventory, created time.Time) cdxDoc {
	name := imageName(img)
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x50 // a name-based (v5-style) UUID
	h[8] = h[8]&0x3f | 0x80
	u := hex.EncodeToString(h[:16])
	serial := fmt.Sprintf("urn:uuid:%s-%s-%s-%s-%s", u[0:8], u[8:12], u[12:16], u[16:20], u[20:32])
	root := cdxComponent{BOMRef: "image", Type: "container", Name: name, Version: img.Digest}
	doc := cdxDoc{BOMFormat: "CycloneDX", SpecVersion: "1.5", SerialNumber: serial, Version: 1,
		Metadata: cdxMetadata{Timestamp: created.Format(time.RFC3339),
			Tools: cdxTools{Components: []cdxComponent{{Type: "application", Name: e.scanner.Name,
				Version: e.scanner.Version}}},
			Component: root},
		Components: []cdxComponent{}}
	dep := cdxDep{Ref: "image", DependsOn: []string{}}
	if inv.Distro.ID != "" {
		c := cdxComponent{BOMRef: "os", Type: "operating-system", Name: inv.Distro.ID, Version: inv.Distro.VersionID}
		doc.Components = append(doc.Components, c)
		dep.DependsOn = append(dep.DependsOn, "os")
	}
	for _, p := range inv.Packages {
		ref := "pkg-" + pkgRef(p)
		c := cdxComponent{BOMRef: ref, Type: "library", Name: p.Name, Version: p.Version, PURL: p.PURL}
		for _, l := range p.Licenses {
			var cl cdxLicense
			cl.License.Name = l
			c.Licenses = append(c.Licenses, cl)
		}
		c.Properties = append(c.Properties, cdxProperty{"berth:package:type", p.Type})
		if p.Location != "" {
			c.Properties = append(c.Properties, cdxProperty{"berth:package:location", "/" + p.Location})
		}
		if p.SourceName != "" {
			c.Properties = append(c.Properties, cdxProperty{"berth:package:source", p.SourceName})
		}
		doc.Components = append(doc.Components, c)
		dep.DependsOn = append(dep.DependsOn, ref)
	}
	doc.Dependencies = []cdxDep{dep}
	return doc
}
