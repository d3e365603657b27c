package scan

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

func npmNames(t *testing.T, e *Engine, img Image) []string {
	t.Helper()
	inv, err := e.Inventory(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, p := range inv.Packages {
		out = append(out, p.Type+":"+p.Name+"@"+p.Version)
	}
	sort.Strings(out)
	return out
}

// TestLayers: compressions, whiteouts (file and opaque directory),
// replacement by a later layer, hard links, and hostile names.
func TestLayers(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	pkg := func(dir, name, ver string) entry {
		return file(dir+"/node_modules/"+name+"/package.json", npmPackage(name, ver))
	}
	base := layerTar(t,
		pkg("app", "a", "1.0.0"), pkg("app", "b", "1.0.0"),
		pkg("lib", "c", "1.0.0"), pkg("lib", "d", "1.0.0"),
		pkg("keep", "e", "1.0.0"))
	top := layerTar(t,
		whiteout("app/node_modules/.wh.a"),        // deletes a
		whiteout("lib/node_modules/.wh..wh..opq"), // empties lib/node_modules…
		pkg("lib", "f", "2.0.0"),                  // …but this layer's own files stay
		pkg("app", "b", "1.1.0"),                  // replaces b
		entry{name: "keep/node_modules/g/package.json", typeflag: tar.TypeLink, link: "keep/node_modules/e/package.json"},
		file("../../../escape/node_modules/h/package.json", npmPackage("h", "1.0.0")), // cleaned to escape/…
	)
	img := Image{Layers: []Layer{layerOf(gzipped(t, base)), layerOf(zstded(t, top))}}
	want := []string{"npm:b@1.1.0", "npm:e@1.0.0", "npm:e@1.0.0", "npm:f@2.0.0", "npm:h@1.0.0"}
	if diff := cmp.Diff(want, npmNames(t, e, img)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	// An uncompressed layer works the same.
	plain := Image{Layers: []Layer{layerOf(base)}}
	if got := npmNames(t, e, plain); len(got) != 5 {
		t.Errorf("plain tar: %v", got)
	}
	// Nothing is left in the temp dir, and nothing escaped it.
	left, _ := os.ReadDir(e.tmpDir)
	if len(left) != 0 {
		t.Errorf("temp dir not cleaned: %v", left)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.tmpDir), "escape")); err == nil {
		t.Errorf("a ../ name was written outside the scan directory")
	}
}

// TestLayerLimits: files over the size limit are not read; a layer that
// is not a tar is Invalid; an error opening a layer keeps its kind.
func TestLayerLimits(t *testing.T) {
	e := newEngine(t, meta.SQLite)
	WithLimits(Limits{MaxFileSize: 100})(e)
	big := npmPackage("big", "1.0.0") + string(make([]byte, 200))
	img := Image{Layers: []Layer{layerOf(gzipped(t, layerTar(t,
		file("n/node_modules/big/package.json", big),
		file("n/node_modules/small/package.json", npmPackage("small", "1.0.0")))))}}
	if diff := cmp.Diff([]string{"npm:small@1.0.0"}, npmNames(t, e, img)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}

	_, err := e.Inventory(context.Background(), Image{Layers: []Layer{layerOf(gzipped(t, []byte("not a tar at all, sorry")))}})
	if !errs.Is(err, errs.Invalid) {
		t.Errorf("garbage layer: %v, want Invalid", err)
	}
	gone := Layer{Digest: "sha256:x", Open: func(context.Context) (io.ReadCloser, error) {
		return nil, errs.Wrap(errs.Unavailable, errors.New("storage down"), "open blob")
	}}
	if _, err := e.Inventory(context.Background(), Image{Layers: []Layer{gone}}); !errs.Is(err, errs.Unavailable) {
		t.Errorf("unopenable layer: %v, want Unavailable", err)
	}
}
