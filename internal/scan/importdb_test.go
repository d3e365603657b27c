package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

func forEachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range []string{meta.SQLite, meta.Postgres} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// debImage is a Debian image with one vulnerable openssl.
func debImage(t testing.TB) Image {
	return imageOf(t, []entry{
		file("etc/os-release", debianRelease),
		file("var/lib/dpkg/status", dpkgStanza("libssl3", "3.0.11-1~deb12u2", "openssl")),
	})
}

func scanIDs(t *testing.T, e *Engine, img Image) []string {
	t.Helper()
	rep, err := e.Scan(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, v := range rep.Vulnerabilities {
		ids = append(ids, v.ID)
	}
	return ids
}

// TestImportReplacesAtomically: a good import is used by the next scan;
// a broken one (bad record half-way, unreadable file, nothing usable)
// fails and leaves the previous database in use, on both dialects.
func TestImportReplacesAtomically(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		e := newEngine(t, dialect)
		one := osvZip(t, rec("DEBIAN-CVE-2024-1000", "Debian:12", "openssl", fixedAt("3.0.11-1~deb12u3"), withUpstream("CVE-2024-1000", nil)))
		info, err := e.Import(ctx, bytes.NewReader(one), "one.zip")
		if err != nil {
			t.Fatal(err)
		}
		if !info.Loaded || info.Source != "one.zip" || info.Records != 1 || info.Ecosystems["Debian"] != 1 ||
			!strings.HasPrefix(info.Checksum, "sha256:") || info.UpdatedAt.Format(time.RFC3339) != "2024-06-01T00:00:00Z" {
			t.Fatalf("DBInfo after import = %+v", info)
		}
		if diff := cmp.Diff([]string{"CVE-2024-1000"}, scanIDs(t, e, debImage(t))); diff != "" {
			t.Fatalf("scan (-want +got):\n%s", diff)
		}

		// Many good records, then a broken one: nothing of it is used.
		var recs []map[string]any
		for i := range 1200 {
			recs = append(recs, rec("DEBIAN-CVE-2099-"+string(rune('a'+i%26))+strings.Repeat("x", i/26), "Debian:12", "openssl", fixedAt("9.9-1"), nil))
		}
		good := osvZip(t, recs...)
		brokenZip := osvZipRaw(t, map[string]string{"A.json": string(mustJSON(recs[0])), "Z.json": `{"id": "X", "affected": [`})
		for name, data := range map[string][]byte{
			"bad record": brokenZip,
			"not OSV":    []byte("hello, world"),
			"no records": osvZip(t),
			"truncated":  good[:len(good)/2],
		} {
			if _, err := e.Import(ctx, bytes.NewReader(data), name); err == nil {
				t.Fatalf("import of %s succeeded", name)
			}
			got, err := e.DBInfo(ctx)
			if err != nil || got.Source != "one.zip" || got.Records != 1 {
				t.Fatalf("after the failed import of %s, DBInfo = %+v, %v", name, got, err)
			}
			if diff := cmp.Diff([]string{"CVE-2024-1000"}, scanIDs(t, e, debImage(t))); diff != "" {
				t.Fatalf("scan after the failed import of %s (-want +got):\n%s", name, diff)
			}
		}
		gens, err := e.db.Q().VulnGenerations(ctx)
		if err != nil || len(gens) != 1 || gens[0].State != "current" {
			t.Fatalf("generations after failed imports = %+v, %v (want the current one only)", gens, err)
		}

		// A good replacement wins whole.
		info, err = e.Import(ctx, bytes.NewReader(good), "good.zip")
		if err != nil || info.Records != 1200 {
			t.Fatalf("import good: %+v, %v", info, err)
		}
		if got := scanIDs(t, e, debImage(t)); len(got) != 1200 || contains(got, "CVE-2024-1000") {
			t.Fatalf("scan after replacement found %d ids (CVE-2024-1000 in: %v)", len(got), contains(got, "CVE-2024-1000"))
		}
	})
}

func osvZipRaw(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := newZipWriter(&buf)
	for _, n := range sortedKeys(files) {
		w, _ := zw.Create(n)
		w.Write([]byte(files[n]))
	}
	zw.Close()
	return buf.Bytes()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestImportFormats: zip, tar.gz of zips and JSON files, tar.zst, a JSON
// array, a single record, and a directory, several at once; duplicates
// keep the newest record; withdrawn records are left out.
func TestImportFormats(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, meta.SQLite)
	old := rec("DUP-1", "Debian:12", "openssl", fixedAt("3.0.11-1~deb12u1"), map[string]any{"modified": "2024-01-01T00:00:00Z"})
	newer := rec("DUP-1", "Debian:12", "openssl", fixedAt("3.0.11-1~deb12u9"), map[string]any{"modified": "2024-07-01T00:00:00Z"})
	tarball := layerTar(t,
		file("osv/Debian/all.zip", string(osvZip(t, rec("TGZ-1", "Debian:12", "openssl", fixedAt("9-1"), nil), old))),
		file("osv/npm/GHSA-1.json", string(mustJSON(rec("TGZ-2", "npm", "lodash", fixedAt("9.0.0"), nil)))),
		file("README", "not a record"),
	)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "Go"), 0o755)
	os.WriteFile(filepath.Join(dir, "Go", "GO-1.json"), mustJSON(rec("DIR-1", "Go", "example.com/m", fixedAt("1.0.0"), nil)), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	files := map[string][]byte{
		"a.tar.gz":  gzipped(t, tarball),
		"b.tar.zst": zstded(t, layerTar(t, file("x.json", string(mustJSON(newer))))),
		"c.json": mustJSON([]any{rec("ARR-1", "PyPI", "Django", fixedAt("9"), nil),
			rec("GONE-1", "PyPI", "django", fixedAt("9"), map[string]any{"withdrawn": "2024-02-02T00:00:00Z"})}),
		"d.json": mustJSON(rec("ONE-1", "Maven", "g:a", fixedAt("9"), nil)),
	}
	var sources []Source
	for _, n := range sortedKeys(files) {
		p := filepath.Join(t.TempDir(), n)
		os.WriteFile(p, files[n], 0o644)
		sources = append(sources, FileSource(p))
	}
	sources = append(sources, FileSource(dir))
	info, err := e.ImportSources(ctx, sources...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"Debian": 2, "npm": 1, "Go": 1, "PyPI": 1, "Maven": 1}
	if diff := cmp.Diff(want, info.Ecosystems); diff != "" || info.Records != 6 {
		t.Fatalf("records %d, ecosystems (-want +got):\n%s", info.Records, diff)
	}
	if n := strings.Count(info.Checksum, "sha256:"); n != 5 {
		t.Errorf("checksum %q: want one per file (5)", info.Checksum)
	}
	// The newer DUP-1 (fixed in deb12u9) was kept: deb12u2 is affected.
	rep, err := e.Scan(ctx, debImage(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range rep.Vulnerabilities {
		got = append(got, v.ID+" fix="+v.FixVersion)
	}
	if diff := cmp.Diff([]string{"DUP-1 fix=3.0.11-1~deb12u9", "TGZ-1 fix=9-1"}, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestRefresh: the refresher imports from a URL when the database is
// missing or stale, not when it is fresh; of two nodes, one refreshes;
// a failing download keeps the old database and holds every node off
// for the backoff.
func TestRefresh(t *testing.T) {
	ctx := context.Background()
	var hits atomic.Int32
	var fail atomic.Bool
	body := osvZip(t, rec("DEBIAN-CVE-2024-1000", "Debian:12", "openssl", fixedAt("3.0.11-1~deb12u3"), withUpstream("CVE-2024-1000", nil)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if fail.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	e := newEngine(t, meta.SQLite)
	// The store stamps imports with the real clock; the refresher's
	// clock starts there and is moved by the test.
	now := time.Now().UTC()
	e.now = func() time.Time { return now }
	a := NewRefresher(e, []string{srv.URL + "/Debian/all.zip"}, 24*time.Hour, "node-a").WithHTTPClient(srv.Client())
	b := NewRefresher(e, []string{srv.URL + "/Debian/all.zip"}, 24*time.Hour, "node-b").WithHTTPClient(srv.Client())

	if did, err := a.RefreshIfStale(ctx); err != nil || !did {
		t.Fatalf("first refresh: %v %v", did, err)
	}
	first, _ := e.DBInfo(ctx)
	if first.Source != srv.URL+"/Debian/all.zip" || first.Records != 1 {
		t.Fatalf("DBInfo = %+v", first)
	}
	// Fresh: neither node downloads.
	for _, r := range []*Refresher{a, b} {
		if did, err := r.RefreshIfStale(ctx); err != nil || did {
			t.Fatalf("refresh of a fresh database: %v %v", did, err)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("downloads = %d, want 1", hits.Load())
	}

	// A day later the download fails: the old database stays, and the
	// other node does not retry before the backoff ends.
	now = now.Add(25 * time.Hour)
	fail.Store(true)
	if did, err := a.RefreshIfStale(ctx); err == nil || did || !errs.Is(err, errs.Unavailable) {
		t.Fatalf("refresh with the server down: %v %v", did, err)
	}
	if info, _ := e.DBInfo(ctx); info.Records != 1 {
		t.Fatalf("DBInfo after a failed refresh = %+v", info)
	}
	if did, err := b.RefreshIfStale(ctx); err != nil || did {
		t.Fatalf("node b during the backoff: %v %v", did, err)
	}
	if hits.Load() != 2 {
		t.Fatalf("downloads = %d, want 2", hits.Load())
	}
	// After the backoff, node b takes over.
	now = now.Add(2 * time.Hour)
	fail.Store(false)
	if did, err := b.RefreshIfStale(ctx); err != nil || !did {
		t.Fatalf("node b after the backoff: %v %v", did, err)
	}
	if info, _ := e.DBInfo(ctx); !info.ImportedAt.After(first.ImportedAt) || info.Checksum != first.Checksum {
		t.Fatalf("DBInfo after the retry = %+v", info)
	}
}

// TestImportTooLargeRecord refuses a record over the size bound.
func TestImportTooLargeRecord(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	big := rec("BIG-1", "npm", "x", fixedAt("1"), map[string]any{"details": strings.Repeat("x", maxRecordSize)})
	_, err := e.Import(context.Background(), bytes.NewReader(osvZip(t, big)), "big.zip")
	if !errs.Is(err, errs.TooLarge) {
		t.Fatalf("import of an oversized record: %v, want TooLarge", err)
	}
}
