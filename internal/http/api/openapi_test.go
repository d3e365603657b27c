package api_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	"github.com/berth-registry/berth/internal/testutil/apidoc"
)

// normRoute writes "METHOD /path" with every parameter as {} and Go's
// {$} (an exact trailing slash) as the slash itself, so that the
// handler's patterns and the document's paths compare.
func normRoute(method, path string) string {
	path = strings.TrimSuffix(path, "{$}")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "{}"
		}
	}
	return strings.ToUpper(method) + " " + strings.Join(segs, "/")
}

// documentedRoutes lists the operations of openapi/berth.yaml.
func documentedRoutes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPIYAML(), &doc); err != nil {
		t.Fatalf("parse openapi/berth.yaml: %v", err)
	}
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				out = append(out, normRoute(method, path))
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPICoversRoutes fails when the handler serves a route the
// document does not list, or the document lists one that is not served:
// the document describes exactly what berth implements.
func TestOpenAPICoversRoutes(t *testing.T) {
	dir := t.TempDir()
	e := newAPIEnv(t, filepath.Join(dir, "meta.db"), dir)
	h := api.New(e.acc, auth.New(e.acc, "", e.log), nil, e.log)
	var served []string
	for _, r := range h.Routes() {
		method, path, _ := strings.Cut(r, " ")
		served = append(served, normRoute(method, path))
	}
	slices.Sort(served)
	served = slices.Compact(served)
	documented := documentedRoutes(t)
	for _, r := range served {
		if _, found := slices.BinarySearch(documented, r); !found {
			t.Errorf("served but not in openapi/berth.yaml: %s (add it, derived from Harbor's swagger)", r)
		}
	}
	for _, r := range documented {
		if _, found := slices.BinarySearch(served, r); !found {
			t.Errorf("in openapi/berth.yaml but not served: %s", r)
		}
	}
	// The document is valid OpenAPI 3.
	apidoc.Berth(t, api.OpenAPIYAML())
}

// TestOpenAPIServed checks the JSON document and the browsable page.
func TestOpenAPIServed(t *testing.T) {
	dir := t.TempDir()
	e := newAPIEnv(t, filepath.Join(dir, "meta.db"), dir)
	r := e.do(anon, "GET", "/openapi.json", nil)
	want(t, r, 200, "GET /openapi.json")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	decodeInto(t, r, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	if _, ok := doc.Paths["/quotas/{id}"]["put"]; !ok {
		t.Fatalf("the served document lacks PUT /quotas/{id}")
	}
	var fromYAML any
	if err := yaml.Unmarshal(api.OpenAPIYAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	want1, _ := json.Marshal(fromYAML)
	var a, b any
	_ = json.Unmarshal(want1, &a)
	_ = json.Unmarshal(r.body, &b)
	if !jsonEqual(a, b) {
		t.Fatalf("openapi.json differs from openapi/berth.yaml")
	}

	page := e.do(anon, "GET", "/docs", nil)
	want(t, page, 200, "GET /docs")
	if ct := page.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("docs Content-Type %q", ct)
	}
	for _, s := range []string{"<table", "/api/v2.0/quotas/{id}", "/api/v2.0/openapi.json", "PUT"} {
		if !strings.Contains(string(page.body), s) {
			t.Errorf("the docs page does not mention %q", s)
		}
	}
	if strings.Contains(string(page.body), "http://") || strings.Contains(string(page.body), "https://") {
		t.Errorf("the docs page refers to another site")
	}
	_ = access.AdminName
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
