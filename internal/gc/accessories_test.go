package gc_test

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/oci"
)

// TestTagSchemeAccessories: a cosign signature linked only by its
// sha256-<hex>.sig tag stays with its subject, even with delete_untagged,
// and goes once the subject is collected as untagged in the same run; an
// image someone tagged like that while its subject lives is left alone,
// and so is a normally tagged manifest. (Deleting the subject takes real
// accessories at once: internal/http/oci's TestDeleteTakesTagSchemeAccessories.)
func TestTagSchemeAccessories(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		schemeTag := func(d oci.Digest, sfx string) string { return strings.Replace(string(d), ":", "-", 1) + "." + sfx }
		img := e.pushImage("p/c", "v1", "img", data("img", 1000))
		sig := e.pushImage("p/c", "", "sig of img", data("sig of img", 100))
		e.putTag("p/c", schemeTag(img, "sig"), sig)
		att := e.pushImage("p/c", "", "att of img", data("att of img", 100))
		e.putTag("p/c", schemeTag(img, "att"), att)

		loose := e.pushImage("p/c", "", "loose", data("loose", 1000))
		looseSig := e.pushImage("p/c", "", "sig of loose", data("sig of loose", 100))
		e.putTag("p/c", schemeTag(loose, "sig"), looseSig)

		r := e.run(gc.Params{})
		if r.ManifestsDeleted != 0 {
			t.Fatalf("deleted %d manifests with every subject present\n%s", r.ManifestsDeleted, r.Log)
		}
		// delete_untagged takes the loose image, then its signature.
		r = e.run(gc.Params{DeleteUntagged: true})
		if r.ManifestsDeleted != 2 || e.hasManifest("p/c", loose) || e.hasManifest("p/c", looseSig) {
			t.Fatalf("deleted %d manifests, want the loose image and its signature\n%s", r.ManifestsDeleted, r.Log)
		}
		if !e.hasManifest("p/c", sig) || !e.hasManifest("p/c", att) {
			t.Fatal("accessories of a tagged image went")
		}
		// These "accessories" are images: deleting their subject by digest
		// (which takes real tag-scheme accessories at once) only takes
		// their tags, so they stay, untagged, until delete_untagged.
		e.deleteManifest("p/c", img)
		r = e.run(gc.Params{})
		if r.ManifestsDeleted != 0 || !e.hasManifest("p/c", sig) || !e.hasManifest("p/c", att) {
			t.Fatalf("deleted %d manifests, want the images tagged like accessories kept\n%s", r.ManifestsDeleted, r.Log)
		}
		r = e.run(gc.Params{DeleteUntagged: true})
		if r.ManifestsDeleted != 2 || e.hasManifest("p/c", sig) || e.hasManifest("p/c", att) {
			t.Fatalf("deleted %d manifests, want both now untagged images\n%s", r.ManifestsDeleted, r.Log)
		}
		e.checkInvariant1()
	})
}

func (e *env) putTag(repo, tag string, d oci.Digest) {
	e.t.Helper()
	m, err := e.reg.GetManifest(e.ctx, repo, string(d))
	if err != nil {
		e.t.Fatal(err)
	}
	e.putManifest(repo, tag, m.MediaType, m.Content)
}
