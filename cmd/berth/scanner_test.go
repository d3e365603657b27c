package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScannerImport runs `berth scanner import` and `status` over a data
// directory: usage errors, an import, a failed import that keeps the
// database, and the status line.
func TestScannerImport(t *testing.T) {
	dir := t.TempDir()
	e := env{"BERTH_DATA_DIR": dir, "BERTH_LOG_LEVEL": "warn"}
	berth := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"scanner"}, args...), &stdout, &stderr, e.get)
		return code, stdout.String(), stderr.String()
	}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "Usage"},
		{[]string{"import"}, 2, "give at least one file"},
		{[]string{"frob"}, 2, "unknown command"},
		{[]string{"import", "x.zip", "--frob"}, 2, "flag provided but not defined"},
		{[]string{"status", "--data-dir", filepath.Join(dir, "nope", "deeper")}, 1, "no berth data directory"},
	} {
		if code, _, stderr := berth(c.args...); code != c.code || !strings.Contains(stderr, c.stderr) {
			t.Errorf("scanner %v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.stderr)
		}
	}
	if code, stdout, _ := berth("status"); code != 0 || !strings.Contains(stdout, "none imported") {
		t.Errorf("status before import: %d %q", code, stdout)
	}

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("GO-2024-0001.json")
	w.Write([]byte(`{"id":"GO-2024-0001","modified":"2024-06-01T00:00:00Z","aliases":["CVE-2024-0001"],
		"affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}]}]}`))
	zw.Close()
	good := filepath.Join(t.TempDir(), "all.zip")
	os.WriteFile(good, buf.Bytes(), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.zip")
	os.WriteFile(bad, []byte("PK\x03\x04 not really"), 0o644)

	code, stdout, stderr := berth("import", good)
	if code != 0 || !strings.Contains(stdout, "1 records") || !strings.Contains(stdout, "Go:") || !strings.Contains(stdout, good) {
		t.Fatalf("import: %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr := berth("import", bad); code != 1 || !strings.Contains(stderr, "bad zip") {
		t.Fatalf("import of a bad file: %d %q", code, stderr)
	}
	code, stdout, _ = berth("status")
	if code != 0 || !strings.Contains(stdout, good) || !strings.Contains(stdout, "updated at:  2024-06-01T00:00:00Z") {
		t.Fatalf("status after a failed import: %d %q", code, stdout)
	}
}
