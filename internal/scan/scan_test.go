package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

const (
	critical31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8
	log4shell  = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" // 10.0
	medium31   = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N" // 4.2
)

func ranges(events ...map[string]any) []map[string]any {
	evs := make([]any, len(events))
	for i, e := range events {
		evs[i] = e
	}
	return []map[string]any{{"type": "ECOSYSTEM", "events": evs}}
}

func semverRange(events ...map[string]any) []map[string]any {
	r := ranges(events...)
	r[0]["type"] = "SEMVER"
	return r
}

func ev(k, v string) map[string]any { return map[string]any{k: v} }

func cvss3(v string) map[string]any {
	return map[string]any{"severity": []any{map[string]any{"type": "CVSS_V3", "score": v}}}
}

func withUpstream(cve string, extra map[string]any) map[string]any {
	if extra == nil {
		extra = map[string]any{}
	}
	extra["upstream"] = []string{cve}
	return extra
}

// testDB is the small OSV database the scan tests match against.
func testDB(t testing.TB) []byte {
	return osvZip(t,
		// Alpine: the origin package is matched; -r revisions compare as numbers.
		rec("ALPINE-CVE-2023-0001", "Alpine:v3.19", "openssl", fixedAt("3.1.4-r3"), withUpstream("CVE-2023-0001", cvss3(critical31))),
		rec("ALPINE-CVE-2023-0002", "Alpine:v3.19", "musl", fixedAt("1.2.4-r2"), withUpstream("CVE-2023-0002", nil)),
		rec("ALPINE-CVE-2023-0003", "Alpine:v3.19", "busybox", fixedAt("1.36.1-r2"), withUpstream("CVE-2023-0003", nil)),
		rec("ALPINE-CVE-2023-0004", "Alpine:v3.18", "openssl", fixedAt("9.9-r0"), withUpstream("CVE-2023-0004", nil)),
		rec("ALPINE-CVE-2023-0005", "Alpine:v3.19", "zlib", fixedAt("1.3.1-r0"), withUpstream("CVE-2023-0005", nil)),
		rec("ALPINE-CVE-2023-0006", "Alpine:v3.19", "busybox", fixedAt("1.36.1_p1-r0"), withUpstream("CVE-2023-0006", nil)),
		// npm, with GitHub's severity label.
		rec("GHSA-aaaa-bbbb-cccc", "npm", "lodash", fixedAt("4.17.21"), map[string]any{
			"aliases": []string{"CVE-2021-23337"}, "database_specific": map[string]any{"severity": "HIGH", "cwe_ids": []string{"CWE-94"}}}),
		rec("GHSA-dddd-eeee-ffff", "npm", "minimist", fixedAt("1.2.6"), map[string]any{"aliases": []string{"CVE-2021-44906"}}),
		rec("GHSA-withdrawn", "npm", "lodash", fixedAt("9.0.0"), map[string]any{"withdrawn": "2024-01-01T00:00:00Z"}),
		// Go modules, SEMVER ranges.
		rec("GO-2024-0001", "Go", "github.com/google/uuid", semverRange(ev("introduced", "0"), ev("fixed", "1.7.0")), map[string]any{"aliases": []string{"CVE-2024-0001"}}),
		rec("GO-2024-0002", "Go", "github.com/google/uuid", semverRange(ev("introduced", "0"), ev("fixed", "1.6.0")), nil),
		// PyPI: names are normalised, PEP 440 ordering.
		rec("PYSEC-2021-0001", "PyPI", "django", ranges(ev("introduced", "3.0"), ev("fixed", "3.2.1")), func() map[string]any {
			m := cvss3(medium31)
			m["aliases"] = []string{"CVE-2021-31542"}
			return m
		}()),
		rec("PYSEC-2021-0002", "PyPI", "django", ranges(ev("introduced", "3.0"), ev("fixed", "3.2.0rc1")), nil),
		// Maven.
		rec("GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
			ranges(ev("introduced", "2.0-beta9"), ev("fixed", "2.15.0")), func() map[string]any {
				m := cvss3(log4shell)
				m["aliases"] = []string{"CVE-2021-44228"}
				return m
			}()),
		rec("GHSA-7rjr-3q55-vv33", "Maven", "org.apache.logging.log4j:log4j-core",
			ranges(ev("introduced", "2.15.0"), ev("fixed", "2.16.0")), map[string]any{"aliases": []string{"CVE-2021-45046"}}),
		// Debian: the source package and its version; epochs and ~.
		rec("DEBIAN-CVE-2024-1000", "Debian:12", "openssl", fixedAt("3.0.11-1~deb12u3"), withUpstream("CVE-2024-1000", nil)),
		rec("DEBIAN-CVE-2024-1001", "Debian:12", "openssl", fixedAt("3.0.11-1~deb12u1"), withUpstream("CVE-2024-1001", nil)),
		rec("DEBIAN-CVE-2024-1002", "Debian:12", "openssl", fixedAt("3.0.11-1"), withUpstream("CVE-2024-1002", nil)),
		rec("DEBIAN-CVE-2024-1003", "Debian:12", "foo", fixedAt("2.0-1"), withUpstream("CVE-2024-1003", nil)),
		rec("DEBIAN-CVE-2024-1004", "Debian:12", "bash", fixedAt("5.2.15-3"), withUpstream("CVE-2024-1004", nil)),
		rec("DEBIAN-CVE-2024-1005", "Debian:12", "base-files", fixedAt("12.4+deb12u6"), withUpstream("CVE-2024-1005", nil)),
		rec("DEBIAN-CVE-2024-1006", "Debian:11", "openssl", fixedAt("9.0-1"), withUpstream("CVE-2024-1006", nil)),
		rec("DEBIAN-CVE-2024-1007", "Debian:12", "tzdata", ranges(ev("introduced", "0"), ev("last_affected", "2024a-0+deb12u1")), withUpstream("CVE-2024-1007", nil)),
		// AlmaLinux (rpm): epochs.
		rec("ALSA-2024:0001", "AlmaLinux:9", "openssl-libs", fixedAt("1:3.0.7-25.el9_3"), map[string]any{"aliases": []string{"CVE-2024-2001"}}),
		rec("ALSA-2024:0002", "AlmaLinux:9", "openssl-libs", fixedAt("3.0.7-27.el9"), map[string]any{"aliases": []string{"CVE-2024-2002"}}),
		rec("ALSA-2024:0003", "AlmaLinux:9", "bash", fixedAt("5.1.8-6.el9"), map[string]any{"aliases": []string{"CVE-2024-2003"}}),
	)
}

// finding is a report line reduced to what the tests compare.
func findings(r Report) []string {
	out := []string{}
	for _, v := range r.Vulnerabilities {
		out = append(out, v.ID+" "+v.Package+" "+v.Version+" fix="+v.FixVersion+" "+string(v.Severity))
	}
	sort.Strings(out)
	return out
}

func alpineImage(t testing.TB) Image {
	return imageOf(t,
		[]entry{
			file("etc/os-release", alpineRelease),
			file("lib/apk/db/installed", apkInstalled(
				[3]string{"musl", "1.2.4-r2", "musl"},
				[3]string{"libcrypto3", "3.1.4-r1", "openssl"},
				[3]string{"libssl3", "3.1.4-r1", "openssl"},
				[3]string{"busybox", "1.36.1-r15", "busybox"},
				[3]string{"zlib", "1.3-r2", "zlib"})),
			file("usr/lib/node_modules/lodash/package.json", npmPackage("lodash", "4.17.20")),
			file("usr/lib/node_modules/minimist/package.json", npmPackage("minimist", "1.2.5")),
		},
		[]entry{
			// The upgrade of zlib rewrites the database; minimist is removed.
			file("lib/apk/db/installed", apkInstalled(
				[3]string{"musl", "1.2.4-r2", "musl"},
				[3]string{"libcrypto3", "3.1.4-r1", "openssl"},
				[3]string{"libssl3", "3.1.4-r1", "openssl"},
				[3]string{"busybox", "1.36.1-r15", "busybox"},
				[3]string{"zlib", "1.3.1-r0", "zlib"})),
			whiteout("usr/lib/node_modules/.wh.minimist"),
			exe("usr/local/bin/hello", goBinary(t)),
			file("usr/lib/python3.11/site-packages/Django-3.2.0.dist-info/METADATA", pyMetadata("Django", "3.2.0")),
			file("opt/app/app.jar", string(jarWithPom(t, "org.apache.logging.log4j", "log4j-core", "2.14.1"))),
		},
	)
}

func TestScanAlpineAndLanguages(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	ctx := context.Background()
	if _, err := e.Import(ctx, bytes.NewReader(testDB(t)), "test.zip"); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Scan(ctx, alpineImage(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CVE-2021-23337 lodash 4.17.20 fix=4.17.21 High",
		"CVE-2021-31542 Django 3.2.0 fix=3.2.1 Medium",
		"CVE-2021-44228 org.apache.logging.log4j:log4j-core 2.14.1 fix=2.15.0 Critical",
		"CVE-2023-0001 libcrypto3 3.1.4-r1 fix=3.1.4-r3 Critical",
		"CVE-2023-0001 libssl3 3.1.4-r1 fix=3.1.4-r3 Critical",
		"CVE-2023-0006 busybox 1.36.1-r15 fix=1.36.1_p1-r0 Unknown",
		"CVE-2024-0001 github.com/google/uuid 1.6.0 fix=1.7.0 Unknown",
	}
	if diff := cmp.Diff(want, findings(rep)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if rep.Severity != SeverityCritical {
		t.Errorf("report severity = %s, want Critical", rep.Severity)
	}
	if rep.Artifact == nil || rep.Artifact.Repository != "library/test" || rep.Scanner.Name != "berth" {
		t.Errorf("artifact/scanner = %+v %+v", rep.Artifact, rep.Scanner)
	}
	// Findings come most severe first; log4shell has its CVSS and ids.
	if rep.Vulnerabilities[0].Severity != SeverityCritical {
		t.Errorf("first finding = %+v", rep.Vulnerabilities[0])
	}
	var top Vulnerability
	for _, v := range rep.Vulnerabilities {
		if v.ID == "CVE-2021-44228" {
			top = v
		}
	}
	if top.PreferredCVSS == nil || top.PreferredCVSS.ScoreV3 == nil || *top.PreferredCVSS.ScoreV3 != 10 ||
		top.VendorAttributes["osv_id"] != "GHSA-jfh8-c2jp-5v3q" {
		t.Errorf("top finding = %+v", top)
	}
	for _, v := range rep.Vulnerabilities {
		if v.ID == "CVE-2023-0001" && v.VendorAttributes["source_package"] != "openssl" {
			t.Errorf("libcrypto3 finding does not name its origin: %+v", v.VendorAttributes)
		}
		if len(v.Links) == 0 || v.Links[len(v.Links)-1] != "https://osv.dev/vulnerability/"+v.VendorAttributes["osv_id"].(string) {
			t.Errorf("links of %s = %v", v.ID, v.Links)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	json.Unmarshal(b, &generic)
	for _, k := range []string{"generated_at", "scanner", "severity", "vulnerabilities"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("report JSON lacks %q: %s", k, b)
		}
	}
	s := rep.Summarize()
	if s.Total != 7 || s.Fixable != 7 || s.Summary[SeverityCritical] != 3 {
		t.Errorf("summary = %+v", s)
	}
}

func TestScanDebian(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	ctx := context.Background()
	if _, err := e.Import(ctx, bytes.NewReader(testDB(t)), "test.zip"); err != nil {
		t.Fatal(err)
	}
	img := imageOf(t, []entry{
		file("etc/os-release", debianRelease),
		file("var/lib/dpkg/status",
			dpkgStanza("libssl3", "3.0.11-1~deb12u2", "openssl")+
				dpkgStanza("bash", "5.2.15-2+b2", "bash (5.2.15-2)")+
				dpkgStanza("libfoo1", "1:1.0-1", "foo")+
				dpkgStanza("tzdata", "2024a-0+deb12u1", "")),
		file("var/lib/dpkg/status.d/base-files", dpkgStanza("base-files", "12.4+deb12u5", "")),
	})
	rep, err := e.Scan(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CVE-2024-1000 libssl3 3.0.11-1~deb12u2 fix=3.0.11-1~deb12u3 Unknown",
		"CVE-2024-1002 libssl3 3.0.11-1~deb12u2 fix=3.0.11-1 Unknown",
		"CVE-2024-1004 bash 5.2.15-2+b2 fix=5.2.15-3 Unknown",
		"CVE-2024-1005 base-files 12.4+deb12u5 fix=12.4+deb12u6 Unknown",
		"CVE-2024-1007 tzdata 2024a-0+deb12u1 fix= Unknown",
	}
	if diff := cmp.Diff(want, findings(rep)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if rep.Severity != SeverityUnknown {
		t.Errorf("severity = %s, want Unknown", rep.Severity)
	}
	for _, v := range rep.Vulnerabilities {
		if v.Package == "libssl3" && v.PURL != "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=bookworm&source=openssl" {
			t.Errorf("libssl3 purl = %q", v.PURL)
		}
	}
}

func TestScanRPM(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	ctx := context.Background()
	if _, err := e.Import(ctx, bytes.NewReader(testDB(t)), "test.zip"); err != nil {
		t.Fatal(err)
	}
	img := imageOf(t, []entry{
		file("etc/os-release", almaRelease),
		file("var/lib/rpm/rpmdb.sqlite", rpmSQLite(t,
			rpmPkg{name: "openssl-libs", epoch: 1, version: "3.0.7", release: "24.el9", arch: "x86_64", srpm: "openssl-3.0.7-24.el9.src.rpm"},
			rpmPkg{name: "bash", version: "5.1.8", release: "6.el9", arch: "x86_64", srpm: "bash-5.1.8-6.el9.src.rpm"})),
	})
	inv, err := e.Inventory(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		got = append(got, p.Type+" "+p.Name+" "+p.Version+" "+p.Ecosystem)
	}
	if diff := cmp.Diff([]string{"rpm bash 5.1.8-6.el9 AlmaLinux:9", "rpm openssl-libs 1:3.0.7-24.el9 AlmaLinux:9"}, got); diff != "" {
		t.Fatalf("rpm packages (-want +got):\n%s", diff)
	}
	rep, err := e.Match(ctx, img, inv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"CVE-2024-2001 openssl-libs 1:3.0.7-24.el9 fix=1:3.0.7-25.el9_3 Unknown"}, findings(rep)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestInventoryAlpine(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	inv, err := e.Inventory(context.Background(), alpineImage(t))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Distro.ID != "alpine" || inv.Distro.VersionID != "3.19.1" {
		t.Errorf("distro = %+v", inv.Distro)
	}
	got := map[string]string{}
	for _, p := range inv.Packages {
		got[p.Type+" "+p.Name] = p.Version + " " + p.Ecosystem + " " + p.PURL
	}
	for k, want := range map[string]string{
		"apk zlib":                         "1.3.1-r0 Alpine:v3.19 pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=3.19.1&origin=zlib",
		"npm lodash":                       "4.17.20 npm pkg:npm/lodash@4.17.20",
		"go-binary github.com/google/uuid": "1.6.0 Go pkg:golang/github.com/google/uuid@1.6.0",
		"python Django":                    "3.2.0 PyPI pkg:pypi/django@3.2.0",
		"java-archive org.apache.logging.log4j:log4j-core": "2.14.1 Maven pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["npm minimist"]; ok {
		t.Errorf("minimist was deleted by a whiteout but is listed")
	}
	if _, ok := got["go-binary stdlib"]; !ok {
		t.Errorf("the Go binary's toolchain (stdlib) is not listed: %v", got)
	}
}

func TestScanWithoutDatabase(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	_, err := e.Scan(context.Background(), imageOf(t, []entry{file("etc/os-release", alpineRelease)}))
	if !errs.Is(err, errs.Unavailable) {
		t.Fatalf("scan without a database: %v, want Unavailable", err)
	}
	info, err := e.DBInfo(context.Background())
	if err != nil || info.Loaded {
		t.Fatalf("DBInfo = %+v, %v", info, err)
	}
}

// TestJavaNested finds a jar inside a war, and one known only by its
// MANIFEST.MF-less file name.
func TestJavaNested(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	inner := jarWithPom(t, "org.springframework", "spring-core", "5.3.0")
	var war bytes.Buffer
	zw := newZipWriter(&war)
	w, _ := zw.Create("WEB-INF/lib/spring-core-5.3.0.jar")
	w.Write(inner)
	w, _ = zw.Create("index.html")
	w.Write([]byte("<html></html>"))
	zw.Close()
	inv, err := e.Inventory(context.Background(), imageOf(t, []entry{file("srv/app.war", war.String())}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		got = append(got, p.Name+"@"+p.Version+" "+p.Ecosystem)
	}
	if !contains(got, "org.springframework:spring-core@5.3.0 Maven") {
		t.Errorf("packages = %v, want spring-core from inside the war", got)
	}
}

// TestUbuntuAndStdlib: Ubuntu LTS releases carry ":LTS" in OSV, and a
// Go binary's toolchain is matched as "stdlib" without the "go" prefix.
func TestUbuntuAndStdlib(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, meta.SQLite)
	img := imageOf(t, []entry{
		file("etc/os-release", "NAME=\"Ubuntu\"\nVERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\n"),
		file("var/lib/dpkg/status", dpkgStanza("libc6", "2.35-0ubuntu3.6", "glibc")),
		exe("usr/bin/hello", goBinary(t)),
	})
	db := osvZip(t,
		rec("UBUNTU-CVE-2024-3000", "Ubuntu:22.04:LTS", "glibc", fixedAt("2.35-0ubuntu3.10"),
			map[string]any{"upstream": []string{"CVE-2024-3000"}, "severity": []any{map[string]any{"type": "Ubuntu", "score": "medium"}}}),
		rec("GO-2099-0001", "Go", "stdlib", semverRange(ev("introduced", "0"), ev("fixed", "99.0.0")), map[string]any{"aliases": []string{"CVE-2099-0001"}}),
	)
	if _, err := e.Import(ctx, bytes.NewReader(db), "u.zip"); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Scan(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	got := findings(rep)
	if len(got) != 2 || got[0] != "CVE-2024-3000 libc6 2.35-0ubuntu3.6 fix=2.35-0ubuntu3.10 Medium" ||
		!strings.HasPrefix(got[1], "CVE-2099-0001 stdlib 1.") || !strings.HasSuffix(got[1], " fix=99.0.0 Unknown") {
		t.Errorf("findings = %q", got)
	}
}

// TestEcosystemReleases: a package whose ecosystem has no release
// matches records of any release, and a record without a release
// matches every release, as OSV-SCALIBR compares them; releases that
// differ never match.
func TestEcosystemReleases(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, meta.SQLite)
	db := osvZip(t,
		rec("ALPINE-CVE-2024-0001", "Alpine:v3.19", "zlib", fixedAt("1.3.1-r0"), nil),
		rec("ALPINE-CVE-2024-0002", "Alpine:v3.18", "zlib", fixedAt("1.3.1-r0"), nil),
		rec("ALPINE-CVE-2024-0003", "Alpine", "zlib", fixedAt("1.3.1-r0"), nil),
		rec("ALPINE-CVE-2024-0004", "Alpine_v3.19", "zlib", fixedAt("1.3.1-r0"), nil),
	)
	if _, err := e.Import(ctx, bytes.NewReader(db), "a.zip"); err != nil {
		t.Fatal(err)
	}
	ids := func(release string) []string {
		t.Helper()
		img := imageOf(t, []entry{
			file("etc/os-release", "ID=alpine\n"+release),
			file("lib/apk/db/installed", apkInstalled([3]string{"zlib", "1.3-r2", "zlib"})),
		})
		rep, err := e.Scan(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, v := range rep.Vulnerabilities {
			out = append(out, v.ID)
		}
		sort.Strings(out)
		return out
	}
	if diff := cmp.Diff([]string{"ALPINE-CVE-2024-0001", "ALPINE-CVE-2024-0003"}, ids("VERSION_ID=3.19.1\n")); diff != "" {
		t.Errorf("Alpine 3.19 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ALPINE-CVE-2024-0001", "ALPINE-CVE-2024-0002", "ALPINE-CVE-2024-0003"}, ids("")); diff != "" {
		t.Errorf("Alpine without a release (-want +got):\n%s", diff)
	}
}
