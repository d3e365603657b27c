package httputil

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestExternalBase(t *testing.T) {
	tests := []struct {
		name     string
		tls      bool
		host     string
		headers  map[string]string
		external string
		want     string
	}{
		{name: "plain", host: "reg.example:5000", want: "http://reg.example:5000"},
		{name: "tls", tls: true, host: "reg.example", want: "https://reg.example"},
		{name: "IPv6 host", tls: true, host: "[2001:db8::1]:5000", want: "https://[2001:db8::1]:5000"},
		{name: "proxy terminates TLS", host: "10.0.0.5:5000",
			headers: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "registry.example.com"},
			want:    "https://registry.example.com"},
		{name: "proto only", host: "registry.example.com",
			headers: map[string]string{"X-Forwarded-Proto": "HTTPS"}, want: "https://registry.example.com"},
		{name: "host only, with port", tls: true, host: "backend:5000",
			headers: map[string]string{"X-Forwarded-Host": "registry.example.com:8443"}, want: "https://registry.example.com:8443"},
		{name: "chain of proxies: the first value wins", host: "backend",
			headers: map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "outer.example, inner.example"},
			want:    "https://outer.example"},
		{name: "unknown proto ignored", tls: true, host: "reg.example",
			headers: map[string]string{"X-Forwarded-Proto": "gopher"}, want: "https://reg.example"},
		{name: "hostile host ignored", host: "reg.example",
			headers: map[string]string{"X-Forwarded-Host": "evil.example/path?x=1"}, want: "http://reg.example"},
		{name: "user info ignored", host: "reg.example",
			headers: map[string]string{"X-Forwarded-Host": "user@evil.example"}, want: "http://reg.example"},
		{name: "empty host", host: "", want: "http://localhost"},
		{name: "external URL wins", tls: true, host: "10.0.0.5:5000", external: "https://registry.example.com/",
			headers: map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "other.example"},
			want:    "https://registry.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v2/", nil)
			r.Host = tt.host
			if !tt.tls {
				r.TLS = nil
			} else {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			if got := ExternalBase(r, tt.external); got != tt.want {
				t.Errorf("ExternalBase = %q, want %q", got, tt.want)
			}
		})
	}
}
