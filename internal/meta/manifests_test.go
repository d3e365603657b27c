package meta

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

func TestManifests(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))
		other := must1[Repo](t)(q.EnsureRepo(ctx, "other"))
		img, idx := dg("image"), dg("index")
		layers := []oci.Digest{dg("l1"), dg("l2"), dg("cfg"), dg("l1")} // duplicates are fine

		_, err := q.GetManifest(ctx, r.ID, img)
		wantKind(t, err, errs.NotFound)

		m := Manifest{
			RepoID: r.ID, Digest: img, MediaType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactType: "application/vnd.example", Size: 9,
			Annotations: map[string]string{"org.opencontainers.image.created": "2026-05-01T00:00:00Z", "k": "v"},
			Content:     []byte(`{"a":"b"}`), CreatedAt: at(3),
		}
		diff(t, "first PutManifest", true, must1[bool](t)(q.PutManifest(ctx, m, layers, nil)))
		changed := m
		changed.MediaType, changed.Content = "other", []byte("other")
		diff(t, "second PutManifest", false, must1[bool](t)(q.PutManifest(ctx, changed, []oci.Digest{dg("zzz")}, nil)))
		want := m
		want.CreatedAt = m.CreatedAt.Truncate(time.Microsecond)
		diff(t, "GetManifest", want, must1[Manifest](t)(q.GetManifest(ctx, r.ID, img)))
		_, err = q.GetManifest(ctx, other.ID, img)
		wantKind(t, err, errs.NotFound)
		diff(t, "manifest_blobs rows", 3, count(t, db, `SELECT count(*) FROM manifest_blobs WHERE repo_id = ? AND manifest_digest = ?`, r.ID, img))

		// An index listing the image and one that is not pushed yet.
		ix := Manifest{RepoID: r.ID, Digest: idx, MediaType: "application/vnd.oci.image.index.v1+json", Size: 2, Content: []byte("{}")}
		diff(t, "PutManifest index", true, must1[bool](t)(q.PutManifest(ctx, ix, nil, []oci.Digest{img, dg("later")})))
		got := must1[Manifest](t)(q.GetManifest(ctx, r.ID, idx))
		if got.Annotations != nil || got.Subject != "" || got.ArtifactType != "" || got.CreatedAt.IsZero() {
			t.Errorf("index manifest %+v: want no annotations, subject or artifact type, and a creation time", got)
		}
		diff(t, "ManifestParents(image)", []oci.Digest{idx}, must1[[]oci.Digest](t)(q.ManifestParents(ctx, r.ID, img)))
		diff(t, "ManifestParents(later)", []oci.Digest{idx}, must1[[]oci.Digest](t)(q.ManifestParents(ctx, r.ID, dg("later"))))
		diff(t, "ManifestParents(index)", []oci.Digest{}, must1[[]oci.Digest](t)(q.ManifestParents(ctx, r.ID, idx)))
		diff(t, "ManifestParents in other repo", []oci.Digest{}, must1[[]oci.Digest](t)(q.ManifestParents(ctx, other.ID, img)))

		diff(t, "ManifestExists", map[oci.Digest]bool{img: true, idx: true, dg("later"): false},
			must1[map[oci.Digest]bool](t)(q.ManifestExists(ctx, r.ID, []oci.Digest{img, idx, dg("later"), img})))
		diff(t, "ManifestExists in other repo", map[oci.Digest]bool{img: false},
			must1[map[oci.Digest]bool](t)(q.ManifestExists(ctx, other.ID, []oci.Digest{img})))

		_, err = q.PutManifest(ctx, Manifest{RepoID: 999999, Digest: img, MediaType: "x"}, nil, nil)
		wantKind(t, err, errs.NotFound)
	})
}

func TestDeleteManifest(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))
		other := must1[Repo](t)(q.EnsureRepo(ctx, "other"))
		img, idx, keep := dg("image"), dg("index"), dg("keep")
		for _, repo := range []int64{r.ID, other.ID} {
			must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repo, Digest: img, MediaType: "m", Content: []byte("i")},
				[]oci.Digest{dg("l1"), dg("cfg")}, nil))
			must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repo, Digest: keep, MediaType: "m", Content: []byte("k")},
				[]oci.Digest{dg("l1")}, nil))
			must(t, q.PutTag(ctx, repo, "v1", img))
			must(t, q.PutTag(ctx, repo, "latest", img))
			must(t, q.PutTag(ctx, repo, "stable", keep))
		}
		must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: r.ID, Digest: idx, MediaType: "i", Content: []byte("x")},
			nil, []oci.Digest{img, keep}))
		diff(t, "TagsFor(image)", []string{"latest", "v1"}, must1[[]string](t)(q.TagsFor(ctx, r.ID, img)))

		must(t, q.DeleteManifest(ctx, r.ID, img))
		wantKind(t, q.DeleteManifest(ctx, r.ID, img), errs.NotFound)

		diff(t, "tags left", []string{"stable"}, must1[[]string](t)(q.ListTags(ctx, r.ID, "", 0)))
		diff(t, "TagsFor(image) after delete", []string{}, must1[[]string](t)(q.TagsFor(ctx, r.ID, img)))
		diff(t, "manifest_blobs of deleted", 0,
			count(t, db, `SELECT count(*) FROM manifest_blobs WHERE repo_id = ? AND manifest_digest = ?`, r.ID, img))
		diff(t, "manifest_blobs of kept", 1,
			count(t, db, `SELECT count(*) FROM manifest_blobs WHERE repo_id = ? AND manifest_digest = ?`, r.ID, keep))
		// The index still lists the deleted child: deciding whether that is
		// allowed is the registry's job, and ManifestParents tells it.
		diff(t, "ManifestParents(image)", []oci.Digest{idx}, must1[[]oci.Digest](t)(q.ManifestParents(ctx, r.ID, img)))

		must(t, q.DeleteManifest(ctx, r.ID, idx))
		diff(t, "manifest_children rows", 0, count(t, db, `SELECT count(*) FROM manifest_children WHERE repo_id = ?`, r.ID))

		// The other repository is untouched.
		diff(t, "other repo tags", []string{"latest", "stable", "v1"}, must1[[]string](t)(q.ListTags(ctx, other.ID, "", 0)))
		diff(t, "other repo manifest_blobs", 3, count(t, db, `SELECT count(*) FROM manifest_blobs WHERE repo_id = ?`, other.ID))
	})
}

func TestListReferrers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		r := must1[Repo](t)(q.EnsureRepo(ctx, "app"))
		other := must1[Repo](t)(q.EnsureRepo(ctx, "other"))
		subject := dg("subject")
		put := func(repo int64, name, artifactType string, subj oci.Digest) Manifest {
			m := Manifest{
				RepoID: repo, Digest: dg(name), MediaType: "application/vnd.oci.image.manifest.v1+json",
				ArtifactType: artifactType, Subject: subj, Size: int64(len(name)),
				Annotations: map[string]string{"name": name}, Content: []byte(name), CreatedAt: at(len(name)),
			}
			must1[bool](t)(q.PutManifest(ctx, m, nil, nil))
			m.Content, m.CreatedAt = nil, m.CreatedAt.Truncate(time.Microsecond)
			return m
		}
		sig1 := put(r.ID, "sig1", "application/vnd.dev.cosign", subject)
		sig2 := put(r.ID, "sig2", "application/vnd.dev.cosign", subject)
		sbom := put(r.ID, "sbom", "application/spdx+json", subject)
		put(r.ID, "unrelated", "application/spdx+json", dg("elsewhere"))
		put(r.ID, "plain", "", "")
		put(other.ID, "sig-other", "application/vnd.dev.cosign", subject)

		byDigest := func(ms ...Manifest) []Manifest {
			out := append([]Manifest(nil), ms...)
			slices.SortFunc(out, func(a, b Manifest) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
			return out
		}
		for _, tc := range []struct {
			name         string
			repo         int64
			subject      oci.Digest
			artifactType string
			want         []Manifest
		}{
			{"all", r.ID, subject, "", byDigest(sig1, sig2, sbom)},
			{"cosign", r.ID, subject, "application/vnd.dev.cosign", byDigest(sig1, sig2)},
			{"spdx", r.ID, subject, "application/spdx+json", []Manifest{sbom}},
			{"unknown type", r.ID, subject, "text/plain", nil},
			{"no referrers", r.ID, dg("nothing"), "", nil},
			{"empty subject", r.ID, "", "", nil},
		} {
			got := must1[[]Manifest](t)(q.ListReferrers(ctx, tc.repo, tc.subject, tc.artifactType))
			diff(t, "ListReferrers "+tc.name, tc.want, got)
		}
	})
}
