package scan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// entry is one tar entry of a test layer.
type entry struct {
	name     string
	body     string
	mode     int64
	typeflag byte
	link     string
}

func file(name, body string) entry       { return entry{name: name, body: body, mode: 0o644} }
func exe(name string, body []byte) entry { return entry{name: name, body: string(body), mode: 0o755} }
func whiteout(name string) entry         { return entry{name: name, mode: 0o644} }

// layerTar returns an uncompressed tar of entries.
func layerTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: e.typeflag,
			Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

func layerOf(blob []byte) Layer {
	sum := sha256.Sum256(blob)
	return Layer{Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(blob)),
		MediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		}}
}

// imageOf makes an image of gzip-compressed layers of entries.
func imageOf(t testing.TB, layers ...[]entry) Image {
	img := Image{Repository: "library/test", Digest: "sha256:" + hex.EncodeToString(make([]byte, 32)),
		MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config:    []byte(`{"created":"2024-05-01T10:00:00Z","architecture":"amd64","os":"linux"}`)}
	for _, l := range layers {
		img.Layers = append(img.Layers, layerOf(gzipped(t, layerTar(t, l...))))
	}
	return img
}

// newEngine opens a fresh store of dialect ("sqlite" or "postgres") and
// an engine over it.
func newEngine(t testing.TB, dialect string) *Engine {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "meta.db")
	if dialect == meta.Postgres {
		dsn = pgtest.DSN(t)
	}
	db, err := meta.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, WithTempDir(t.TempDir()),
		WithClock(func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }))
}

// osvZip writes records into a zip as osv.dev publishes them.
func osvZip(t testing.TB, records ...map[string]any) []byte {
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
	return buf.Bytes()
}

// rec builds an OSV record affecting one package.
func rec(id, eco, name string, ranges []map[string]any, extra map[string]any) map[string]any {
	r := map[string]any{
		"schema_version": "1.6.0", "id": id, "modified": "2024-06-01T00:00:00Z",
		"summary": id + " in " + name,
		"affected": []any{map[string]any{
			"package": map[string]any{"ecosystem": eco, "name": name},
			"ranges":  ranges,
		}},
	}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

// eco is an ECOSYSTEM range introduced at 0 and fixed at fixed.
func fixedAt(fixed string) []map[string]any {
	return []map[string]any{{"type": "ECOSYSTEM", "events": []any{
		map[string]any{"introduced": "0"}, map[string]any{"fixed": fixed}}}}
}

func newZipWriter(w io.Writer) *zip.Writer { return zip.NewWriter(w) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
