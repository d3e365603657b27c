package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/berth-registry/berth/internal/access"
)

// The OpenAPI 3 document of exactly what this package serves, kept by hand
// beside the code in openapi/berth.yaml (derived from Harbor's swagger for
// the paths berth implements), served as JSON at /api/v2.0/openapi.json
// and as a plain page at /api/v2.0/docs. A test fails when a route is
// served but not documented, or documented but not served.

//go:embed openapi/berth.yaml
var openapiYAML []byte

// OpenAPIYAML is the document as written.
func OpenAPIYAML() []byte { return openapiYAML }

var openapiJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi/berth.yaml: %w", err)
	}
	return json.Marshal(doc)
})

// Routes lists every route registered through handle, as "METHOD /path"
// relative to Prefix with Go's pattern syntax ({name}, {$}).
func (h *Handler) Routes() []string { return slices.Clone(h.patterns) }

func (h *Handler) routesOpenAPI() {
	h.handle("GET /openapi.json", h.openAPI)
	h.handle("GET /docs", h.docs)
}

func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	b, err := openapiJSON()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// docOperation is what the docs page shows of one operation.
type docOperation struct {
	Method, Path, Summary, Tag string
}

// docs is a self-contained page listing every operation by tag, with a
// link to the JSON document; no scripts, nothing fetched from elsewhere.
func (h *Handler) docs(w http.ResponseWriter, r *http.Request, _ access.Principal) {
	var doc struct {
		Info struct {
			Title, Version, Description string
		} `yaml:"info"`
		Paths map[string]map[string]struct {
			Summary string   `yaml:"summary"`
			Tags    []string `yaml:"tags"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		h.fail(w, r, fmt.Errorf("parse openapi/berth.yaml: %w", err))
		return
	}
	var ops []docOperation
	for path, item := range doc.Paths {
		for method, op := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head":
			default:
				continue
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			ops = append(ops, docOperation{strings.ToUpper(method), Prefix + path, op.Summary, tag})
		}
	}
	slices.SortFunc(ops, func(a, b docOperation) int {
		if c := strings.Compare(a.Tag, b.Tag); c != 0 {
			return c
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	var b strings.Builder
	e := html.EscapeString
	fmt.Fprintf(&b, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%%}
td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd}code{font-size:.95em}
.m{font-weight:bold;font-family:monospace}</style></head><body>
<h1>%s <small>%s</small></h1><p>%s</p>
<p>The machine-readable document: <a href="%s/openapi.json">%s/openapi.json</a> (OpenAPI 3).</p>
`, e(doc.Info.Title), e(doc.Info.Title), e(doc.Info.Version), e(doc.Info.Description), Prefix, Prefix)
	tag := ""
	for _, op := range ops {
		if op.Tag != tag {
			if tag != "" {
				b.WriteString("</tbody></table>\n")
			}
			tag = op.Tag
			fmt.Fprintf(&b, "<h2>%s</h2>\n<table><thead><tr><th scope=\"col\">Method</th><th scope=\"col\">Path</th><th scope=\"col\">Summary</th></tr></thead><tbody>\n", e(tag))
		}
		fmt.Fprintf(&b, "<tr><td class=\"m\">%s</td><td><code>%s</code></td><td>%s</td></tr>\n", e(op.Method), e(op.Path), e(op.Summary))
	}
	if tag != "" {
		b.WriteString("</tbody></table>\n")
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write([]byte(b.String()))
}
