// Package httputil holds small helpers shared by berth's HTTP surfaces.
// It knows requests and headers, never stores or policy.
package httputil

import (
	"net/http"
	"strings"
)

// ExternalBase returns the origin ("https://host:port", no trailing
// slash) under which the client reached berth, for absolute URLs such as
// the token realm. A configured externalURL (server.external_url) wins.
// Otherwise the scheme is the first X-Forwarded-Proto value ("http" or
// "https") or, without one, that of the connection; the host is the first
// X-Forwarded-Host value or, without one, the Host header. A forwarded
// value that is malformed is ignored rather than echoed into a URL.
func ExternalBase(r *http.Request, externalURL string) string {
	if externalURL != "" {
		return strings.TrimRight(externalURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(h) {
		host = h
	}
	if !validHost(host) {
		host = "localhost"
	}
	return scheme + "://" + host
}

// firstValue returns the first element of a comma-separated header value:
// the one the outermost proxy set.
func firstValue(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

// validHost accepts a host name or address with an optional port,
// bracketed IPv6 included, and nothing that could change a URL's
// meaning (slashes, at signs, spaces, quotes).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}
