package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// TestScanPolicyDocker: a project with scan on push and "prevent
// vulnerable images" at High; the test imports a small OSV database with
// `berth scanner import`, pushes with docker an image whose apk database
// lists a vulnerable openssl, waits for the scan on push, sees `docker
// pull` refused with the CVE named, allowlists the CVE in the project and
// pulls.
func TestScanPolicyDocker(t *testing.T) {
	if env.dockerHost == "" {
		t.Skip("BERTH_SKIP_DOCKER=1: this test is about the docker CLI")
	}
	const project = "scan-e2e"
	ref := env.registry + "/" + project + "/vuln:v1"
	denv := dockerEnv()
	t.Cleanup(func() {
		_, _ = tryCmd(cmdTimeout, "", denv, "docker", "rmi", "--force", ref)
		_, _ = tryCmd(cmdTimeout, "", denv, "docker", "logout", env.registry)
	})

	// The vulnerability database, imported the way an air-gapped site does.
	db := filepath.Join(env.workDir, "osv-alpine.zip")
	writeOSVZip(t, db, map[string]any{
		"schema_version": "1.6.0", "id": "ALPINE-CVE-2099-31337", "modified": "2026-01-01T00:00:00Z",
		"upstream": []string{"CVE-2099-31337"}, "summary": "test advisory in openssl",
		"severity": []any{map[string]any{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": []any{map[string]any{
			"package": map[string]any{"ecosystem": "Alpine:v3.19", "name": "openssl"},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []any{
				map[string]any{"introduced": "0"}, map[string]any{"fixed": "3.1.4-r3"}}}},
		}},
	})
	runCmd(t, cmdTimeout, "", os.Environ(), env.bin, "scanner", "import", db, "--data-dir", env.dataDir)

	if _, err := env.admin.CreateProject(project, map[string]string{
		"auto_scan": "true", "prevent_vul": "true", "severity": "high", "reuse_sys_cve_allowlist": "false"}); err != nil {
		t.Fatal(err)
	}

	rootfs := writeAlpineRootfs(t)
	runCmd(t, cmdTimeout, "", denv, "docker", "import", rootfs, ref)
	runCmd(t, cmdTimeout, env.password+"\n", denv, "docker", "login", env.registry, "--username", "admin", "--password-stdin")
	res := runCmd(t, cmdTimeout, "", denv, "docker", "push", ref)
	m := pushDigestRE.FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", res.Stdout)
	}
	digest := m[1]

	// Scan on push: wait for the report.
	var ov map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var art struct {
			ScanOverview map[string]map[string]any `json:"scan_overview"`
		}
		adminAPI(t, "GET", "/projects/"+project+"/repositories/vuln/artifacts/"+digest+"?with_scan_overview=true", nil, &art)
		ov = art.ScanOverview["application/vnd.security.vulnerability.report; version=1.1"]
		if s := ov["scan_status"]; s == "Success" || s == "Error" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished scan on push after 2 minutes: %v\nberth log:\n%s", art.ScanOverview, berthproc.Tail(env.berthLog, 30))
		}
		time.Sleep(200 * time.Millisecond) // polling an asynchronous job, bounded by the deadline
	}
	if ov["scan_status"] != "Success" || ov["severity"] != "Critical" {
		t.Fatalf("scan overview: %v", ov)
	}

	runCmd(t, cmdTimeout, "", denv, "docker", "rmi", ref)
	out, err := tryCmd(cmdTimeout, "", denv, "docker", "pull", ref)
	if err == nil {
		t.Fatalf("docker pull of a vulnerable image succeeded under prevent_vul:\n%s", out.Stdout)
	}
	msg := out.Stdout + out.Stderr
	t.Logf("docker pull refused as expected:\n%s", msg)
	for _, want := range []string{"cannot be pulled due to configured policy", "CVE-2099-31337", "CVE allowlist"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("docker pull refusal does not say %q:\n%s", want, msg)
		}
	}

	adminAPI(t, "PUT", "/projects/"+project, map[string]any{"cve_allowlist": map[string]any{
		"items": []map[string]string{{"cve_id": "CVE-2099-31337"}}}}, nil)
	res = runCmd(t, cmdTimeout, "", denv, "docker", "pull", ref)
	if m := pullDigestRE.FindStringSubmatch(res.Stdout); m == nil || m[1] != digest {
		t.Fatalf("docker pull after allowlisting: want digest %s, got:\n%s", digest, res.Stdout)
	}
}

// writeOSVZip writes records as osv.dev's per-ecosystem all.zip.
func writeOSVZip(t *testing.T, path string, records ...map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range records {
		w, err := zw.Create(r["id"].(string) + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeAlpineRootfs writes a root file system that claims to be Alpine
// 3.19 with openssl's libraries at 3.1.4-r1 (fixed in -r3), plus a file
// that differs on every run so that every push uploads.
func writeAlpineRootfs(t *testing.T) string {
	t.Helper()
	files := []struct{ name, body string }{
		{"etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"},
		{"lib/apk/db/installed", "C:Q1abc=\nP:libssl3\nV:3.1.4-r1\nA:x86_64\nS:1000\nI:2000\nT:ssl\nL:Apache-2.0\no:openssl\n\n" +
			"C:Q1abd=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:1000\nI:2000\nT:libc\nL:MIT\no:musl\n\n"},
		{"scan-e2e.txt", "berth scan e2e " + randomHex(16) + "\n"},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body)),
			ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(env.workDir, "alpine-rootfs.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
