package meta

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// TestArtifactIDs checks the ids the database gives manifests and tags:
// positive, distinct, never reused after a delete, kept when a tag moves.
func TestArtifactIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		repo := must1[Repo](t)(q.EnsureRepo(ctx, "p/ids"))
		ids := map[oci.Digest]int64{}
		var maxID int64
		for _, s := range []string{"a", "b", "c"} {
			d := dg(s)
			must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repo.ID, Digest: d, MediaType: oci.MediaTypeImageManifest,
				Size: 1, Content: []byte(s)}, nil, nil))
			a := must1[Artifact](t)(q.GetArtifact(ctx, repo.ID, d))
			if a.ID <= maxID {
				t.Fatalf("manifest %s got id %d after %d", s, a.ID, maxID)
			}
			ids[d], maxID = a.ID, a.ID
		}
		// The newest goes; the next one still gets a new id.
		must(t, q.DeleteManifest(ctx, repo.ID, dg("c")))
		must1[bool](t)(q.PutManifest(ctx, Manifest{RepoID: repo.ID, Digest: dg("d"), MediaType: oci.MediaTypeImageManifest,
			Size: 1, Content: []byte("d")}, nil, nil))
		if a := must1[Artifact](t)(q.GetArtifact(ctx, repo.ID, dg("d"))); a.ID <= maxID {
			t.Errorf("id %d reused (highest so far %d)", a.ID, maxID)
		}
		byDigest := must1[map[oci.Digest]Artifact](t)(q.ArtifactsByDigest(ctx, repo.ID, []oci.Digest{dg("a"), dg("b"), dg("c")}))
		if len(byDigest) != 2 || byDigest[dg("a")].ID != ids[dg("a")] || byDigest[dg("b")].ID != ids[dg("b")] {
			t.Errorf("ArtifactsByDigest %v", byDigest)
		}

		// Tags: a moved tag keeps its id; CreateTag never moves one.
		must(t, q.PutTag(ctx, repo.ID, "t", dg("a")))
		t1 := must1[TagInfo](t)(q.GetTagInfo(ctx, repo.ID, "t"))
		must(t, q.PutTag(ctx, repo.ID, "t", dg("b")))
		t2 := must1[TagInfo](t)(q.GetTagInfo(ctx, repo.ID, "t"))
		if t1.ID <= 0 || t2.ID != t1.ID || t2.ArtifactID != ids[dg("b")] || t1.ArtifactID != ids[dg("a")] {
			t.Errorf("tag before and after moving: %+v %+v", t1, t2)
		}
		wantKind(t, q.CreateTag(ctx, repo.ID, "t", dg("a")), errs.Conflict)
		must(t, q.CreateTag(ctx, repo.ID, "u", dg("a")))
		wantKind(t, q.DeleteTagOf(ctx, repo.ID, "u", dg("b")), errs.NotFound)
		must(t, q.DeleteTagOf(ctx, repo.ID, "u", dg("a")))
		must(t, q.CreateTag(ctx, repo.ID, "u", dg("a")))
		if u := must1[TagInfo](t)(q.GetTagInfo(ctx, repo.ID, "u")); u.ID <= t1.ID+1 {
			t.Errorf("recreated tag got id %d", u.ID)
		}

		// A pull: the repository's count, the artifact's and the tag's time.
		when := at(7)
		must(t, q.RecordPull(ctx, repo.ID, dg("b"), "t", when))
		must(t, q.RecordPull(ctx, repo.ID, dg("b"), "", when))
		info := must1[RepoInfo](t)(q.GetRepoInfo(ctx, "p/ids"))
		b := must1[Artifact](t)(q.GetArtifact(ctx, repo.ID, dg("b")))
		tag := must1[TagInfo](t)(q.GetTagInfo(ctx, repo.ID, "t"))
		if info.PullCount != 2 || !b.PulledAt.Equal(normTime(when)) || !tag.PulledAt.Equal(normTime(when)) {
			t.Errorf("after pulls: count %d, artifact %v, tag %v", info.PullCount, b.PulledAt, tag.PulledAt)
		}
		if a := must1[Artifact](t)(q.GetArtifact(ctx, repo.ID, dg("a"))); !a.PulledAt.IsZero() {
			t.Errorf("an artifact never pulled has pull time %v", a.PulledAt)
		}
	})
}

// TestArtifactKindSQL checks that the SQL behind q=type=… and
// q=media_type=… agrees with ArtifactKind and what the API shows.
func TestArtifactKindSQL(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		repo := must1[Repo](t)(q.EnsureRepo(ctx, "p/kinds"))
		cases := []struct {
			m         Manifest
			kind, cfg string
		}{
			{Manifest{MediaType: oci.MediaTypeImageManifest, ArtifactType: oci.MediaTypeImageConfig}, KindImage, oci.MediaTypeImageConfig},
			{Manifest{MediaType: oci.MediaTypeDockerManifest}, KindImage, oci.MediaTypeDockerConfig},
			{Manifest{MediaType: oci.MediaTypeImageIndex}, KindImage, oci.MediaTypeImageIndex},
			{Manifest{MediaType: oci.MediaTypeDockerList}, KindImage, oci.MediaTypeDockerList},
			{Manifest{MediaType: oci.MediaTypeImageIndex, Annotations: map[string]string{"org.opencontainers.artifactType": MediaTypeCNAB}}, KindCNAB, oci.MediaTypeImageIndex},
			{Manifest{MediaType: oci.MediaTypeImageIndex, ArtifactType: MediaTypeCNAB}, KindCNAB, oci.MediaTypeImageIndex},
			{Manifest{MediaType: oci.MediaTypeImageManifest, ArtifactType: MediaTypeHelmConfig}, KindChart, MediaTypeHelmConfig},
			{Manifest{MediaType: oci.MediaTypeImageManifest, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json"}, KindUnknown, "application/vnd.dev.cosign.artifact.sig.v1+json"},
			{Manifest{MediaType: oci.MediaTypeImageManifest, Annotations: map[string]string{"x": MediaTypeCNAB}}, KindUnknown, ""},
		}
		for i, c := range cases {
			c.m.RepoID, c.m.Digest, c.m.Size, c.m.Content = repo.ID, dg(string(rune('a'+i))), 1, []byte{byte(i)}
			must1[bool](t)(q.PutManifest(ctx, c.m, nil, nil))
			if got := ArtifactKind(c.m); got != c.kind {
				t.Errorf("case %d: ArtifactKind %s, want %s", i, got, c.kind)
			}
			var kind, cfg string
			must(t, q.queryRow(ctx, `SELECT `+kindExpr+`, `+mediaTypeExpr+` FROM manifests m WHERE m.repo_id = ? AND m.digest = ?`,
				repo.ID, c.m.Digest).Scan(&kind, &cfg))
			if kind != c.kind || cfg != c.cfg {
				t.Errorf("case %d: SQL says %s %q, want %s %q", i, kind, cfg, c.kind, c.cfg)
			}
		}
	})
}
