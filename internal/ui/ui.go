// Package ui serves berth's web UI: the single-page app that web/ builds
// into dist/ and the binary embeds. It owns only static files and the
// fallback to index.html for client routes; everything the UI shows comes
// from the public /api/v2.0 API, never from this package.
package ui

import (
	"embed"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Embedded returns the files built into the binary (only a placeholder
// when `make build` did not build the UI first).
func Embedded() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a literal directory of the embed; cannot fail
	}
	return sub
}

// csp allows only berth's own scripts, styles, images and API calls. React
// sets styles through the CSSOM, which style-src does not govern, so no
// 'unsafe-inline' is needed.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"frame-ancestors 'none'; form-action 'self'"

// apiPrefixes are paths owned by the server's APIs: an unknown path under
// them is a 404, not the app's index page.
var apiPrefixes = []string{"/api/", "/v2/", "/c/", "/service/", "/debug/"}

// Handler serves the app from fsys: files as they are, hashed assets with
// a year-long cache, and index.html (never cached) for any other path so
// that client-side routes survive a reload.
type Handler struct {
	fsys    fs.FS
	index   []byte
	modTime time.Time
}

// New returns a handler for a built app (index.html at the root of fsys).
// Without index.html it serves a page that says how to build the UI.
func New(fsys fs.FS) *Handler {
	h := &Handler{fsys: fsys}
	if b, err := fs.ReadFile(fsys, "index.html"); err == nil {
		h.index = b
	}
	return h
}

// Built reports whether the app was built into fsys.
func (h *Handler) Built() bool { return h.index != nil }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	for _, pre := range apiPrefixes {
		if strings.HasPrefix(p, pre) || p+"/" == pre {
			http.NotFound(w, r)
			return
		}
	}
	if h.index == nil {
		h.serveNotBuilt(w)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name != "" && name != "index.html" && !strings.Contains(name, "..") {
		if h.serveFile(w, r, name) {
			return
		}
		// A missing hashed asset is a stale page asking for an old
		// build: a 404 lets it fail clearly instead of parsing HTML.
		if strings.HasPrefix(name, "assets/") {
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", h.modTime, strings.NewReader(string(h.index)))
}

// serveFile writes a regular file of the build, reporting false when
// there is none by that name.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	f, err := h.fsys.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			return false
		}
		rs = strings.NewReader(string(b))
	}
	w.Header().Set("Content-Type", contentType(name))
	if strings.HasPrefix(name, "assets/") {
		// Vite puts a content hash in every name under assets/.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, st.ModTime(), rs)
	return true
}

func (h *Handler) serveNotBuilt(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, notBuiltPage)
}

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>berth</title></head>
<body><h1>berth</h1>
<p>The web UI was not built into this binary. Run <code>make build</code> (it needs npm) and start berth again.</p>
<p>The registry (<code>/v2/</code>) and the management API (<code>/api/v2.0/</code>) work without it.</p>
</body></html>
`

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// contentType is fixed here rather than read from the host's MIME tables,
// which differ between machines and may lack the types a build emits.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".webmanifest":
		return "application/manifest+json"
	default:
		return "application/octet-stream"
	}
}
