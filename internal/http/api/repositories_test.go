package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/blob/fs"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/meta"
	spec "github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// ctRepository is Harbor's Repository as the tests read it.
type ctRepository struct {
	ID            int64     `json:"id"`
	ProjectID     int64     `json:"project_id"`
	Name          string    `json:"name"`
	Description   string    `json:"description"`
	ArtifactCount int64     `json:"artifact_count"`
	PullCount     int64     `json:"pull_count"`
	CreationTime  time.Time `json:"creation_time"`
	UpdateTime    time.Time `json:"update_time"`
}

func (e *contentEnv) getRepos(c cred, path string) ([]ctRepository, apiResp) {
	e.t.Helper()
	r := e.do(c, "GET", path, nil)
	want(e.t, r, 200, "GET "+path)
	ctValidate(e.t, "GET", path, r)
	var out []ctRepository
	decodeInto(e.t, r, &out)
	return out, r
}

func ctRepoNames(rs []ctRepository) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func TestRepositories(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		img := e.image("priv/app", "v1", "amd64")
		e.image("priv/app", "", "amd64")
		sig := e.signature("priv/app", img)
		e.image("priv/team/tool", "1.0", "amd64")
		e.image("pub/web", "latest", "amd64")
		// A project whose name sorts next to priv's must not leak in.
		want(t, e.do(e.as("admin"), "POST", "/projects", map[string]any{"project_name": "priv-2"}), 201, "project priv-2")
		e.image("priv-2/app", "v1", "amd64")
		guest := e.as("guest")

		repos, r := e.getRepos(guest, "/projects/priv/repositories")
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv/app", "priv/team/tool"}) || r.header.Get("X-Total-Count") != "2" {
			t.Fatalf("priv's repositories %v (total %s)", got, r.header.Get("X-Total-Count"))
		}
		app := repos[0]
		if app.ProjectID != e.priv.ID || app.ArtifactCount != 2 || app.PullCount != 0 || app.ID <= 0 ||
			app.CreationTime.IsZero() || app.UpdateTime.IsZero() || app.Description != "" {
			t.Errorf("priv/app %+v: two artifacts (the signature is an accessory, not counted)", app)
		}
		_ = sig

		// q, sort, paging.
		repos, _ = e.getRepos(guest, "/projects/priv/repositories?q="+qesc("name=~TOO"))
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv/team/tool"}) {
			t.Errorf("q=name=~TOO: %v", got)
		}
		repos, _ = e.getRepos(guest, "/projects/priv/repositories?q="+qesc("name=priv/app"))
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv/app"}) {
			t.Errorf("q=name=priv/app: %v", got)
		}
		repos, _ = e.getRepos(guest, "/projects/priv/repositories?sort=-name")
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv/team/tool", "priv/app"}) {
			t.Errorf("sort=-name: %v", got)
		}
		repos, r = e.getRepos(guest, "/projects/priv/repositories?page=1&page_size=1")
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv/app"}) ||
			!strings.Contains(r.header.Get("Link"), `rel="next"`) || strings.Contains(r.header.Get("Link"), `rel="prev"`) {
			t.Errorf("page 1: %v, Link %q", got, r.header.Get("Link"))
		}
		wantErr(t, e.do(guest, "GET", "/projects/priv/repositories?sort=colour", nil), 400, "unknown sort field", "bad sort")
		wantErr(t, e.do(guest, "GET", "/projects/priv/repositories?q="+qesc("colour=red"), nil), 400, "unknown query key", "bad q")

		// One repository; its name double-encoded, or single-encoded.
		for _, path := range []string{"/projects/priv/repositories/team%252Ftool", "/projects/priv/repositories/team%2Ftool"} {
			r := e.do(guest, "GET", path, nil)
			want(t, r, 200, path)
			ctValidate(t, "GET", path, r)
			var repo ctRepository
			decodeInto(t, r, &repo)
			if repo.Name != "priv/team/tool" || repo.ArtifactCount != 1 || repo.ProjectID != e.priv.ID {
				t.Errorf("%s: %+v", path, repo)
			}
		}
		wantErr(t, e.do(guest, "GET", "/projects/priv/repositories/nothing", nil), 404, "not known", "no repository")

		// Update: the description only, stored HTML-escaped.
		path := "/projects/priv/repositories/app"
		wantErr(t, e.do(guest, "PUT", path, map[string]any{"description": "x"}), 403, "not allowed", "guest updates")
		wantErr(t, e.do(anon, "PUT", "/projects/pub/repositories/web", map[string]any{"description": "x"}), 401, "authentication", "anonymous updates")
		r = e.do(e.as("developer"), "PUT", path, map[string]any{"description": `<b>fast</b> & "small"`, "name": "ignored", "id": 99, "pull_count": 7})
		want(t, r, 200, "developer updates")
		ctValidate(t, "PUT", path, r)
		repos, _ = e.getRepos(guest, "/projects/priv/repositories?q="+qesc("name=priv/app"))
		if w := "&lt;b&gt;fast&lt;/b&gt; &amp; &#34;small&#34;"; len(repos) != 1 || repos[0].Description != w ||
			repos[0].PullCount != 0 || repos[0].ID != app.ID || !repos[0].UpdateTime.After(app.UpdateTime) {
			t.Errorf("after update: %+v, want description %q", repos, w)
		}
		if n := e.count(`SELECT count(*) FROM repositories WHERE name = 'priv/app' AND description LIKE '&lt;b&gt;%'`); n != 1 {
			t.Error("description not stored escaped")
		}
		if n := e.audits("repository", "update", "priv/app"); n != 1 {
			t.Errorf("%d audit rows", n)
		}
		want(t, e.do(e.as("developer"), "PUT", path, map[string]any{}), 200, "no description clears it")
		wantErr(t, e.do(e.as("developer"), "PUT", "/projects/priv/repositories/nothing", map[string]any{"description": "x"}), 404, "not known", "no repository")

		// Pull counts.
		for range 3 {
			want(t, e.v2("GET", "/v2/priv/app/manifests/v1", nil), 200, "pull")
		}
		want(t, e.v2("HEAD", "/v2/priv/app/manifests/v1", nil), 200, "a HEAD is not a pull")
		repos, _ = e.getRepos(guest, "/projects/priv/repositories?sort=-pull_count")
		if len(repos) != 2 || repos[0].Name != "priv/app" || repos[0].PullCount != 3 {
			t.Errorf("pull counts %+v", repos)
		}

		// Who sees what: per project and across projects.
		wantErr(t, e.do(e.as("outsider"), "GET", "/projects/priv/repositories", nil), 403, "not allowed", "outsider")
		wantErr(t, e.do(anon, "GET", "/projects/priv/repositories", nil), 401, "authentication", "anonymous")
		wantErr(t, e.do(e.as("outsider"), "GET", "/projects/nothing/repositories", nil), 403, "not allowed", "no project, user")
		wantErr(t, e.do(e.as("admin"), "GET", "/projects/nothing/repositories", nil), 404, "not found", "no project, admin")
		repos, _ = e.getRepos(anon, "/projects/pub/repositories")
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"pub/web"}) {
			t.Errorf("anonymous in pub: %v", got)
		}
		for _, c := range []struct {
			who  string
			want []string
		}{
			{"admin", []string{"priv-2/app", "priv/app", "priv/team/tool", "pub/web"}},
			{"guest", []string{"priv/app", "priv/team/tool", "pub/web"}},
			{"outsider", []string{"pub/web"}},
			{"anonymous", []string{"pub/web"}},
		} {
			repos, r := e.getRepos(e.as(c.who), "/repositories?page_size=100")
			if got := ctRepoNames(repos); !slices.Equal(got, c.want) || r.header.Get("X-Total-Count") != fmt.Sprint(len(c.want)) {
				t.Errorf("%s: /repositories %v (total %s), want %v", c.who, got, r.header.Get("X-Total-Count"), c.want)
			}
			for _, repo := range repos {
				pr := e.project(access.ProjectOf(repo.Name))
				if repo.ProjectID != pr.ID {
					t.Errorf("%s: project_id %d, want %d", repo.Name, repo.ProjectID, pr.ID)
				}
			}
		}
		repos, _ = e.getRepos(e.as("admin"), "/repositories?q="+qesc("name=~app")+"&sort=-name&page_size=1&page=2")
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv-2/app"}) {
			t.Errorf("q, sort and page across projects: %v", got)
		}

		// Delete (the existing endpoint) takes the counts with it.
		want(t, e.do(e.as("maintainer"), "DELETE", "/projects/priv/repositories/team%252Ftool", nil), 200, "delete")
		repos, _ = e.getRepos(guest, "/projects/priv/repositories")
		if got := ctRepoNames(repos); !slices.Equal(got, []string{"priv/app"}) {
			t.Errorf("after delete: %v", got)
		}
	})
}

// BenchmarkListRepositories lists page 1 of a project with 10,000
// repositories (each with one artifact) on SQLite: through the registry
// service (the store's query, counting included) and over HTTP.
func BenchmarkListRepositories(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	dir := b.TempDir()
	db, err := meta.Open(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acc, err := access.New(ctx, db, access.WithLogger(log))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := acc.Bootstrap(ctx, adminPassword, dir); err != nil {
		b.Fatal(err)
	}
	admin, err := db.Q().GetUserByName(ctx, access.AdminName)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"big", "before", "bigger"} {
		if _, err := db.Q().CreateProject(ctx, meta.Project{Name: name, OwnerID: admin.ID, StorageLimit: -1}, access.RoleProjectAdmin); err != nil {
			b.Fatal(err)
		}
	}
	err = db.Tx(ctx, func(q *meta.Q) error {
		for i := range n {
			for _, project := range []string{"big", "before", "bigger"} {
				if project != "big" && i%10 != 0 {
					continue
				}
				repo, err := q.EnsureRepo(ctx, fmt.Sprintf("%s/repo-%05d", project, i))
				if err != nil {
					return err
				}
				body := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
				if _, err := q.PutManifest(ctx, meta.Manifest{RepoID: repo.ID, Digest: spec.FromBytes(body),
					MediaType: spec.MediaTypeImageManifest, Size: int64(len(body)), Content: body}, nil, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	store, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	reg := registry.New(db, store, registry.WithLogger(log))
	o := meta.ListOptions{Page: 1, PageSize: 10}

	repos, total, err := reg.ListRepositories(ctx, "big", o)
	if err != nil || total != n || len(repos) != 10 || repos[0].Name != "big/repo-00000" || repos[0].ArtifactCount != 1 {
		b.Fatalf("page 1: %d of %d (%v), first %+v", len(repos), total, err, repos)
	}

	b.Run("service", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := reg.ListRepositories(ctx, "big", o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		h := api.New(acc, auth.New(acc, "", log), reg, log)
		req, _ := http.NewRequest("GET", api.Prefix+"/projects/big/repositories?page=1&page_size=10", nil)
		req.SetBasicAuth(access.AdminName, adminPassword)
		for b.Loop() {
			w := &ctDiscard{h: http.Header{}}
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

// ctDiscard is a ResponseWriter that keeps only the status.
type ctDiscard struct {
	h      http.Header
	status int
}

func (w *ctDiscard) Header() http.Header { return w.h }
func (w *ctDiscard) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
func (w *ctDiscard) WriteHeader(s int) { w.status = s }
