package scan

import (
	"testing"

	"github.com/google/osv-scalibr/semantic"
)

// TestVersionOrder pins the per-ecosystem orderings the matcher relies
// on, at the edges where comparing strings or plain numbers goes wrong.
func TestVersionOrder(t *testing.T) {
	for _, c := range []struct {
		eco, a, b string
		want      int // sign of a compared with b
	}{
		// dpkg: epochs win over everything; '~' sorts before anything,
		// even the end of the string; revisions compare by parts.
		{"Debian", "1:1.0-1", "2.0-1", 1},
		{"Debian", "0:2.0-1", "2.0-1", 0},
		{"Debian", "1.0~rc1-1", "1.0-1", -1},
		{"Debian", "3.0.11-1~deb12u2", "3.0.11-1~deb12u3", -1},
		{"Debian", "3.0.11-1~deb12u2", "3.0.11-1", -1},
		{"Debian", "1.0-1~~", "1.0-1~", -1},
		{"Debian", "5.2.15-2+b2", "5.2.15-2", 1},
		{"Debian", "1.10-1", "1.9-1", 1},
		{"Ubuntu", "2.35-0ubuntu3.6", "2.35-0ubuntu3.10", -1},
		// apk: -rN revisions are numbers; _rc/_alpha below the release,
		// _p (patch) above it.
		{"Alpine", "1.36.1-r15", "1.36.1-r2", 1},
		{"Alpine", "1.2.4-r2", "1.2.4-r2", 0},
		{"Alpine", "3.1.4_rc1-r0", "3.1.4-r0", -1},
		{"Alpine", "3.1.4_alpha-r0", "3.1.4_rc1-r0", -1},
		{"Alpine", "1.36.1_p1-r0", "1.36.1-r15", 1},
		{"Alpine", "1.10-r0", "1.9-r0", 1},
		// rpm (rpmvercmp): epochs, '~' before release, '^' after,
		// numbers by value, letters below numbers.
		{"Red Hat", "1:3.0.7-24.el9", "3.0.7-27.el9", 1},
		{"Red Hat", "3.0.7-24.el9", "3.0.7-25.el9_3", -1},
		{"Red Hat", "1.0~rc1-1", "1.0-1", -1},
		{"Red Hat", "1.0^git1-1", "1.0-1", 1},
		{"Red Hat", "1.10-1", "1.9-1", 1},
		{"Red Hat", "1.0a-1", "1.0.1-1", -1},
		// SemVer (Go, npm): pre-releases before the release, build
		// metadata ignored, numeric identifiers by value.
		{"Go", "v1.6.0", "1.6.0", 0},
		{"Go", "1.7.0-rc.1", "1.7.0", -1},
		{"Go", "1.7.0-rc.10", "1.7.0-rc.9", 1},
		{"Go", "1.7.0+meta", "1.7.0", 0},
		{"npm", "4.17.20", "4.17.21", -1},
		{"npm", "1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"npm", "1.0.0-beta.2", "1.0.0-beta.11", -1},
		// PEP 440: dev < pre < release < post; epochs; normalised forms.
		{"PyPI", "3.2.0rc1", "3.2.0", -1},
		{"PyPI", "3.2.0.dev1", "3.2.0a1", -1},
		{"PyPI", "3.2.0.post1", "3.2.0", 1},
		{"PyPI", "1!1.0", "2.0", 1},
		{"PyPI", "3.2", "3.2.0", 0},
		{"PyPI", "3.2.0-RC1", "3.2.0rc1", 0},
		// Maven: qualifiers alpha < beta < milestone < rc < snapshot <
		// release < sp; trailing zeros ignored.
		{"Maven", "2.0-beta9", "2.0", -1},
		{"Maven", "2.14.1", "2.15.0", -1},
		{"Maven", "2.15.0-rc1", "2.15.0", -1},
		{"Maven", "1.0-SNAPSHOT", "1.0", -1},
		{"Maven", "1.0.0", "1", 0},
		{"Maven", "1.0-sp1", "1.0", 1},
		{"Maven", "1.0-alpha1", "1.0-beta1", -1},
	} {
		v, err := semantic.Parse(c.a, c.eco)
		if err != nil {
			t.Fatalf("parse %s %q: %v", c.eco, c.a, err)
		}
		got, err := v.CompareStr(c.b)
		if err != nil {
			t.Fatalf("compare %s %q %q: %v", c.eco, c.a, c.b, err)
		}
		if sign(got) != c.want {
			t.Errorf("%s: compare(%q, %q) = %d, want %d", c.eco, c.a, c.b, sign(got), c.want)
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// TestAffects walks OSV ranges: introduced/fixed/last_affected events in
// any order, several ranges, explicit version lists.
func TestAffects(t *testing.T) {

	for _, c := range []struct {
		name      string
		eco, rtyp string
		events    []osvEvent
		versions  []string
		installed string
		hit       bool
		fix       string
	}{
		{"below fix", "Debian:12", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "1.2-1"}}, nil, "1.1-1", true, "1.2-1"},
		{"at fix", "Debian:12", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "1.2-1"}}, nil, "1.2-1", false, ""},
		{"epoch above fix", "Debian:12", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "2.0-1"}}, nil, "1:1.0-1", false, ""},
		{"tilde below fix", "Debian:12", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "1.2-1"}}, nil, "1.2-1~bpo1", true, "1.2-1"},
		{"before introduced", "Alpine:v3.19", "ECOSYSTEM", []osvEvent{{Introduced: "1.5-r0"}, {Fixed: "1.6-r0"}}, nil, "1.4-r9", false, ""},
		{"at introduced", "Alpine:v3.19", "ECOSYSTEM", []osvEvent{{Introduced: "1.5-r0"}, {Fixed: "1.6-r0"}}, nil, "1.5-r0", true, "1.6-r0"},
		{"apk revision", "Alpine:v3.19", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "1.36.1-r2"}}, nil, "1.36.1-r15", false, ""},
		{"last_affected inclusive", "Go", "SEMVER", []osvEvent{{Introduced: "0"}, {LastAffected: "1.4.0"}}, nil, "1.4.0", true, ""},
		{"after last_affected", "Go", "SEMVER", []osvEvent{{Introduced: "0"}, {LastAffected: "1.4.0"}}, nil, "1.4.1", false, ""},
		{"second range", "npm", "SEMVER", []osvEvent{{Introduced: "1.0.0"}, {Fixed: "1.2.0"}, {Introduced: "2.0.0"}, {Fixed: "2.3.1"}}, nil, "2.1.0", true, "2.3.1"},
		{"between ranges", "npm", "SEMVER", []osvEvent{{Introduced: "1.0.0"}, {Fixed: "1.2.0"}, {Introduced: "2.0.0"}, {Fixed: "2.3.1"}}, nil, "1.5.0", false, ""},
		{"events out of order", "npm", "SEMVER", []osvEvent{{Fixed: "2.3.1"}, {Introduced: "2.0.0"}, {Fixed: "1.2.0"}, {Introduced: "1.0.0"}}, nil, "1.1.0", true, "1.2.0"},
		{"pre-release below fix", "Go", "SEMVER", []osvEvent{{Introduced: "0"}, {Fixed: "1.7.0"}}, nil, "1.7.0-rc.1", true, "1.7.0"},
		{"pep440 rc below fix", "PyPI", "ECOSYSTEM", []osvEvent{{Introduced: "3.0"}, {Fixed: "3.2.1"}}, nil, "3.2.1rc1", true, "3.2.1"},
		{"pep440 post above fix", "PyPI", "ECOSYSTEM", []osvEvent{{Introduced: "3.0"}, {Fixed: "3.2.1"}}, nil, "3.2.1.post1", false, ""},
		{"maven beta introduced", "Maven", "ECOSYSTEM", []osvEvent{{Introduced: "2.0-beta9"}, {Fixed: "2.15.0"}}, nil, "2.0-alpha1", false, ""},
		{"rpm epoch", "AlmaLinux:9", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "3.0.7-27.el9"}}, nil, "1:3.0.7-24.el9", false, ""},
		{"listed version", "PyPI", "ECOSYSTEM", nil, []string{"1.0", "1.1"}, "1.1", true, ""},
		{"unlisted version", "PyPI", "ECOSYSTEM", nil, []string{"1.0", "1.1"}, "1.2", false, ""},
		{"listed with a fix", "PyPI", "ECOSYSTEM", []osvEvent{{Introduced: "0"}, {Fixed: "2.0"}}, []string{"1.1"}, "1.1", true, "2.0"},
		{"git range ignored", "Go", "GIT", []osvEvent{{Introduced: "0"}, {Fixed: "abc123"}}, nil, "1.0.0", false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a osvAffected
			a.Package.Ecosystem = c.eco
			a.Versions = c.versions
			if c.events != nil {
				a.Ranges = []osvRange{{Type: c.rtyp, Events: c.events}}
			}
			hit, fix := a.affects(c.installed)
			if hit != c.hit || fix != c.fix {
				t.Errorf("affects(%q) = %v, %q; want %v, %q", c.installed, hit, fix, c.hit, c.fix)
			}
		})
	}

}

func TestCVSS(t *testing.T) {
	for _, c := range []struct {
		vector string
		score  float64
		sev    Severity
	}{
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, SeverityCritical},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, SeverityHigh},
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N", 4.2, SeverityMedium},
		{"CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, SeverityLow},
		{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, SeverityMedium},
		{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0, SeverityNone},
	} {
		got, ok := cvss3Score(c.vector)
		if !ok || got != c.score || severityV3(got) != c.sev {
			t.Errorf("%s: %v %v (%s), want %v (%s)", c.vector, got, ok, severityV3(got), c.score, c.sev)
		}
	}
	for _, c := range []struct {
		vector string
		score  float64
	}{
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5},
		{"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3},
		{"(AV:L/AC:L/Au:N/C:C/I:C/A:C)", 7.2},
	} {
		if got, ok := cvss2Score(c.vector); !ok || got != c.score {
			t.Errorf("%s: %v %v, want %v", c.vector, got, ok, c.score)
		}
	}
	for _, bad := range []string{"", "CVSS:3.1/AV:N", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"} {
		if _, ok := cvss3Score(bad); ok {
			t.Errorf("cvss3Score(%q) accepted", bad)
		}
	}
}

func TestSeverityOrder(t *testing.T) {
	if MaxSeverity(SeverityHigh, SeverityCritical) != SeverityCritical || MaxSeverity(SeverityNone, SeverityUnknown) != SeverityUnknown ||
		MaxSeverity(SeverityMedium, SeverityLow) != SeverityMedium {
		t.Error("MaxSeverity order")
	}
	if ParseSeverity("MODERATE") != SeverityMedium || ParseSeverity("high") != SeverityHigh || ParseSeverity("??") != SeverityUnknown {
		t.Error("ParseSeverity")
	}
	if Severity("Weird").Code() != 99 || SeverityCritical.Code() != 5 || SeverityUnknown.Code() != 0 {
		t.Error("Code")
	}
}
