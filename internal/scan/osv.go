package scan

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/osv-scalibr/semantic"
)

// osvRecord is the part of an OSV record (schema 1.x) the engine uses.
type osvRecord struct {
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Withdrawn        string          `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Upstream         []string        `json:"upstream"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []osvSeverity   `json:"severity"`
	Affected         []osvAffected   `json:"affected"`
	References       []osvReference  `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl"`
	} `json:"package"`
	Severity         []osvSeverity   `json:"severity"`
	Ranges           []osvRange      `json:"ranges"`
	Versions         []string        `json:"versions"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

type osvRange struct {
	Type   string     `json:"type"`
	Events []osvEvent `json:"events"`
}

// osvEvent holds exactly one of its fields.
type osvEvent struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

type osvReference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// modifiedTime parses the record's modified time; zero when absent or
// malformed.
func (r *osvRecord) modifiedTime() time.Time {
	t, err := time.Parse(time.RFC3339Nano, r.Modified)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// ecosystemBase strips the release from an OSV ecosystem: "Debian:12"
// is "Debian", "Ubuntu:Pro:18.04:LTS" is "Ubuntu".
func ecosystemBase(eco string) string {
	base, _, _ := strings.Cut(eco, ":")
	return base
}

var pypiSeparators = regexp.MustCompile(`[-_.]+`)

// normalizeName returns the form of a package name that OSV records and
// the package index compare: PEP 503 names for PyPI, as given otherwise.
func normalizeName(eco, name string) string {
	if ecosystemBase(eco) == "PyPI" {
		return strings.ToLower(pypiSeparators.ReplaceAllString(name, "-"))
	}
	return name
}

// cveID picks the id a finding is reported under: a CVE id when the
// record or its aliases or upstream ids have one, so that CVE allowlists
// apply; the record's own id otherwise.
func (r *osvRecord) cveID() string {
	if strings.HasPrefix(r.ID, "CVE-") {
		return r.ID
	}
	for _, ids := range [][]string{r.Aliases, r.Upstream} {
		for _, a := range ids {
			if strings.HasPrefix(a, "CVE-") {
				return a
			}
		}
	}
	return r.ID
}

// affects reports whether version of the package is affected by the
// entry a, and the version that fixes it (empty when none is known). The
// entry's ranges are read as OSV defines them: events sorted by version,
// "introduced" opens a range, "fixed" closes it before the version,
// "last_affected" closes it after.
func (a *osvAffected) affects(version string) (bool, string) {
	if version == "" {
		return false, ""
	}
	eco := ecosystemBase(a.Package.Ecosystem)
	if slices.Contains(a.Versions, version) {
		return true, a.nextFixed(eco, version)
	}
	for _, rg := range a.Ranges {
		if rg.Type != "ECOSYSTEM" && rg.Type != "SEMVER" {
			continue
		}
		parseEco := eco
		if rg.Type == "SEMVER" {
			parseEco = "Go" // plain SemVer 2.0 ordering; leading "v" tolerated
		}
		if ok, fixed := rangeAffects(rg, parseEco, version); ok {
			return true, fixed
		}
	}
	return false, ""
}

// nextFixed returns the lowest "fixed" version above version in any of
// a's ranges, for packages listed by explicit versions.
func (a *osvAffected) nextFixed(eco, version string) string {
	v, err := semantic.Parse(version, eco)
	if err != nil {
		return ""
	}
	best := ""
	for _, rg := range a.Ranges {
		for _, e := range rg.Events {
			if e.Fixed == "" {
				continue
			}
			if c, err := v.CompareStr(e.Fixed); err != nil || c >= 0 {
				continue
			}
			if best == "" || less(eco, e.Fixed, best) {
				best = e.Fixed
			}
		}
	}
	return best
}

func less(eco, a, b string) bool {
	v, err := semantic.Parse(a, eco)
	if err != nil {
		return false
	}
	c, err := v.CompareStr(b)
	return err == nil && c < 0
}

// rangeAffects walks one range's events in version order.
func rangeAffects(rg osvRange, eco, version string) (bool, string) {
	v, err := semantic.Parse(version, eco)
	if err != nil {
		return false, ""
	}
	type ev struct {
		kind, ver string
		zero      bool
	}
	evs := make([]ev, 0, len(rg.Events))
	for _, e := range rg.Events {
		switch {
		case e.Introduced != "":
			evs = append(evs, ev{"introduced", e.Introduced, e.Introduced == "0"})
		case e.Fixed != "":
			evs = append(evs, ev{"fixed", e.Fixed, false})
		case e.LastAffected != "":
			evs = append(evs, ev{"last_affected", e.LastAffected, false})
		}
	}
	// Sort by version; "introduced: 0" is below everything. A version
	// that does not parse sorts as the ecosystem parser says (parsers are
	// lenient), and ties keep the record's order.
	slices.SortStableFunc(evs, func(a, b ev) int {
		switch {
		case a.zero && b.zero:
			return 0
		case a.zero:
			return -1
		case b.zero:
			return 1
		}
		pa, err := semantic.Parse(a.ver, eco)
		if err != nil {
			return 0
		}
		c, err := pa.CompareStr(b.ver)
		if err != nil {
			return 0
		}
		return c
	})
	affected := false
	for _, e := range evs {
		switch e.kind {
		case "introduced":
			if affected {
				continue
			}
			if e.zero {
				affected = true
			} else if c, err := v.CompareStr(e.ver); err == nil && c >= 0 {
				affected = true
			}
		case "fixed":
			if !affected {
				continue
			}
			if c, err := v.CompareStr(e.ver); err == nil && c >= 0 {
				affected = false
			} else {
				return true, e.ver
			}
		case "last_affected":
			if !affected {
				continue
			}
			if c, err := v.CompareStr(e.ver); err == nil && c > 0 {
				affected = false
			} else {
				return true, ""
			}
		}
	}
	if affected {
		return true, ""
	}
	return false, ""
}

// severity works out the finding's severity and CVSS details: CVSS v3
// then v2 vectors of the affected entry, then of the record, then a
// severity label the source database gives (GitHub's
// database_specific.severity, Ubuntu's priority); Unknown otherwise.
func (r *osvRecord) severity(a *osvAffected) (Severity, *CVSS) {
	var cv CVSS
	sev := Severity("")
	for _, list := range [][]osvSeverity{a.Severity, r.Severity} {
		for _, s := range list {
			switch s.Type {
			case "CVSS_V3":
				if score, ok := cvss3Score(s.Score); ok && cv.VectorV3 == "" {
					cv.VectorV3, cv.ScoreV3 = s.Score, &score
				}
			case "CVSS_V2":
				if score, ok := cvss2Score(s.Score); ok && cv.VectorV2 == "" {
					cv.VectorV2, cv.ScoreV2 = s.Score, &score
				}
			case "Ubuntu":
				if sev == "" {
					if l := ParseSeverity(s.Score); l != SeverityUnknown {
						sev = l
					}
				}
			}
		}
	}
	var out *CVSS
	if cv.VectorV3 != "" || cv.VectorV2 != "" {
		out = &cv
	}
	switch {
	case cv.ScoreV3 != nil:
		return severityV3(*cv.ScoreV3), out
	case cv.ScoreV2 != nil:
		return severityV2(*cv.ScoreV2), out
	case sev != "":
		return sev, out
	}
	for _, raw := range []json.RawMessage{a.DatabaseSpecific, r.DatabaseSpecific} {
		var ds struct {
			Severity any `json:"severity"`
		}
		if len(raw) == 0 || json.Unmarshal(raw, &ds) != nil {
			continue
		}
		if s, ok := ds.Severity.(string); ok {
			if l := ParseSeverity(s); l != SeverityUnknown {
				return l, out
			}
		}
	}
	return SeverityUnknown, out
}

// links are the record's reference URLs, advisories first, then the
// record's osv.dev page; duplicates dropped.
func (r *osvRecord) links() []string {
	out := []string{}
	seen := map[string]bool{}
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, ref := range r.References {
		if ref.Type == "ADVISORY" {
			add(ref.URL)
		}
	}
	for _, ref := range r.References {
		add(ref.URL)
	}
	add("https://osv.dev/vulnerability/" + r.ID)
	return out
}

// description is the summary, or the details when there is no summary,
// cut to a length a report can carry.
func (r *osvRecord) description() string {
	d := r.Summary
	if d == "" {
		d = r.Details
	}
	const max = 2000
	if len(d) > max {
		cut := max
		for cut > 0 && d[cut]&0xC0 == 0x80 { // keep UTF-8 whole
			cut--
		}
		d = d[:cut] + "…"
	}
	return d
}
