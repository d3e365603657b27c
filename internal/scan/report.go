package scan

import (
	"encoding/json"
	"strings"
	"time"
)

// Media types of what the engine produces. The vulnerability report is
// Harbor's "native" report (version 1.1, with CVSS and CWE); the SBOM
// formats are the documents' own types; the SBOM report wraps one of them
// the way Harbor's pluggable scanner API does.
const (
	MediaTypeVulnReport       = "application/vnd.security.vulnerability.report; version=1.1"
	MediaTypeHarborVulnReport = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
	MediaTypeSBOMReport       = "application/vnd.security.sbom.report+json; version=1.0"
	MediaTypeSPDX             = "application/spdx+json"
	MediaTypeCycloneDX        = "application/vnd.cyclonedx+json"
)

// Severity is Harbor's severity label.
type Severity string

// The severities Harbor knows, lowest first.
const (
	SeverityNone       Severity = "None"
	SeverityUnknown    Severity = "Unknown"
	SeverityNegligible Severity = "Negligible"
	SeverityLow        Severity = "Low"
	SeverityMedium     Severity = "Medium"
	SeverityHigh       Severity = "High"
	SeverityCritical   Severity = "Critical"
)

// Code orders severities the way Harbor's pull policy does: None and
// Unknown 0, Negligible 1, Low 2, Medium 3, High 4, Critical 5. A label
// Harbor does not know is 99, so that it blocks rather than passes.
func (s Severity) Code() int {
	switch s {
	case SeverityNone, SeverityUnknown, "":
		return 0
	case SeverityNegligible:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium:
		return 3
	case SeverityHigh:
		return 4
	case SeverityCritical:
		return 5
	}
	return 99
}

// ParseSeverity reads a label in any case ("high", "HIGH", "moderate"),
// as found in OSV's database_specific.severity and in project settings.
// Anything else is Unknown.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none":
		return SeverityNone
	case "negligible", "unimportant":
		return SeverityNegligible
	case "low":
		return SeverityLow
	case "medium", "moderate":
		return SeverityMedium
	case "high", "important":
		return SeverityHigh
	case "critical":
		return SeverityCritical
	}
	return SeverityUnknown
}

// MaxSeverity returns the more severe of a and b by Harbor's order; on a
// tie between None and Unknown it prefers Unknown.
func MaxSeverity(a, b Severity) Severity {
	if b.Code() > a.Code() || (b.Code() == a.Code() && b == SeverityUnknown) {
		return b
	}
	return a
}

// Scanner names the scanner that made a report.
type Scanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

// Artifact names the scanned artifact.
type Artifact struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	MimeType   string `json:"mime_type,omitempty"`
}

// CVSS is Harbor's preferred_cvss: the scores and vectors the severity
// was taken from. Scores are computed from the vectors.
type CVSS struct {
	ScoreV3  *float64 `json:"score_v3,omitempty"`
	ScoreV2  *float64 `json:"score_v2,omitempty"`
	VectorV3 string   `json:"vector_v3,omitempty"`
	VectorV2 string   `json:"vector_v2,omitempty"`
}

// Vulnerability is one finding: one advisory affecting one installed
// package. ID is the CVE id when the advisory has one (so that Harbor's
// CVE allowlists work), otherwise the OSV id.
type Vulnerability struct {
	ID          string   `json:"id"`
	Package     string   `json:"package"`
	Version     string   `json:"version"`
	FixVersion  string   `json:"fix_version"`
	Severity    Severity `json:"severity"`
	Description string   `json:"description"`
	Links       []string `json:"links"`
	// PURL identifies the affected package (pkg:deb/debian/openssl@…).
	PURL          string   `json:"purl,omitempty"`
	PreferredCVSS *CVSS    `json:"preferred_cvss,omitempty"`
	CWEIDs        []string `json:"cwe_ids"`
	// VendorAttributes carries what Harbor has no field for:
	//   "osv_id"     the OSV record id (GO-2024-…, DSA-…, GHSA-…),
	//   "aliases"    every other id of the advisory ([]string),
	//   "ecosystem"  the OSV ecosystem matched (Debian:12, Go, …),
	//   "source_package" the source/origin package matched, when the
	//                installed package is a binary package of it,
	//   "CVSS"       {"osv": {"V3Vector", "V3Score", "V2Vector", "V2Score"}}
	//                in the shape Harbor's UI reads from Trivy.
	VendorAttributes map[string]any `json:"vendor_attributes,omitempty"`
}

// Report is Harbor's vulnerability report (MediaTypeVulnReport). Severity
// is the highest severity among the findings, None when there are none.
// Vulnerabilities are sorted by severity (highest first), then package,
// then id, so the same inputs give the same bytes.
type Report struct {
	GeneratedAt     time.Time       `json:"generated_at"`
	Artifact        *Artifact       `json:"artifact,omitempty"`
	Scanner         Scanner         `json:"scanner"`
	Severity        Severity        `json:"severity"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
}

// Summary counts findings the way Harbor's scan_overview does.
type Summary struct {
	Total   int              `json:"total"`
	Fixable int              `json:"fixable"`
	Summary map[Severity]int `json:"summary"`
}

// Summarize counts r's findings by severity; fixable ones have a fix
// version.
func (r *Report) Summarize() Summary {
	s := Summary{Summary: map[Severity]int{}}
	for _, v := range r.Vulnerabilities {
		s.Total++
		if v.FixVersion != "" {
			s.Fixable++
		}
		s.Summary[v.Severity]++
	}
	return s
}

// SBOMReport is the wrapper Harbor's pluggable scanner API uses for SBOMs
// (MediaTypeSBOMReport): SBOM holds the document itself (SPDX or
// CycloneDX JSON), MediaType says which.
type SBOMReport struct {
	GeneratedAt      time.Time       `json:"generated_at"`
	Artifact         *Artifact       `json:"artifact,omitempty"`
	Scanner          Scanner         `json:"scanner"`
	VendorAttributes map[string]any  `json:"vendor_attributes,omitempty"`
	MediaType        string          `json:"media_type"`
	SBOM             json.RawMessage `json:"sbom"`
}

// Package is one installed package found in an image.
type Package struct {
	// Name is the name as installed (binary package for apk/dpkg/rpm,
	// module path for Go, groupId:artifactId for Maven).
	Name    string
	Version string
	// Ecosystem is the OSV ecosystem the package is matched in, with the
	// distro release where OSV needs one ("Debian:12", "Alpine:v3.19",
	// "Go", "npm", "PyPI", "Maven", "Red Hat"…). Empty when the distro
	// release is unknown; such packages are listed but never matched.
	Ecosystem string
	// SourceName is the source package (dpkg Source, apk origin, rpm
	// source rpm name) OSV distro advisories are keyed by; empty for
	// language packages.
	SourceName string
	// SourceVersion is the source package's version when it differs
	// from Version (dpkg "Source: name (version)").
	SourceVersion string
	// PURL is the package URL (pkg:apk/alpine/musl@1.2.4-r2?arch=…).
	PURL string
	// Type is the kind of finder that found it: "apk", "dpkg", "rpm",
	// "go-binary", "npm", "python", "java-archive".
	Type string
	// Location is the path of the file it was found in, in the image.
	Location string
	// Licenses as declared by the package database, when it says.
	Licenses []string
}

// Distro is the image's operating system from /etc/os-release.
type Distro struct {
	ID        string // "alpine", "debian", "ubuntu", "rhel", …
	VersionID string // "3.19.1", "12", "22.04"
	Pretty    string
}

// Inventory is what package discovery found in an image.
type Inventory struct {
	Distro   Distro
	Packages []Package
}

// DBInfo describes the vulnerability database in use.
type DBInfo struct {
	// Loaded is false when no database has been imported yet; scans then
	// fail with errs.Unavailable.
	Loaded bool `json:"loaded"`
	// Source is the file name or URL it was imported from.
	Source string `json:"source"`
	// Checksum is the sha256 of the imported archive ("sha256:…").
	Checksum string `json:"checksum"`
	// ImportedAt is when the import finished.
	ImportedAt time.Time `json:"imported_at"`
	// UpdatedAt is the newest "modified" time among its records: how
	// fresh the data is, as opposed to when it was copied here.
	UpdatedAt time.Time `json:"updated_at"`
	// Records counts advisories; Ecosystems counts them per ecosystem
	// (without the release: "Debian", "Go", …).
	Records    int            `json:"records"`
	Ecosystems map[string]int `json:"ecosystems"`
}
