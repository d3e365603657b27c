package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func builtApp() fstest.MapFS {
	return fstest.MapFS{
		"index.html":              {Data: []byte(`<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc123.js"></script>`)},
		"assets/index-abc123.js":  {Data: []byte(`console.log("berth")`)},
		"assets/index-abc123.css": {Data: []byte(`body{color:red}`)},
		"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
	}
}

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesFilesWithTypesAndCaching(t *testing.T) {
	h := New(builtApp())
	for _, tc := range []struct {
		path, ctype, cache, contains string
	}{
		{"/assets/index-abc123.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", `console.log`},
		{"/assets/index-abc123.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", `body{`},
		{"/favicon.svg", "image/svg+xml", "no-cache", `<svg`},
		{"/", "text/html; charset=utf-8", "no-cache", `id="root"`},
		{"/index.html", "text/html; charset=utf-8", "no-cache", `id="root"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := get(t, h, http.MethodGet, tc.path)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if got := r.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := r.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if b := body(t, r); !strings.Contains(b, tc.contains) {
				t.Errorf("body %q does not contain %q", b, tc.contains)
			}
		})
	}
}

func TestClientRoutesFallBackToIndex(t *testing.T) {
	h := New(builtApp())
	for _, p := range []string{"/projects", "/projects/library/repositories/a%2Fb", "/account/sign-in?redirect=/x", "/harbor/projects/1"} {
		r := get(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusOK || !strings.Contains(body(t, r), `id="root"`) {
			t.Errorf("%s: status %d, want the index page", p, r.StatusCode)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, got)
		}
	}
}

func TestNoFallbackForAssetsAndAPIs(t *testing.T) {
	h := New(builtApp())
	for _, p := range []string{"/assets/index-old999.js", "/api/v2.0/nope", "/api/other", "/v2/x", "/c/unknown", "/service/x"} {
		r := get(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
		if strings.Contains(body(t, r), `id="root"`) {
			t.Errorf("%s: served the index page", p)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := New(builtApp())
	for _, p := range []string{"/", "/assets/index-abc123.js", "/projects", "/missing/assets/x"} {
		r := get(t, h, http.MethodGet, p)
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe sources: %q", p, csp)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", p, got)
		}
		if got := r.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", p, got)
		}
		if got := r.Header.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("%s: Referrer-Policy %q", p, got)
		}
	}
}

func TestMethodsOtherThanGetAreRefused(t *testing.T) {
	h := New(builtApp())
	r := get(t, h, http.MethodPost, "/projects")
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: status %d Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
	r = get(t, h, http.MethodHead, "/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: status %d", r.StatusCode)
	}
}

func TestNotBuiltSaysHowToBuild(t *testing.T) {
	h := New(fstest.MapFS{".gitkeep": {Data: nil}})
	if h.Built() {
		t.Fatal("Built() = true without index.html")
	}
	r := get(t, h, http.MethodGet, "/projects")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", r.StatusCode)
	}
	if b := body(t, r); !strings.Contains(b, "make build") {
		t.Fatalf("body %q does not say to run make build", b)
	}
	if r.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("no CSP on the not-built page")
	}
}

func TestEmbeddedMatchesBuildState(t *testing.T) {
	// Either a placeholder (UI not built) or a full build; both must serve.
	h := New(Embedded())
	r := get(t, h, http.MethodGet, "/")
	if h.Built() && r.StatusCode != http.StatusOK {
		t.Fatalf("built UI: status %d", r.StatusCode)
	}
	if !h.Built() && r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("unbuilt UI: status %d", r.StatusCode)
	}
}
