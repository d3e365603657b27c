package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// FuzzOSVRecord feeds arbitrary OSV records (they come from a downloaded
// or imported database) and package versions through the matcher: no
// input may panic or hang it.
func FuzzOSVRecord(f *testing.F) {
	for _, s := range []struct{ rec, eco, name, ver string }{
		{`{"id":"CVE-2024-1","aliases":["GHSA-x"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
			"affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}`,
			"npm", "left-pad", "1.2.0"},
		{`{"id":"DSA-1","upstream":["CVE-2023-9"],"affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
			"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}],"versions":["3.0.9-1"]}]}`,
			"Debian:12", "openssl", "3.0.9-1"},
		{`{"id":"ALPINE-1","affected":[{"package":{"ecosystem":"Alpine:v3.19","name":"musl"},"ranges":[{"type":"ECOSYSTEM",
			"events":[{"introduced":"0"},{"last_affected":"1.2.4-r1"}]}]}],"severity":[{"type":"CVSS_V2","score":"AV:N/AC:L/Au:N/C:P/I:P/A:P"}]}`,
			"Alpine:v3.19", "musl", "1.2.4_git20230717-r4"},
		{`{"id":"PYSEC-1","affected":[{"package":{"ecosystem":"PyPI","name":"Django"},"ranges":[{"type":"ECOSYSTEM",
			"events":[{"introduced":"4.0a1"},{"fixed":"4.2.post1"}]}]}]}`, "PyPI", "django", "4.1rc1"},
		{`{"id":"RHSA-1","affected":[{"package":{"ecosystem":"Red Hat","name":"bash"},"ranges":[{"type":"ECOSYSTEM",
			"events":[{"introduced":"0"},{"fixed":"0:5.1.8-6.el9"}]}]}]}`, "Red Hat", "bash", "5.1.8-4.el9"},
		{`{"id":"GO-1","affected":[{"package":{"ecosystem":"Go","name":"golang.org/x/net"},"ranges":[{"type":"SEMVER",
			"events":[{"introduced":"0"},{"fixed":"0.17.0"},{"introduced":"0.18.0-rc.1"}]}]}]}`, "Go", "golang.org/x/net", "v0.18.0-rc.2"},
		{`{"id":"M-1","affected":[{"package":{"ecosystem":"Maven","name":"g:a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0-SNAPSHOT"}]}]}]}`,
			"Maven", "g:a", "1.0.RELEASE"},
		{`{"affected":[{"ranges":[{"events":[{}]}]}]}`, "", "", ""},
	} {
		f.Add([]byte(s.rec), s.eco, s.name, s.ver)
	}
	f.Fuzz(func(t *testing.T, rec []byte, eco, name, ver string) {
		var r osvRecord
		if json.Unmarshal(rec, &r) != nil {
			return
		}
		_ = r.modifiedTime()
		_ = r.cveID()
		_ = r.links()
		_ = r.description()
		for i := range r.Affected {
			a := &r.Affected[i]
			_, _ = r.severity(a)
			_, _ = a.affects(ver)
			_ = a.nextFixed(eco, ver)
			for _, s := range a.Severity {
				_, _ = cvss3Score(s.Score)
				_, _ = cvss2Score(s.Score)
			}
		}
		for _, s := range r.Severity {
			_, _ = cvss3Score(s.Score)
			_, _ = cvss2Score(s.Score)
		}
		p := Package{Name: name, Version: ver, Ecosystem: eco}
		_, _ = findingFor(&r, &p, eco)
		_ = less(eco, ver, name)
	})
}

// FuzzLayer feeds arbitrary layer blobs (pushed by any user with push
// rights) to the layer reader: it answers Invalid or a result, never
// panics, and writes nothing outside its temporary directory.
func FuzzLayer(f *testing.F) {
	f.Add(layerTar(f, file("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"),
		file("lib/apk/db/installed", apkInstalled([3]string{"musl", "1.2.4-r2", "musl"}))))
	f.Add(gzipped(f, layerTar(f, file("app/node_modules/a/package.json", npmPackage("a", "1.0.0")), whiteout("app/.wh..wh..opq"))))
	f.Add(zstded(f, layerTar(f, file("../../../../escape/package.json", npmPackage("b", "1.0.0")))))
	var links bytes.Buffer
	tw := tar.NewWriter(&links)
	for _, h := range []*tar.Header{
		{Name: "x/node_modules/c/package.json", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"},
		{Name: "/abs/node_modules/d/package.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"},
		{Name: "y/node_modules/e/package.json", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			f.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("{}"))
		}
	}
	tw.Close()
	f.Add(links.Bytes())
	f.Add([]byte("not a tar"))

	e := newEngine(f, meta.SQLite)
	WithLimits(Limits{MaxFileSize: 1 << 16, MaxTotalSize: 1 << 20, MaxFiles: 64})(e)
	tmp := e.tmpDir
	f.Fuzz(func(t *testing.T, blob []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := e.Inventory(ctx, Image{Layers: []Layer{layerOf(blob)}})
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("layer of %d bytes: no answer in 20 s even after cancelling", len(blob))
		}
		if ctx.Err() != nil {
			t.Fatalf("layer of %d bytes: took more than 5 s: %v", len(blob), err)
		}
		if err != nil && !errs.Is(err, errs.Invalid) {
			t.Fatalf("layer of %d bytes: %v, want Invalid or a result", len(blob), err)
		}
		// Every scan cleans up after itself; nothing is left beside.
		left, _ := os.ReadDir(tmp)
		if len(left) != 0 {
			t.Fatalf("left in the temp dir: %v", left)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(tmp), "escape")); err == nil {
			t.Fatal("a tar entry was written outside the scan's directory")
		}
	})
}
