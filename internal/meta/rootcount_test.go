package meta

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-registry/berth/internal/oci"
)

// TestArtifactRootCountMatchesRootCond checks the index-only count used
// for unfiltered artifact listings against rootCond applied row by row,
// on a repository with every kind of non-root manifest: index children
// (one listed by two indexes), accessories of present subjects, an
// accessory whose subject is absent (a root), an accessory that is also a
// child, and a second repository that must not leak into the count.
func TestArtifactRootCountMatchesRootCond(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		repo, err := q.EnsureRepo(ctx, "p/app")
		if err != nil {
			t.Fatal(err)
		}
		other, err := q.EnsureRepo(ctx, "p/other")
		if err != nil {
			t.Fatal(err)
		}
		put := func(r Repo, name string, subject oci.Digest, children ...oci.Digest) oci.Digest {
			t.Helper()
			d := oci.FromBytes([]byte(name))
			m := Manifest{RepoID: r.ID, Digest: d, MediaType: oci.MediaTypeImageManifest, Subject: subject, Size: 1, Content: []byte(name)}
			if len(children) > 0 {
				m.MediaType = oci.MediaTypeImageIndex
			}
			if _, err := q.PutManifest(ctx, m, nil, children); err != nil {
				t.Fatalf("put %s: %v", name, err)
			}
			return d
		}
		c1, c2 := put(repo, "child1", ""), put(repo, "child2", "")
		put(repo, "index1", "", c1, c2)
		put(repo, "index2", "", c1)
		img := put(repo, "image", "")
		put(repo, "sig", img)
		put(repo, "sbom", img)
		put(repo, "orphan-sig", oci.FromBytes([]byte("absent subject")))
		put(repo, "child-sig", c1) // an accessory of a child: not a root
		for i := 0; i < 5; i++ {
			put(repo, fmt.Sprintf("plain %d", i), "")
		}
		// cosign's tag scheme: an accessory of a present subject (not a
		// root, even if also tagged otherwise), one whose subject is
		// absent (a root), and one that is also a child (counted once).
		tag := func(name string, d oci.Digest) {
			t.Helper()
			if err := q.PutTag(ctx, repo.ID, name, d); err != nil {
				t.Fatal(err)
			}
		}
		scheme := func(subject oci.Digest, sfx string) string {
			return "sha256-" + subject.Hex() + "." + sfx
		}
		legacySig := put(repo, "legacy sig", "")
		tag(scheme(img, "sig"), legacySig)
		tag("also-named", legacySig)
		legacyAtt := put(repo, "legacy att", "")
		tag(scheme(img, "att"), legacyAtt)
		tag(scheme(img, "sbom"), legacyAtt) // two scheme tags, one manifest
		orphanLegacy := put(repo, "orphan legacy sig", "")
		tag(scheme(oci.FromBytes([]byte("gone")), "sig"), orphanLegacy)
		tag(scheme(img, ""), c2) // the referrers tag schema's index tag links no accessory
		childSig := put(repo, "child legacy sig", "")
		put(repo, "index3", "", childSig)
		tag(scheme(img, "sig")+"x", childSig) // not a scheme tag
		put(other, "elsewhere", "")

		slow, err := db.Count(ctx, "SELECT count(*) FROM manifests m WHERE m.repo_id = ? AND "+rootCond, repo.ID)
		if err != nil {
			t.Fatal(err)
		}
		var fast int
		if err := q.queryRow(ctx, rootCountSQL, repo.ID, repo.ID, repo.ID, repo.ID, repo.ID).Scan(&fast); err != nil {
			t.Fatal(err)
		}
		// index1, index2, index3, image, orphan-sig, orphan legacy sig and
		// 5 plain images.
		if slow != 11 || fast != slow {
			t.Fatalf("root count: fast %d, row by row %d, want 11", fast, slow)
		}
		_, total, err := q.ListArtifacts(ctx, repo.ID, ListOptions{PageSize: 2})
		if err != nil || total != 11 {
			t.Fatalf("ListArtifacts total %d, %v", total, err)
		}
	})
}
