package meta

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/oci"
)

// quotaFixture makes a user and projects to hang repositories on.
func quotaFixture(t *testing.T, db *DB, names ...string) map[string]Project {
	t.Helper()
	ctx := context.Background()
	q := db.Q()
	u, err := q.CreateUser(ctx, User{Username: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Project{}
	for _, n := range names {
		p, err := q.CreateProject(ctx, Project{Name: n, OwnerID: u.ID, StorageLimit: -1}, 1)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = p
	}
	return out
}

// link stores a blob of size bytes (if new) and links it into repo.
func link(t *testing.T, db *DB, repo string, d oci.Digest, size int64) Repo {
	t.Helper()
	ctx := context.Background()
	q := db.Q()
	r, err := q.EnsureRepo(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.InsertBlob(ctx, Blob{Digest: d, Size: size}); err != nil {
		t.Fatal(err)
	}
	if err := q.LinkBlob(ctx, r.ID, d); err != nil {
		t.Fatal(err)
	}
	return r
}

func wantUsed(t *testing.T, db *DB, p Project, want int64) {
	t.Helper()
	got, err := db.Q().ProjectUsage(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("usage of %s = %d, want %d", p.Name, got, want)
	}
}

// TestProjectUsage follows a project's usage through every way a link
// comes and goes.
func TestProjectUsage(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		ps := quotaFixture(t, db, "p", "p2", "other")
		p := ps["p"]
		a := link(t, db, "p/a", dg("A"), 100)
		wantUsed(t, db, p, 100)
		link(t, db, "p/a", dg("A"), 100) // linking again changes nothing
		b := link(t, db, "p/b/c", dg("A"), 100)
		wantUsed(t, db, p, 100)
		link(t, db, "p/b/c", dg("B"), 30)
		link(t, db, "p2/x", dg("B"), 30) // "p2/…" is not "p/…"
		link(t, db, "other/y", dg("C"), 7)
		link(t, db, "noproject/z", dg("D"), 1000) // no such project: counted nowhere
		wantUsed(t, db, p, 130)
		wantUsed(t, db, ps["p2"], 30)
		wantUsed(t, db, ps["other"], 7)

		if _, err := q.UnlinkBlob(ctx, a.ID, dg("A")); err != nil {
			t.Fatal(err)
		}
		wantUsed(t, db, p, 130) // still in p/b/c
		if _, err := q.UnlinkBlob(ctx, b.ID, dg("A")); err != nil {
			t.Fatal(err)
		}
		wantUsed(t, db, p, 30)
		if err := q.DeleteRepo(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		wantUsed(t, db, p, 0)
		wantUsed(t, db, ps["p2"], 30)

		// A project created after repositories carrying its name starts
		// from their links.
		owner := p.OwnerID
		np, err := q.CreateProject(ctx, Project{Name: "noproject", OwnerID: owner, StorageLimit: -1}, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantUsed(t, db, np, 1000)

		// Deleting a project takes its rows.
		if err := q.DeleteRepo(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := q.DeleteProject(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT count(*) FROM project_usage WHERE project_id = ?`, p.ID); n != 0 {
			t.Fatalf("usage rows of a deleted project: %d", n)
		}
		if n := count(t, db, `SELECT count(*) FROM project_blobs WHERE project_id = ?`, p.ID); n != 0 {
			t.Fatalf("blob rows of a deleted project: %d", n)
		}

		x, err := q.GetQuota(ctx, ps["p2"].ID)
		if err != nil {
			t.Fatal(err)
		}
		if x.Used != 30 || x.Hard != -1 || x.ProjectName != "p2" || x.OwnerName != "owner" {
			t.Fatalf("quota: %+v", x)
		}
		if _, err := q.GetQuota(ctx, p.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("quota of a deleted project: %v", err)
		}
	})
}

// TestCheckLink decides links against the limit: blobs the project holds
// already are free, others must fit.
func TestCheckLink(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		p := quotaFixture(t, db, "p")["p"]
		link(t, db, "p/a", dg("A"), 600)
		check := func(repo string, d oci.Digest, size int64) error {
			return db.Tx(ctx, func(q *Q) error { return ProjectQuotas{}.CheckLink(ctx, q, repo, d, size) })
		}
		if err := check("p/b", dg("B"), 1<<40); err != nil {
			t.Fatalf("unlimited: %v", err)
		}
		if err := db.Q().SetStorageLimit(ctx, p.ID, 1000); err != nil {
			t.Fatal(err)
		}
		if err := check("p/b", dg("B"), 400); err != nil {
			t.Fatalf("exactly at the limit: %v", err)
		}
		err := check("p/b", dg("B"), 401)
		wantKind(t, err, errs.Denied)
		if e, _ := errs.As(err); e.Code != "DENIED" || !strings.Contains(e.Msg, `project "p" would use 1001 B of its 1000 B limit`) {
			t.Fatalf("refusal: %v", err)
		}
		if err := db.Q().SetStorageLimit(ctx, p.ID, 10); err != nil {
			t.Fatal(err)
		}
		if err := check("p/other", dg("A"), 600); err != nil {
			t.Fatalf("a blob the project holds costs nothing: %v", err)
		}
		for _, repo := range []string{"single", "nosuch/x"} {
			if err := check(repo, dg("Z"), 1<<40); err != nil {
				t.Fatalf("%s: %v", repo, err)
			}
		}
		wantKind(t, db.Q().SetStorageLimit(ctx, p.ID, -2), errs.Invalid)
		wantKind(t, db.Q().SetStorageLimit(ctx, 99999, 1), errs.NotFound)
	})
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1000: "1000 B", 1024: "1 KiB", 1126: "1.1 KiB", 1 << 30: "1 GiB",
		1288490189: "1.2 GiB", 5 << 40: "5 TiB", -1: "-1 B",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestListQuotas pages and sorts quotas.
func TestListQuotas(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		ps := quotaFixture(t, db, "a", "b", "c")
		for i, n := range []string{"a", "b", "c"} {
			link(t, db, n+"/r", dg(n), int64(10*(i+1)))
		}
		if err := db.Q().SetStorageLimit(ctx, ps["b"].ID, 5000); err != nil {
			t.Fatal(err)
		}
		list, total, err := db.Q().ListQuotas(ctx, ListOptions{Sort: []SortKey{{Key: "used.storage", Desc: true}}, PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if total != 3 || len(list) != 2 || list[0].ProjectName != "c" || list[0].Used != 30 || list[1].ProjectName != "b" {
			t.Fatalf("by usage: %d %+v", total, list)
		}
		list, _, err = db.Q().ListQuotas(ctx, ListOptions{Sort: []SortKey{{Key: "hard.storage", Desc: true}}, PageSize: 1})
		if err != nil || list[0].ProjectName != "b" || list[0].Hard != 5000 {
			t.Fatalf("by limit: %v %+v", err, list)
		}
		list, total, err = db.Q().ListQuotas(ctx, ListOptions{Query: []Cond{{Key: "reference_id", Op: "=", Values: []string{fmt.Sprint(ps["a"].ID)}}}})
		if err != nil || total != 1 || list[0].ProjectID != ps["a"].ID {
			t.Fatalf("by reference_id: %v %d %+v", err, total, list)
		}
	})
}

// TestCountProjects counts projects and repositories by visibility.
func TestCountProjects(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		ps := quotaFixture(t, db, "priv", "priv2")
		pub := ps["priv2"]
		pub.Public = true
		if err := q.UpdateProject(ctx, pub); err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"priv/a", "priv/b/c", "priv2/x", "privx/y", "solo"} {
			if _, err := q.EnsureRepo(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		c, err := q.CountProjects(ctx, ProjectFilter{All: true})
		if err != nil {
			t.Fatal(err)
		}
		if c != (Counts{PublicProjects: 1, PrivateProjects: 1, PublicRepos: 1, PrivateRepos: 2}) {
			t.Fatalf("all: %+v", c)
		}
		c, err = q.CountProjects(ctx, ProjectFilter{UserID: 99999})
		if err != nil || c != (Counts{PublicProjects: 1, PublicRepos: 1}) {
			t.Fatalf("a stranger: %v %+v", err, c)
		}
		c, err = q.CountProjects(ctx, ProjectFilter{ExtraIDs: []int64{ps["priv"].ID}})
		if err != nil || c != (Counts{PublicProjects: 1, PublicRepos: 1, PrivateProjects: 1, PrivateRepos: 2}) {
			t.Fatalf("a robot of priv: %v %+v", err, c)
		}
		link(t, db, "priv/a", dg("x"), 5)
		link(t, db, "priv2/x", dg("x"), 5)
		link(t, db, "priv2/x", dg("y"), 6)
		if _, err := q.InsertBlob(ctx, Blob{Digest: dg("unlinked"), Size: 1000}); err != nil {
			t.Fatal(err)
		}
		if n, err := q.StoredBytes(ctx); err != nil || n != 11 {
			t.Fatalf("stored bytes: %v %d", err, n)
		}
	})
}

// TestLabelsStore covers labels and their attachment to artifacts.
func TestLabelsStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()
		p := quotaFixture(t, db, "p")["p"]
		g, err := q.CreateLabel(ctx, Label{Name: "prod", Scope: LabelGlobal, ProjectID: 42})
		if err != nil || g.ProjectID != 0 {
			t.Fatalf("global: %v %+v", err, g)
		}
		_, err = q.CreateLabel(ctx, Label{Name: "prod", Scope: LabelGlobal})
		wantKind(t, err, errs.Conflict)
		pl, err := q.CreateLabel(ctx, Label{Name: "prod", Scope: LabelProject, ProjectID: p.ID, Color: "#fff"})
		if err != nil {
			t.Fatalf("a project label may share a global label's name: %v", err)
		}
		_, err = q.CreateLabel(ctx, Label{Name: "x", Scope: LabelProject, ProjectID: 99999})
		wantKind(t, err, errs.NotFound)
		_, err = q.CreateLabel(ctx, Label{Name: "x", Scope: "z"})
		wantKind(t, err, errs.Invalid)
		other, err := q.CreateLabel(ctx, Label{Name: "qa", Scope: LabelProject, ProjectID: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		wantKind(t, q.UpdateLabel(ctx, Label{ID: other.ID, Name: "prod"}), errs.Conflict)
		if err := q.UpdateLabel(ctx, Label{ID: other.ID, Name: "staging", Color: "#000"}); err != nil {
			t.Fatal(err)
		}
		got, err := q.GetLabel(ctx, other.ID)
		if err != nil || got.Name != "staging" || got.Color != "#000" || got.Scope != LabelProject || got.ProjectID != p.ID {
			t.Fatalf("updated: %v %+v", err, got)
		}
		ls, total, err := q.ListLabels(ctx, ListOptions{}, LabelProject, p.ID)
		if err != nil || total != 2 || len(ls) != 2 {
			t.Fatalf("project labels: %v %d %+v", err, total, ls)
		}

		r, err := q.EnsureRepo(ctx, "p/app")
		if err != nil {
			t.Fatal(err)
		}
		m := Manifest{RepoID: r.ID, Digest: dg("m"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2, Content: []byte("{}")}
		if _, err := q.PutManifest(ctx, m, nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, l := range []Label{g, pl} {
			if err := q.AddArtifactLabel(ctx, r.ID, m.Digest, l.ID); err != nil {
				t.Fatal(err)
			}
		}
		wantKind(t, q.AddArtifactLabel(ctx, r.ID, m.Digest, g.ID), errs.Conflict)
		wantKind(t, q.AddArtifactLabel(ctx, r.ID, dg("none"), g.ID), errs.NotFound)
		wantKind(t, q.AddArtifactLabel(ctx, r.ID, m.Digest, 99999), errs.NotFound)
		by, err := q.LabelsOf(ctx, r.ID, []oci.Digest{m.Digest, dg("none")})
		if err != nil || len(by) != 1 || len(by[m.Digest]) != 2 || by[m.Digest][0].ID != g.ID || by[m.Digest][1].Name != "prod" {
			t.Fatalf("LabelsOf: %v %+v", err, by)
		}
		if err := q.RemoveArtifactLabel(ctx, r.ID, m.Digest, g.ID); err != nil {
			t.Fatal(err)
		}
		wantKind(t, q.RemoveArtifactLabel(ctx, r.ID, m.Digest, g.ID), errs.NotFound)
		if err := q.DeleteManifest(ctx, r.ID, m.Digest); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT count(*) FROM artifact_labels`); n != 0 {
			t.Fatalf("attachments of a deleted artifact: %d", n)
		}
		if err := q.DeleteLabel(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		wantKind(t, q.DeleteLabel(ctx, g.ID), errs.NotFound)
		if err := q.DeleteProject(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT count(*) FROM labels`); n != 0 {
			t.Fatalf("labels left: %d", n)
		}
	})
}
