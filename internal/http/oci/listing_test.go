package oci_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	spec "github.com/berth-registry/berth/internal/oci"
)

func TestTagsAndCatalogPagination(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := e.image("pages/app", 0, nil)
		tags := []string{"v1", "v10", "v2", "Z", "_x", "a", "latest"}
		for _, tag := range tags {
			e.expect(e.putManifest("pages/app", tag, body, spec.MediaTypeImageManifest), http.StatusCreated, "tag "+tag)
		}
		want := slices.Clone(tags)
		slices.Sort(want) // byte order: upper case before '_' before lower case
		var tl struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		r := e.do("GET", "/v2/pages/app/tags/list", nil)
		e.expect(r, 200, "tags")
		json.Unmarshal(r.Body, &tl)
		if tl.Name != "pages/app" || !slices.Equal(tl.Tags, want) || r.Header.Get("Link") != "" {
			t.Fatalf("tags %+v link %q, want %v", tl, r.Header.Get("Link"), want)
		}
		// Walk pages of 3 through the Link header.
		var got []string
		next := "/v2/pages/app/tags/list?n=3"
		for i := 0; next != "" && i < 10; i++ {
			r = e.do("GET", next, nil)
			e.expect(r, 200, next)
			tl.Tags = nil
			json.Unmarshal(r.Body, &tl)
			if len(tl.Tags) > 3 {
				t.Fatalf("page of %d", len(tl.Tags))
			}
			got = append(got, tl.Tags...)
			next = ""
			if l := r.Header.Get("Link"); l != "" {
				if _, err := fmt.Sscanf(l, "<%s", &next); err != nil {
					t.Fatalf("Link %q", l)
				}
				next = next[:len(next)-2] // drop `>;`
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged tags %v, want %v", got, want)
		}
		// last without n, and n=0.
		r = e.do("GET", "/v2/pages/app/tags/list?last=a", nil)
		json.Unmarshal(r.Body, &tl)
		if !slices.Equal(tl.Tags, []string{"latest", "v1", "v10", "v2"}) {
			t.Fatalf("after a: %v", tl.Tags)
		}
		r = e.do("GET", "/v2/pages/app/tags/list?n=0", nil)
		e.expect(r, 200, "n=0")
		if string(r.Body) != `{"name":"pages/app","tags":[]}`+"\n" {
			t.Fatalf("n=0 body %s", r.Body)
		}
		r = e.do("GET", "/v2/pages/nothing/tags/list", nil)
		e.expect(r, 404, "tags of unknown repo")
		if r.errCode() != "NAME_UNKNOWN" {
			t.Fatalf("code %q", r.errCode())
		}

		// Catalog.
		for _, n := range []string{"b", "a/b", "a-b", "a"} {
			e.pushBlob(n, []byte("x"))
		}
		var cat struct {
			Repositories []string `json:"repositories"`
		}
		r = e.do("GET", "/v2/_catalog", nil)
		e.expect(r, 200, "catalog")
		json.Unmarshal(r.Body, &cat)
		wantRepos := []string{"a", "a-b", "a/b", "b", "pages/app"}
		if !slices.Equal(cat.Repositories, wantRepos) {
			t.Fatalf("catalog %v, want %v", cat.Repositories, wantRepos)
		}
		r = e.do("GET", "/v2/_catalog?n=2&last=a-b", nil)
		json.Unmarshal(r.Body, &cat)
		if !slices.Equal(cat.Repositories, []string{"a/b", "b"}) || r.Header.Get("Link") != `</v2/_catalog?last=b&n=2>; rel="next"` {
			t.Fatalf("catalog page %v link %q", cat.Repositories, r.Header.Get("Link"))
		}
		for _, q := range []string{"n=-1", "n=abc"} {
			r = e.do("GET", "/v2/_catalog?"+q, nil)
			e.expect(r, 400, q)
			if r.errCode() != "PAGINATION_NUMBER_INVALID" {
				t.Fatalf("%s: code %q", q, r.errCode())
			}
		}
	})
}

func TestTagParameters(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		body, _ := e.image("tagparam", 0, nil)
		d := spec.FromBytes(body)
		r := e.putManifest("tagparam", string(d)+"?tag=one&tag=two", body, spec.MediaTypeImageManifest)
		e.expect(r, 201, "push with tag params")
		if got := r.Header.Values("OCI-Tag"); !slices.Equal(got, []string{"one", "two"}) {
			t.Fatalf("OCI-Tag %v", got)
		}
		for _, tag := range []string{"one", "two"} {
			e.expect(e.do("HEAD", "/v2/tagparam/manifests/"+tag, nil), 200, tag)
		}
		e.expect(e.putManifest("tagparam", string(d)+"?tag=-bad", body, spec.MediaTypeImageManifest), 400, "bad tag param")
	})
}
