package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// issued is a certificate made for a test, with the CA that signed it.
type issued struct {
	ca, leaf *x509.Certificate
	certPEM  []byte
	keyPEM   []byte
}

func issue(t testing.TB, hosts ...string) issued {
	t.Helper()
	now := time.Now()
	ca, err := newCA(now)
	if err != nil {
		t.Fatal(err)
	}
	var hs hostSet
	hs.add(hosts...)
	p, err := newServer(ca, &hs, now)
	if err != nil {
		t.Fatal(err)
	}
	// Split the stored pair into the two files an operator keeps.
	var certPEM, keyPEM []byte
	for rest := p.raw; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			certPEM = append(certPEM, pem.EncodeToMemory(b)...)
		} else {
			keyPEM = pem.EncodeToMemory(b)
		}
	}
	return issued{ca: ca.cert, leaf: p.cert, certPEM: certPEM, keyPEM: keyPEM}
}

func (c issued) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.ca)
	return p
}

// serveTLS runs an http.Server with cfg on a loopback port, the way
// berth does, and returns its address. The handler answers with the
// request's protocol.
func serveTLS(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(r.Proto))
		}),
		TLSConfig: cfg,
		ErrorLog:  slog.NewLogLogger(slog.DiscardHandler, slog.LevelError), // failed handshakes are the point
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return ln.Addr().String()
}

// handshake connects with cfg and returns the certificate the server
// showed and the protocol negotiated by ALPN.
func handshake(addr string, cfg *tls.Config) (*x509.Certificate, string, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return st.PeerCertificates[0], st.NegotiatedProtocol, nil
}

func TestServerConfig(t *testing.T) {
	cert := issue(t, "localhost", "127.0.0.1")
	pair, err := tls.X509KeyPair(cert.certPEM, cert.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }))
	roots := cert.pool()

	t.Run("h2", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true,
		}}
		resp, err := client.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(resp.Body)
		if resp.Proto != "HTTP/2.0" || body.String() != "HTTP/2.0" {
			t.Errorf("client saw %s, handler saw %s; want HTTP/2.0", resp.Proto, body)
		}
	})

	tests := []struct {
		name    string
		cfg     *tls.Config
		wantErr string // "" for success
		alpn    string
	}{
		{name: "TLS 1.3", cfg: &tls.Config{MinVersion: tls.VersionTLS13}, alpn: "h2"},
		{name: "TLS 1.2 AES-GCM", cfg: &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, alpn: "h2"},
		{name: "HTTP/1.1 only client", cfg: &tls.Config{NextProtos: []string{"http/1.1"}}, alpn: "http/1.1"},
		{name: "TLS 1.1", cfg: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
			wantErr: "protocol version"},
		{name: "TLS 1.0", cfg: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10},
			wantErr: "protocol version"},
		{name: "TLS 1.2 CBC suite", cfg: &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, wantErr: "handshake failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg.Clone()
			cfg.RootCAs = roots
			cfg.ServerName = "localhost"
			if cfg.NextProtos == nil {
				cfg.NextProtos = []string{"h2", "http/1.1"}
			}
			leaf, alpn, err := handshake(addr, cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("handshake: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("handshake succeeded, want an error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("handshake: %v, want an error with %q", err, tt.wantErr)
			case err == nil:
				if alpn != tt.alpn {
					t.Errorf("ALPN %q, want %q", alpn, tt.alpn)
				}
				if Fingerprint(leaf) != Fingerprint(cert.leaf) {
					t.Error("server showed another certificate")
				}
			}
		})
	}
}

// syncBuffer is a log destination that Watch's goroutine and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	// Replace by rename, as editors and secret mounts do, so that a
	// poll never reads a half-written file; the key and certificate are
	// still replaced one after the other.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileSourceReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b, c := issue(t, "localhost"), issue(t, "localhost"), issue(t, "localhost")
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, a.keyPEM)

	var logs syncBuffer
	src, err := LoadFiles(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, ServerConfig(src.GetCertificate))
	seen := func() string {
		t.Helper()
		leaf, _, err := handshake(addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return Fingerprint(leaf)
	}
	if got := seen(); got != Fingerprint(a.leaf) {
		t.Fatalf("served %s, want the loaded certificate %s", got, Fingerprint(a.leaf))
	}

	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan struct{})
	go func() { src.Watch(ctx, 20*time.Millisecond); close(watching) }()

	// New files are picked up by the watcher without a restart. The key
	// goes first, so that for a moment the two do not match.
	writeFile(t, keyFile, b.keyPEM)
	writeFile(t, certFile, b.certPEM)
	waitFor(t, 10*time.Second, func() *string {
		if got := seen(); got == Fingerprint(b.leaf) {
			return &got
		}
		return nil
	})

	// A bad file is reported and the current certificate stays.
	const badPEM = "failed to find any PEM data in certificate input"
	writeFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"))
	waitFor(t, 10*time.Second, func() *string {
		if s := logs.String(); strings.Contains(s, badPEM) {
			return &s
		}
		return nil
	})
	if got := seen(); got != Fingerprint(b.leaf) {
		t.Fatalf("after a bad file the server shows %s, want the previous %s", got, Fingerprint(b.leaf))
	}
	cancel()
	<-watching
	// Once, although the watcher saw the same bad file many times. (The
	// moment between the key and the certificate may be reported too.)
	if n := strings.Count(logs.String(), badPEM); n != 1 {
		t.Errorf("bad file reported %d times, want once:\n%s", n, logs.String())
	}
	if err := src.Reload(); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("Reload with a bad file = %v, want an error naming %s", err, certFile)
	}

	// Reload (SIGHUP) takes new files at once, without the watcher.
	writeFile(t, keyFile, c.keyPEM)
	writeFile(t, certFile, c.certPEM)
	if err := src.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := seen(); got != Fingerprint(c.leaf) {
		t.Fatalf("after Reload the server shows %s, want %s", got, Fingerprint(c.leaf))
	}
	if !strings.Contains(logs.String(), "reloaded the TLS certificate") {
		t.Errorf("log lacks the reload:\n%s", logs.String())
	}
}

func TestLoadFilesErrors(t *testing.T) {
	dir := t.TempDir()
	a, b := issue(t, "localhost"), issue(t, "localhost")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, a.certPEM)
	writeFile(t, keyFile, b.keyPEM)
	if _, err := LoadFiles(certFile, keyFile, nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("LoadFiles with a key of another certificate = %v, want a mismatch error", err)
	}
	if _, err := LoadFiles(filepath.Join(dir, "missing.crt"), keyFile, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFiles with a missing file = %v, want ErrNotExist", err)
	}
}
