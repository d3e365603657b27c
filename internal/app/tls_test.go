package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

func tlsConfig(t *testing.T, mode string) config.Config {
	dir := t.TempDir()
	return config.Config{
		DataDir:  dir,
		Database: config.Database{URL: filepath.Join(dir, "berth.db")},
		TLS:      config.TLS{Mode: mode, Hosts: []string{"registry.example"}},
	}
}

func setup(t *testing.T, cfg config.Config) *serverTLS {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := setupTLS(ctx, cfg, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("setupTLS: %v", err)
	}
	return s
}

// getCA calls the download handler; the routes to it are proved against
// the binary in test/tlse2e.
func getCA(t *testing.T, s *serverTLS, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	s.serveCA(w, httptest.NewRequest("GET", path, nil))
	return w
}

func TestGeneratedCADownload(t *testing.T) {
	for _, mode := range []string{config.TLSAuto, config.TLSOn} {
		t.Run(mode, func(t *testing.T) {
			cfg := tlsConfig(t, mode)
			s := setup(t, cfg)
			if s.scheme() != "https" || s.config == nil {
				t.Fatalf("scheme %s, config %v; want https with a TLS config", s.scheme(), s.config)
			}
			cert, err := s.config.GetCertificate(&tls.ClientHelloInfo{})
			if err != nil {
				t.Fatal(err)
			}

			for _, path := range []string{"/api/v2.0/systeminfo/getcert", "/ca.crt"} {
				w := getCA(t, s, path)
				if w.Code != http.StatusOK {
					t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
				}
				if got := w.Header().Get("Content-Disposition"); got != `attachment; filename="ca.crt"` {
					t.Errorf("GET %s: Content-Disposition %q", path, got)
				}
				blk, _ := pem.Decode(w.Body.Bytes())
				if blk == nil || blk.Type != "CERTIFICATE" {
					t.Fatalf("GET %s: body is not a PEM certificate:\n%s", path, w.Body)
				}
				ca, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				// The downloaded CA is the one that signed the served certificate.
				roots := x509.NewCertPool()
				roots.AddCert(ca)
				leaf, _ := x509.ParseCertificate(cert.Certificate[0])
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "registry.example"}); err != nil {
					t.Errorf("GET %s: served certificate does not verify under the downloaded CA: %v", path, err)
				}
			}

			file, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.crt"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(file, s.ca) {
				t.Errorf("<data-dir>/tls/ca.crt differs from the served CA")
			}
			printed, err := CA(context.Background(), cfg)
			if err != nil {
				t.Fatalf("CA: %v", err)
			}
			if !bytes.Equal(printed, s.ca) {
				t.Errorf("CA() differs from the served CA")
			}
		})
	}
}

func TestNoCADownload(t *testing.T) {
	off := tlsConfig(t, config.TLSOff)
	withCert := tlsConfig(t, config.TLSAuto)
	withCert.TLS.Cert, withCert.TLS.Key = writeCertFiles(t, withCert.DataDir)

	for _, tt := range []struct {
		name   string
		cfg    config.Config
		scheme string
		msg    string
	}{
		{"tls off", off, "http", "tls.mode off"},
		{"provided certificate", withCert, "https", "tls.cert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := setup(t, tt.cfg)
			if s.scheme() != tt.scheme {
				t.Errorf("scheme %s, want %s", s.scheme(), tt.scheme)
			}
			w := getCA(t, s, "/api/v2.0/systeminfo/getcert")
			if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("GET getcert: %d %s, want 404 JSON", w.Code, w.Header().Get("Content-Type"))
			}
			var body struct {
				Errors []struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if len(body.Errors) != 1 || body.Errors[0].Code != "NOT_FOUND" || !strings.Contains(body.Errors[0].Message, tt.msg) {
				t.Errorf("body %s, want one NOT_FOUND error mentioning %q", w.Body, tt.msg)
			}
			if _, err := os.Stat(filepath.Join(tt.cfg.DataDir, "tls", "ca.crt")); !os.IsNotExist(err) {
				t.Errorf("<data-dir>/tls/ca.crt exists (%v), want none", err)
			}
		})
	}

	// berth ca refuses rather than make or guess.
	if _, err := CA(context.Background(), withCert); err == nil || !strings.Contains(err.Error(), "tls.cert is set") {
		t.Errorf("CA with tls.cert = %v", err)
	}
	empty := tlsConfig(t, config.TLSAuto)
	if _, err := CA(context.Background(), empty); err == nil || !strings.Contains(err.Error(), "no berth database") {
		t.Errorf("CA on an empty data dir = %v", err)
	}
	if _, err := os.Stat(empty.Database.URL); !os.IsNotExist(err) {
		t.Errorf("CA created %s", empty.Database.URL)
	}
	setup(t, off) // a database without a CA
	if _, err := CA(context.Background(), off); err == nil || !strings.Contains(err.Error(), "no CA yet") {
		t.Errorf("CA before any HTTPS start = %v", err)
	}
}

func TestProvidedCertificateServed(t *testing.T) {
	cfg := tlsConfig(t, config.TLSOn)
	cfg.TLS.Cert, cfg.TLS.Key = writeCertFiles(t, cfg.DataDir)
	s := setup(t, cfg)
	got, err := s.config.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Certificate, got.Certificate); diff != "" {
		t.Errorf("served chain differs from tls.cert (-want +got):\n%s", diff)
	}

	// A broken pair fails the start and names the key.
	if err := os.WriteFile(cfg.TLS.Key, []byte("nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := meta.Open(context.Background(), cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := setupTLS(context.Background(), cfg, db, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "tls.cert") {
		t.Errorf("setupTLS with a broken key = %v, want an error naming tls.cert", err)
	}
}

// writeCertFiles writes a certificate and key the way an operator would
// provide them, made here by berth's own generator in another data dir.
func writeCertFiles(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	other := tlsConfig(t, config.TLSAuto)
	s := setup(t, other)
	c, err := s.config.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "provided.crt"), filepath.Join(dir, "provided.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
