package scan

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
)

// benchImage is a Debian image with n installed packages.
func benchImage(b *testing.B, n int) Image {
	var status strings.Builder
	for i := range n {
		status.WriteString(dpkgStanza(fmt.Sprintf("pkg%d", i), fmt.Sprintf("1.%d-1", i), fmt.Sprintf("src%d", i%100)))
	}
	return imageOf(b, []entry{file("etc/os-release", debianRelease), file("var/lib/dpkg/status", status.String())})
}

// benchDB has records for each of 100 source packages, half of them
// affecting the installed versions.
func benchDB(b *testing.B, perSource int) []byte {
	var recs []map[string]any
	for s := range 100 {
		for j := range perSource {
			fixed := "0.1-1"
			if j%2 == 0 {
				fixed = "99.0-1"
			}
			recs = append(recs, rec(fmt.Sprintf("DEBIAN-CVE-2024-%d-%d", s, j), "Debian:12", fmt.Sprintf("src%d", s),
				fixedAt(fixed), withUpstream(fmt.Sprintf("CVE-2024-%d%03d", s, j), cvss3(critical31))))
		}
	}
	return osvZip(b, recs...)
}

// BenchmarkScan: a 500-package Debian image against 2,000 records.
func BenchmarkScan(b *testing.B) {
	e := newEngine(b, meta.SQLite)
	ctx := context.Background()
	if _, err := e.Import(ctx, bytes.NewReader(benchDB(b, 20)), "bench.zip"); err != nil {
		b.Fatal(err)
	}
	img := benchImage(b, 500)
	b.ResetTimer()
	for b.Loop() {
		rep, err := e.Scan(ctx, img)
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Vulnerabilities) != 500*10 {
			b.Fatalf("%d findings", len(rep.Vulnerabilities))
		}
	}
}

// BenchmarkImport: 2,000 records from a zip.
func BenchmarkImport(b *testing.B) {
	e := newEngine(b, meta.SQLite)
	ctx := context.Background()
	db := benchDB(b, 20)
	b.SetBytes(int64(len(db)))
	for b.Loop() {
		if _, err := e.Import(ctx, bytes.NewReader(db), "bench.zip"); err != nil {
			b.Fatal(err)
		}
	}
}
