package api_test

import (
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

type labelResp struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Color       string `json:"color"`
	Scope       string `json:"scope"`
	ProjectID   int64  `json:"project_id"`
}

// createLabel posts a label as who and returns its id, read from the
// Location header, after checking the answer.
func (e *apiEnv) createLabel(who string, body map[string]any) int64 {
	e.t.Helper()
	r := e.do(e.as(who), "POST", "/labels", body)
	want(e.t, r, 201, "create label")
	validateBoth(e.t, "POST", "/labels", r)
	loc := r.header.Get("Location")
	n, err := strconv.ParseInt(path.Base(loc), 10, 64)
	if err != nil || !strings.HasPrefix(loc, "/api/v2.0/labels/") {
		e.t.Fatalf("Location %q", loc)
	}
	return n
}

func (e *apiEnv) getLabel(who string, n int64) labelResp {
	e.t.Helper()
	p := "/labels/" + id(n)
	r := e.do(e.as(who), "GET", p, nil)
	want(e.t, r, 200, "GET "+p)
	validateBoth(e.t, "GET", p, r)
	var l labelResp
	decodeInto(e.t, r, &l)
	return l
}

// TestLabels covers global and project labels, who may manage them, and
// their attachment to artifacts.
func TestLabels(t *testing.T) {
	forEachStack(t, func(t *testing.T, e *apiEnv) {
		admin := e.as("admin")

		// Global labels: administrators manage them, anyone signed in
		// reads them.
		prod := e.createLabel("admin", map[string]any{"name": "prod", "description": "production", "color": "#FF0000", "scope": "g"})
		if l := e.getLabel("developer", prod); l.Name != "prod" || l.Scope != "g" || l.ProjectID != 0 || l.Color != "#FF0000" || l.Description != "production" {
			t.Fatalf("global label: %+v", l)
		}
		wantErr(t, e.do(admin, "POST", "/labels", map[string]any{"name": "prod", "scope": "g"}), 409, "prod", "duplicate global label")
		want(t, e.do(admin, "PUT", "/labels/"+id(prod), map[string]any{"name": "production", "color": "#00FF00", "description": "live"}), 200, "update global")
		if l := e.getLabel("guest", prod); l.Name != "production" || l.Color != "#00FF00" || l.Description != "live" {
			t.Fatalf("updated global label: %+v", l)
		}
		// Harbor's clients send the object they read back, ids and times included.
		r := e.do(admin, "GET", "/labels/"+id(prod), nil)
		want(t, e.do(admin, "PUT", "/labels/"+id(prod), string(r.body)), 200, "update with the object read")

		// Project labels follow the project's label permissions.
		teamID := e.createLabel("maintainer", map[string]any{"name": "team", "scope": "p", "project_id": e.priv.ID})
		if l := e.getLabel("guest", teamID); l.Scope != "p" || l.ProjectID != e.priv.ID {
			t.Fatalf("project label: %+v", l)
		}
		// Names are unique per scope only.
		e.createLabel("admin", map[string]any{"name": "team", "scope": "g"})
		pubLabel := e.createLabel("admin", map[string]any{"name": "team", "project_id": e.pub.ID}) // scope from project_id
		wantErr(t, e.do(e.as("pa"), "POST", "/labels", map[string]any{"name": "team", "scope": "p", "project_id": e.priv.ID}), 409, "team", "duplicate project label")

		for _, c := range []struct {
			who, method, path string
			body              any
			status            int
		}{
			{"pa", "POST", "/labels", map[string]any{"name": "g2", "scope": "g"}, 403},
			{"anonymous", "POST", "/labels", map[string]any{"name": "g2", "scope": "g"}, 401},
			{"developer", "POST", "/labels", map[string]any{"name": "d", "scope": "p", "project_id": e.priv.ID}, 403},
			{"guest", "POST", "/labels", map[string]any{"name": "d", "scope": "p", "project_id": e.priv.ID}, 403},
			{"outsider", "POST", "/labels", map[string]any{"name": "d", "scope": "p", "project_id": e.priv.ID}, 403},
			{"pa", "PUT", "/labels/" + id(prod), map[string]any{"name": "x"}, 403},
			{"developer", "PUT", "/labels/" + id(teamID), map[string]any{"name": "x"}, 403},
			{"developer", "DELETE", "/labels/" + id(teamID), nil, 403},
			{"outsider", "GET", "/labels/" + id(teamID), nil, 403},
			{"limited", "GET", "/labels/" + id(teamID), nil, 403},
			{"anonymous", "GET", "/labels/" + id(prod), nil, 401},
			{"anonymous", "GET", "/labels", nil, 401},
			{"outsider", "GET", "/labels/99999", nil, 403},
			{"admin", "GET", "/labels/99999", nil, 404},
			{"admin", "POST", "/labels", map[string]any{"name": "", "scope": "g"}, 400},
			{"admin", "POST", "/labels", map[string]any{"name": "x", "scope": "p"}, 400},
			{"admin", "POST", "/labels", map[string]any{"name": "x", "scope": "q"}, 400},
			{"admin", "POST", "/labels", map[string]any{"name": "x", "scope": "p", "project_id": 99999}, 404},
			{"admin", "POST", "/labels", map[string]any{"name": strings.Repeat("x", 200)}, 400},
			{"admin", "POST", "/labels", map[string]any{"name": "a\x00b"}, 400},
			{"admin", "PUT", "/labels/" + id(teamID), map[string]any{"scope": "g"}, 400},
			{"admin", "GET", "/labels?scope=p", nil, 400},
			{"admin", "GET", "/labels?scope=z", nil, 400},
			{"admin", "GET", "/labels?scope=p&project_id=x", nil, 400},
			{"limited", "GET", "/labels?scope=p&project_id=" + id(e.priv.ID), nil, 403},
			{"outsider", "GET", "/labels?scope=p&project_id=" + id(e.priv.ID), nil, 403},
		} {
			r := e.do(e.as(c.who), c.method, c.path, c.body)
			if r.status != c.status {
				t.Errorf("%s %s %v as %s: got %s, want %d", c.method, c.path, c.body, c.who, r, c.status)
				continue
			}
			wantErr(t, r, c.status, "", c.method+" "+c.path)
			if !strings.Contains(c.path, "project_id=x") {
				validateBoth(t, c.method, c.path, r)
			}
		}

		// Listings.
		list := func(who, p string) []labelResp {
			t.Helper()
			r := e.do(e.as(who), "GET", p, nil)
			want(t, r, 200, "GET "+p+" as "+who)
			validateBoth(t, "GET", p, r)
			var ls []labelResp
			decodeInto(t, r, &ls)
			if !strings.Contains(p, "page_size") && r.header.Get("X-Total-Count") != strconv.Itoa(len(ls)) {
				t.Fatalf("%s: X-Total-Count %q for %d labels", p, r.header.Get("X-Total-Count"), len(ls))
			}
			return ls
		}
		if ls := list("developer", "/labels?scope=g"); len(ls) != 2 || ls[0].Name != "production" || ls[1].Name != "team" {
			t.Fatalf("global labels: %+v", ls)
		}
		if ls := list("developer", "/labels"); len(ls) != 2 {
			t.Fatalf("default scope is global: %+v", ls)
		}
		if ls := list("guest", "/labels?scope=p&project_id="+id(e.priv.ID)); len(ls) != 1 || ls[0].ID != teamID {
			t.Fatalf("project labels: %+v", ls)
		}
		if ls := list("anonymous", "/labels?scope=p&project_id="+id(e.pub.ID)); len(ls) != 1 || ls[0].ID != pubLabel {
			t.Fatalf("a public project's labels: %+v", ls)
		}
		if ls := list("admin", "/labels?scope=g&name=rod"); len(ls) != 1 || ls[0].ID != prod {
			t.Fatalf("fuzzy name: %+v", ls)
		}
		if ls := list("admin", "/labels?q=name%3Dteam"); len(ls) != 1 || ls[0].Scope != "g" {
			t.Fatalf("q=name=team: %+v", ls)
		}
		if ls := list("admin", "/labels?sort=-name&page_size=1"); len(ls) != 1 || ls[0].Name != "team" {
			t.Fatalf("sort=-name: %+v", ls)
		}

		// Artifact labels.
		dev := e.as("developer")
		dgst := e.pushImage(dev, "priv/team/app", "v1", blobOf('x', 100))
		art := "/projects/priv/repositories/team%252Fapp/artifacts/"
		add := func(who, ref string, label int64) apiResp {
			t.Helper()
			p := art + ref + "/labels"
			r := e.do(e.as(who), "POST", p, map[string]any{"id": label})
			validateBoth(t, "POST", p, r)
			return r
		}
		want(t, add("developer", "v1", prod), 200, "add a global label")
		want(t, add("maintainer", string(dgst), teamID), 200, "add a project label by digest")
		wantErr(t, add("developer", "v1", prod), 409, "already", "add twice")
		wantErr(t, add("guest", "v1", prod), 403, "", "guest adds")
		wantErr(t, add("outsider", "v1", prod), 403, "", "outsider adds")
		wantErr(t, add("anonymous", "v1", prod), 401, "", "anonymous adds")
		wantErr(t, add("developer", "v1", pubLabel), 400, "another project", "a label of another project")
		wantErr(t, add("developer", "v1", 99999), 404, "", "an unknown label")
		wantErr(t, add("developer", "nope", prod), 404, "", "an unknown tag")
		wantErr(t, add("developer", "sha256:"+strings.Repeat("0", 64), prod), 404, "", "an unknown digest")
		wantErr(t, e.do(dev, "POST", "/projects/priv/repositories/none/artifacts/v1/labels", map[string]any{"id": prod}), 404, "", "an unknown repository")

		got, err := e.db.Q().LabelsOf(e.ctx, e.repoID("priv/team/app"), []oci.Digest{dgst, "sha256:" + oci.Digest(strings.Repeat("1", 64))})
		if err != nil {
			t.Fatal(err)
		}
		if ls := got[dgst]; len(got) != 1 || len(ls) != 2 || ls[0].ID != prod || ls[1].ID != teamID || ls[0].Name != "production" {
			t.Fatalf("LabelsOf: %+v", got)
		}

		del := func(who string, label int64) apiResp {
			t.Helper()
			p := art + "v1/labels/" + id(label)
			r := e.do(e.as(who), "DELETE", p, nil)
			validateBoth(t, "DELETE", p, r)
			return r
		}
		wantErr(t, del("guest", prod), 403, "", "guest removes")
		want(t, del("developer", prod), 200, "remove")
		wantErr(t, del("developer", prod), 404, "not added", "remove twice")
		if n := e.count(`SELECT count(*) FROM artifact_labels`); n != 1 {
			t.Fatalf("artifact labels left: %d", n)
		}
		// A label's deletion detaches it everywhere.
		want(t, e.do(e.as("maintainer"), "DELETE", "/labels/"+id(teamID), nil), 200, "delete the project label")
		if n := e.count(`SELECT count(*) FROM artifact_labels`); n != 0 {
			t.Fatalf("artifact labels left after the label's deletion: %d", n)
		}
		wantErr(t, e.do(admin, "GET", "/labels/"+id(teamID), nil), 404, "", "deleted label")
		// And an artifact's deletion (with its repository) detaches its labels.
		want(t, add("developer", "v1", prod), 200, "add again")
		want(t, e.do(admin, "DELETE", "/projects/priv/repositories/team%252Fapp", nil), 200, "delete the repository")
		if n := e.count(`SELECT count(*) FROM artifact_labels`); n != 0 {
			t.Fatalf("artifact labels left after the repository's deletion: %d", n)
		}
		if n := e.audits("label", "create", "production"); n != 0 {
			t.Fatalf("audit by the current name: %d", n)
		}
		if n := e.audits("label", "create", "prod"); n != 1 {
			t.Fatalf("audit entries for the label's creation: %d", n)
		}
	})
}

// repoID is the id of repository name.
func (e *apiEnv) repoID(name string) int64 {
	e.t.Helper()
	r, err := e.db.Q().GetRepo(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.ID
}

// TestLabelsDeletedWithProject checks that a project's labels go with it.
func TestLabelsDeletedWithProject(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *apiEnv) {
		e.createLabel("pa", map[string]any{"name": "mine", "scope": "p", "project_id": e.priv.ID})
		want(t, e.do(e.as("admin"), "DELETE", "/projects/"+id(e.priv.ID), nil), 200, "delete the project")
		if n := e.count(`SELECT count(*) FROM labels WHERE scope = ?`, meta.LabelProject); n != 0 {
			t.Fatalf("project labels left: %d", n)
		}
	})
}
