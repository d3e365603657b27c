// Package apidoc validates answers of berth's management API against an
// OpenAPI document: Harbor's own swagger (beside the repository, in
// ../shared/reference/harbor-swagger.yaml, converted from Swagger 2.0) or
// berth's document. The api package's tests and test/compat share it.
package apidoc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Doc is a loaded OpenAPI 3 document to validate against.
type Doc struct {
	name string
	doc  *openapi3.T
}

// Spec is the underlying document.
func (d *Doc) Spec() *openapi3.T { return d.doc }

var (
	harborOnce sync.Once
	harborDoc  *Doc
	harborErr  error

	berthOnce sync.Once
	berthDoc  *Doc
	berthErr  error
)

// moduleRoot is the directory holding go.mod, found upwards from the
// working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = up
	}
}

// SwaggerPath is Harbor's swagger beside the module root.
func SwaggerPath() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared", "reference", "harbor-swagger.yaml"), nil
}

// allowBerthExtensions adds to Harbor's schemas the properties berth's
// document lists, schema by schema, under x-berth-extensions: keys berth
// sends beyond Harbor's (ldap_start_tls, …). Harbor's schemas leave
// additional properties open and its clients ignore unknown keys; the
// list keeps any other unknown key an error. A listed key Harbor already
// has, or a schema Harbor lacks, is an error too, so the list stays true.
func allowBerthExtensions(harbor *openapi3.T) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	path := filepath.Join(root, "internal", "http", "api", "openapi", "berth.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read berth's document for its x-berth-extensions: %w", err)
	}
	berth, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return fmt.Errorf("load %s: %w", path, err)
	}
	for name, ref := range berth.Components.Schemas {
		if ref.Value == nil {
			continue
		}
		list, ok := ref.Value.Extensions["x-berth-extensions"].([]any)
		if !ok {
			continue
		}
		h := harbor.Components.Schemas[name]
		if h == nil || h.Value == nil {
			return fmt.Errorf("x-berth-extensions of %s: Harbor's swagger has no schema %s", name, name)
		}
		for _, k := range list {
			key, _ := k.(string)
			prop := ref.Value.Properties[key]
			switch {
			case prop == nil:
				return fmt.Errorf("x-berth-extensions of %s names %v, which berth's schema does not define", name, k)
			case h.Value.Properties[key] != nil:
				return fmt.Errorf("x-berth-extensions of %s names %s, which Harbor's schema already has", name, key)
			}
			if h.Value.Properties == nil {
				h.Value.Properties = openapi3.Schemas{}
			}
			h.Value.Properties[key] = prop
		}
	}
	return nil
}

// Harbor converts Harbor's swagger to OpenAPI 3 once per test binary; a
// missing file fails the test, naming where it is expected.
func Harbor(t testing.TB) *Doc {
	t.Helper()
	harborOnce.Do(func() {
		path, err := SwaggerPath()
		if err != nil {
			harborErr = err
			return
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			harborErr = fmt.Errorf("Harbor's swagger is needed at %s: %w", path, err)
			return
		}
		var v2 openapi2.T
		if err := openapi2.UnmarshalFromData(raw, &v2); err != nil {
			harborErr = fmt.Errorf("parse %s: %w", path, err)
			return
		}
		v3, err := openapi2conv.ToV3(&v2)
		if err != nil {
			harborErr = fmt.Errorf("convert %s to OpenAPI 3: %w", path, err)
			return
		}
		if err := allowBerthExtensions(v3); err != nil {
			harborErr = err
			return
		}
		harborDoc = &Doc{name: "Harbor's swagger", doc: v3}
	})
	if harborErr != nil {
		t.Fatal(harborErr)
	}
	return harborDoc
}

// Berth loads berth's own document (yaml, as the api package embeds it)
// once, failing the test if it is not a valid OpenAPI 3 document.
func Berth(t testing.TB, yaml []byte) *Doc {
	t.Helper()
	berthOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(yaml)
		if err != nil {
			berthErr = fmt.Errorf("load berth's OpenAPI document: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			berthErr = fmt.Errorf("berth's OpenAPI document is not valid OpenAPI 3: %w", err)
			return
		}
		berthDoc = &Doc{name: "berth's OpenAPI document", doc: doc}
	})
	if berthErr != nil {
		t.Fatal(berthErr)
	}
	return berthDoc
}

// WithoutExtraAttrs empties every "extra_attrs" object of a JSON body.
// Harbor's swagger types each of its values as an object, yet Harbor and
// berth send strings there ("architecture": "amd64"); callers check those
// values themselves. A body that is not JSON is returned as it is.
func WithoutExtraAttrs(body []byte) []byte {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return body
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["extra_attrs"]; ok {
				x["extra_attrs"] = map[string]any{}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	b, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return b
}

// find returns the path template of the document matching path, preferring
// literal segments over parameters ("/users/current" over "/users/{id}").
func (d *Doc) find(path string) (string, *openapi3.PathItem, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestScore := "", -1
	var params map[string]string
	for tmpl := range d.doc.Paths.Map() {
		ts := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(ts) != len(segs) {
			continue
		}
		score, ps := 0, map[string]string{}
		for i, s := range ts {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				if segs[i] == "" {
					score = -1
					break
				}
				v, err := url.PathUnescape(segs[i])
				if err != nil {
					v = segs[i]
				}
				ps[s[1:len(s)-1]] = v
				continue
			}
			if s != segs[i] {
				score = -1
				break
			}
			score++
		}
		if score > bestScore {
			best, bestScore, params = tmpl, score, ps
		}
	}
	if bestScore < 0 {
		return "", nil, nil
	}
	return best, d.doc.Paths.Value(best), params
}

// Validate checks one answer of berth's API (path relative to /api/v2.0,
// query allowed): the operation must exist in the document, the status be
// one it documents (an undocumented error status must still carry the
// Errors body), the body match the schema, and no object carry a key the
// schema does not define.
func (d *Doc) Validate(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	rawPath, _, _ := strings.Cut(path, "?")
	if strings.HasSuffix(path, "/") && !strings.HasSuffix(rawPath, "/") {
		rawPath += "/"
	}
	tmpl, item, params := d.find(rawPath)
	if item == nil {
		t.Errorf("%s has no path matching %s %s", d.name, method, path)
		return
	}
	op := item.GetOperation(strings.ToUpper(method))
	if op == nil {
		t.Errorf("%s has no operation %s %s (path %s)", d.name, method, path, tmpl)
		return
	}
	req, err := http.NewRequest(method, "http://berth.test"+"/api/v2.0"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      &routers.Route{Spec: d.doc, Path: tmpl, PathItem: item, Method: method, Operation: op},
		},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if status >= 400 && op.Responses.Status(status) == nil && op.Responses.Default() == nil {
		// Harbor's swagger leaves out error statuses Harbor itself
		// answers (403 on labels, for one): an error must still be
		// Harbor's error body.
		d.validateError(t, method, path, status, header, body)
		return
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s -> %d does not match %s (%s): %v\nbody: %s", method, path, status, d.name, tmpl, err, clipBody(body))
		return
	}
	// Unknown keys: the documents allow extra properties, berth must not
	// send any a client cannot know.
	resp := op.Responses.Status(status)
	if resp == nil {
		resp = op.Responses.Default()
	}
	if resp == nil || resp.Value == nil || len(body) == 0 {
		return
	}
	mt := resp.Value.Content.Get(header.Get("Content-Type"))
	if mt == nil || mt.Schema == nil || !strings.Contains(header.Get("Content-Type"), "json") {
		return
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s %s -> %d: body is not JSON: %v", method, path, status, err)
		return
	}
	for _, extra := range unknownKeys(mt.Schema, v, "") {
		t.Errorf("%s %s -> %d: %s is not defined by %s (%s)", method, path, status, extra, d.name, tmpl)
	}
}

// validateError checks an error answer against the document's Errors
// schema, with no unknown keys.
func (d *Doc) validateError(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s -> %d: error with Content-Type %q", method, path, status, ct)
		return
	}
	ref := d.doc.Components.Schemas["Errors"]
	if ref == nil {
		t.Fatalf("%s has no Errors schema", d.name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %s -> %d: error body is not JSON: %s", method, path, status, clipBody(body))
		return
	}
	if err := ref.Value.VisitJSON(v); err != nil {
		t.Errorf("%s %s -> %d: error body does not match %s's Errors: %v", method, path, status, d.name, err)
	}
	for _, extra := range unknownKeys(ref, v, "") {
		t.Errorf("%s %s -> %d: %s is not defined by %s's Errors", method, path, status, extra, d.name)
	}
}

// unknownKeys lists the object keys of v, by JSON path, that schema s does
// not define where it defines properties and no additionalProperties.
func unknownKeys(s *openapi3.SchemaRef, v any, at string) []string {
	if s == nil || s.Value == nil {
		return nil
	}
	sch := s.Value
	var out []string
	for _, sub := range sch.AllOf {
		out = append(out, unknownKeys(sub, v, at)...)
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		open := sch.AdditionalProperties.Has != nil && *sch.AdditionalProperties.Has ||
			sch.AdditionalProperties.Schema != nil || len(sch.Properties) == 0 && len(sch.AllOf) == 0
		for _, k := range keys {
			if p, ok := sch.Properties[k]; ok {
				out = append(out, unknownKeys(p, x[k], at+"."+k)...)
				continue
			}
			if sch.AdditionalProperties.Schema != nil {
				out = append(out, unknownKeys(sch.AdditionalProperties.Schema, x[k], at+"."+k)...)
				continue
			}
			if !open && !definedInAllOf(sch, k) {
				out = append(out, "key "+strings.TrimPrefix(at+"."+k, "."))
			}
		}
	case []any:
		for i, e := range x {
			out = append(out, unknownKeys(sch.Items, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return out
}

func definedInAllOf(s *openapi3.Schema, k string) bool {
	for _, sub := range s.AllOf {
		if sub.Value != nil {
			if _, ok := sub.Value.Properties[k]; ok {
				return true
			}
		}
	}
	return false
}

func clipBody(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}
