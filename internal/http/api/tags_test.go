package api_test

import (
	"slices"
	"strings"
	"testing"
)

// getTags lists the tags of an artifact as c, checked against Harbor's
// swagger.
func (e *contentEnv) getTags(c cred, path, query string) ([]ctTag, apiResp) {
	e.t.Helper()
	if query != "" {
		path += "?" + query
	}
	r := e.do(c, "GET", path, nil)
	want(e.t, r, 200, "GET "+path)
	ctValidate(e.t, "GET", path, r)
	var out []ctTag
	decodeInto(e.t, r, &out)
	return out, r
}

func ctTagNames(ts []ctTag) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestTags(t *testing.T) {
	ctForEachDB(t, func(t *testing.T, e *contentEnv) {
		img := e.image("priv/app", "a", "amd64")
		e.retag("priv/app", "b", img)
		other := e.image("priv/app", "other", "arm64")
		guest, dev, maint := e.as("guest"), e.as("developer"), e.as("maintainer")
		art := e.getArtifact(guest, "priv/repositories/app", "a", "")
		base := "/projects/priv/repositories/app/artifacts/"
		tagsOf := base + string(img.digest) + "/tags"

		// The list, with ids and times.
		tags, r := e.getTags(guest, base+"a/tags", "")
		if got := ctTagNames(tags); !slices.Equal(got, []string{"a", "b"}) || r.header.Get("X-Total-Count") != "2" {
			t.Fatalf("tags %v (total %s)", got, r.header.Get("X-Total-Count"))
		}
		for _, tg := range tags {
			if tg.ID <= 0 || tg.ArtifactID != art.ID || tg.RepositoryID != art.RepositoryID || tg.PushTime.IsZero() ||
				!tg.PullTime.IsZero() || tg.Immutable {
				t.Errorf("tag %+v (artifact %d, repository %d)", tg, art.ID, art.RepositoryID)
			}
		}
		if tags[0].ID == tags[1].ID {
			t.Error("two tags share an id")
		}
		if !strings.Contains(string(r.body), `"pull_time":"0001-01-01T00:00:00Z"`) {
			t.Errorf("a tag never pulled shows pull_time %s", r.body)
		}
		tags, _ = e.getTags(guest, tagsOf, "q="+qesc("name=~B"))
		if got := ctTagNames(tags); !slices.Equal(got, []string{"b"}) {
			t.Errorf("q=name=~B: %v", got)
		}
		tags, _ = e.getTags(guest, tagsOf, "sort=-name")
		if got := ctTagNames(tags); !slices.Equal(got, []string{"b", "a"}) {
			t.Errorf("sort=-name: %v", got)
		}
		tags, r = e.getTags(guest, tagsOf, "page=2&page_size=1")
		if got := ctTagNames(tags); !slices.Equal(got, []string{"b"}) || !strings.Contains(r.header.Get("Link"), `rel="prev"`) {
			t.Errorf("page 2: %v, Link %q", got, r.header.Get("Link"))
		}
		// The tags of the other artifact are its own.
		tags, _ = e.getTags(guest, base+"other/tags", "")
		if got := ctTagNames(tags); !slices.Equal(got, []string{"other"}) {
			t.Errorf("other's tags %v", got)
		}

		// Create: Developer may, Guest may not; 201 without Location.
		r = e.do(dev, "POST", tagsOf, map[string]string{"name": "c"})
		want(t, r, 201, "developer tags")
		ctValidate(t, "POST", tagsOf, r)
		if r.header.Get("Location") != "" {
			t.Errorf("Location %q on a tag create", r.header.Get("Location"))
		}
		if n := e.audits("tag", "create", "priv/app:c"); n != 1 {
			t.Errorf("%d audit rows for the tag", n)
		}
		want(t, e.v2("GET", "/v2/priv/app/manifests/c", nil), 200, "pull the new tag")
		wantErr(t, e.do(guest, "POST", tagsOf, map[string]string{"name": "d"}), 403, "not allowed", "guest tags")
		wantErr(t, e.do(anon, "POST", tagsOf, map[string]string{"name": "d"}), 401, "authentication", "anonymous tags")
		// A name taken, on this artifact or another: 409, nothing moves.
		wantErr(t, e.do(dev, "POST", tagsOf, map[string]string{"name": "a"}), 409, "already exists", "taken here")
		wantErr(t, e.do(dev, "POST", tagsOf, map[string]string{"name": "other"}), 409, "already exists", "taken there")
		if n := e.count(`SELECT count(*) FROM tags WHERE name = 'other' AND digest = ?`, string(other.digest)); n != 1 {
			t.Error("a refused tag create moved the tag")
		}
		wantErr(t, e.do(dev, "POST", tagsOf, map[string]string{"name": "-bad"}), 400, "tag", "invalid name")
		wantErr(t, e.do(dev, "POST", tagsOf, map[string]string{}), 400, "tag", "no name")
		wantErr(t, e.do(dev, "POST", base+"nothing/tags", map[string]string{"name": "e"}), 404, "not found", "no artifact")
		// Harbor's older clients send a whole Tag.
		want(t, e.do(dev, "POST", tagsOf, map[string]any{"name": "f", "id": 0, "repository_id": 0, "artifact_id": 0,
			"push_time": nil, "pull_time": nil, "immutable": false}), 201, "a whole Tag")

		var maxID int64
		tags, _ = e.getTags(guest, tagsOf, "")
		for _, tg := range tags {
			maxID = max(maxID, tg.ID)
		}
		if got := ctTagNames(tags); !slices.Equal(got, []string{"a", "b", "c", "f"}) {
			t.Errorf("tags after creating: %v", got)
		}

		// Delete: Maintainer may, Developer may not; only the tag goes.
		wantErr(t, e.do(dev, "DELETE", tagsOf+"/b", nil), 403, "not allowed", "developer deletes a tag")
		r = e.do(maint, "DELETE", tagsOf+"/b", nil)
		want(t, r, 200, "maintainer deletes a tag")
		ctValidate(t, "DELETE", tagsOf+"/b", r)
		wantErr(t, e.do(maint, "DELETE", tagsOf+"/b", nil), 404, "not on artifact", "again")
		wantErr(t, e.do(maint, "DELETE", tagsOf+"/other", nil), 404, "not on artifact", "a tag of another artifact")
		if n := e.count(`SELECT count(*) FROM tags WHERE name = 'other'`); n != 1 {
			t.Error("deleting through the wrong artifact deleted the tag")
		}
		if n := e.audits("tag", "delete", "priv/app:b"); n != 1 {
			t.Errorf("%d audit rows for the delete", n)
		}
		// The last tag: the artifact stays, untagged.
		for _, name := range []string{"a", "c", "f"} {
			want(t, e.do(maint, "DELETE", tagsOf+"/"+name, nil), 200, "delete "+name)
		}
		a := e.getArtifact(guest, "priv/repositories/app", string(img.digest), "")
		if a.Tags == nil || len(*a.Tags) != 0 {
			t.Errorf("tags of the untagged artifact: %v", a.Tags)
		}
		arts, _ := e.getArtifacts(guest, "priv/repositories/app", "q="+qesc("tags=nil"))
		if got := ctDigests(arts); !slices.Equal(got, []string{string(img.digest)}) {
			t.Errorf("untagged artifacts %v", got)
		}
		tags, _ = e.getTags(guest, tagsOf, "")
		if len(tags) != 0 {
			t.Errorf("tags left %v", ctTagNames(tags))
		}
		wantErr(t, e.do(guest, "GET", base+"a/tags", nil), 404, "not found", "the deleted tag as a reference")

		// Ids are never reused: a tag made again gets a new one.
		want(t, e.do(dev, "POST", tagsOf, map[string]string{"name": "a"}), 201, "tag again")
		tags, _ = e.getTags(guest, tagsOf, "")
		if len(tags) != 1 || tags[0].ID <= maxID {
			t.Errorf("recreated tag %+v: its id should be above every earlier one (%d)", tags, maxID)
		}
		if n := e.count(`SELECT count(*) FROM tags WHERE id IS NULL`); n != 0 {
			t.Errorf("%d tags without an id", n)
		}

		// A pull by tag sets the tag's pull time only.
		e.retag("priv/app", "b", img)
		want(t, e.v2("GET", "/v2/priv/app/manifests/b", nil), 200, "pull b")
		tags, _ = e.getTags(guest, tagsOf, "")
		for _, tg := range tags {
			if (tg.Name == "b") == tg.PullTime.IsZero() {
				t.Errorf("tag %s pull_time %v after pulling b", tg.Name, tg.PullTime)
			}
		}
		tags, _ = e.getTags(guest, tagsOf, "sort=-pull_time")
		if got := ctTagNames(tags); !slices.Equal(got, []string{"b", "a"}) {
			t.Errorf("sort=-pull_time: %v", got)
		}
	})
}
