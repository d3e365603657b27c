package api_test

import (
	"slices"
	"testing"
)

// ctSearch is Harbor's Search as the tests read it.
type ctSearch struct {
	Project []struct {
		ProjectID int64  `json:"project_id"`
		Name      string `json:"name"`
	} `json:"project"`
	Repository []struct {
		ProjectID      int64  `json:"project_id"`
		ProjectName    string `json:"project_name"`
		ProjectPublic  bool   `json:"project_public"`
		RepositoryName string `json:"repository_name"`
		PullCount      int64  `json:"pull_count"`
		ArtifactCount  int64  `json:"artifact_count"`
	} `json:"repository"`
}

func TestSearch(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		admin := e.as("admin")
		want(t, e.do(admin, "POST", "/projects", map[string]any{"project_name": "secret-apps"}), 201, "private project")
		e.image("priv/app", "v1", "amd64")
		e.image("priv/app", "", "amd64")
		e.image("pub/app-web", "v1", "amd64")
		e.image("pub/other", "v1", "amd64")
		e.image("secret-apps/app-hidden", "v1", "amd64")
		want(t, e.v2("GET", "/v2/pub/app-web/manifests/v1", nil), 200, "pull")

		search := func(c cred, q string) ctSearch {
			t.Helper()
			path := "/search?q=" + q
			r := e.do(c, "GET", path, nil)
			want(t, r, 200, "search "+q)
			ctValidate(t, "GET", path, r)
			var s ctSearch
			decodeInto(t, r, &s)
			if s.Project == nil || s.Repository == nil {
				t.Errorf("search %s: want both lists, got %s", q, r.body)
			}
			return s
		}
		names := func(s ctSearch) (projects, repos []string) {
			projects, repos = []string{}, []string{}
			for _, p := range s.Project {
				projects = append(projects, p.Name)
			}
			for _, r := range s.Repository {
				repos = append(repos, r.RepositoryName)
			}
			return projects, repos
		}
		for _, c := range []struct {
			who, q          string
			projects, repos []string
		}{
			{"admin", "app", []string{"secret-apps"}, []string{"priv/app", "pub/app-web", "secret-apps/app-hidden"}},
			{"guest", "app", []string{}, []string{"priv/app", "pub/app-web"}},
			{"outsider", "app", []string{}, []string{"pub/app-web"}},
			{"anonymous", "app", []string{}, []string{"pub/app-web"}},
			{"guest", "pri", []string{"priv"}, []string{"priv/app"}},
			{"anonymous", "pri", []string{}, []string{}},
			{"anonymous", "PUB", []string{"pub"}, []string{"pub/app-web", "pub/other"}},
			{"admin", "nothing-like-this", []string{}, []string{}},
		} {
			ps, rs := names(search(e.as(c.who), c.q))
			if !slices.Equal(ps, c.projects) || !slices.Equal(rs, c.repos) {
				t.Errorf("%s searching %q: projects %v repositories %v, want %v %v", c.who, c.q, ps, rs, c.projects, c.repos)
			}
		}
		s := search(e.as("guest"), "app")
		for _, r := range s.Repository {
			switch r.RepositoryName {
			case "priv/app":
				if r.ProjectID != e.priv.ID || r.ProjectName != "priv" || r.ProjectPublic || r.ArtifactCount != 2 || r.PullCount != 0 {
					t.Errorf("priv/app: %+v", r)
				}
			case "pub/app-web":
				if r.ProjectID != e.pub.ID || r.ProjectName != "pub" || !r.ProjectPublic || r.ArtifactCount != 1 || r.PullCount != 1 {
					t.Errorf("pub/app-web: %+v", r)
				}
			}
		}
		wantErr(t, e.do(admin, "GET", "/search", nil), 400, "required", "no q")
		wantErr(t, e.do(admin, "GET", "/search?q=%20", nil), 400, "required", "blank q")
	})
}
