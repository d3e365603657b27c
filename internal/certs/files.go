package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FileSource serves a certificate and key that the operator keeps in two
// PEM files, and picks up new contents without a restart: Watch polls
// the files and Reload reads them on demand (berth calls it on SIGHUP).
// A file that does not parse, or a key that does not match the
// certificate, is reported and the previous pair stays in service, so
// that replacing the two files one after the other is safe.
type FileSource struct {
	certFile, keyFile string
	log               *slog.Logger

	mu                sync.Mutex // one reload at a time
	lastCert, lastKey []byte     // contents last tried, good or bad
	cur               atomic.Pointer[tls.Certificate]
}

// LoadFiles reads the certificate chain (leaf first) and private key; it
// fails when they do not form a usable pair.
func LoadFiles(certFile, keyFile string, log *slog.Logger) (*FileSource, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &FileSource{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := f.reload(true); err != nil {
		return nil, err
	}
	return f, nil
}

// GetCertificate returns the current pair; it fits
// tls.Config.GetCertificate.
func (f *FileSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

// Reload reads both files again and serves them if they form a pair. On
// error the previous pair stays in service.
func (f *FileSource) Reload() error {
	_, err := f.reload(true)
	return err
}

// Watch reloads the files whenever their contents change, checking every
// interval until ctx is done, and logs the outcome of each reload.
func (f *FileSource) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Errors are logged by reload, once per new content.
		_, _ = f.reload(false)
	}
}

// reload reads the files and, when force is set or their contents differ
// from the last attempt, tries to serve them. It reports whether a new
// pair is now served.
func (f *FileSource) reload(force bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	certPEM, err := os.ReadFile(f.certFile)
	if err == nil {
		var keyPEM []byte
		keyPEM, err = os.ReadFile(f.keyFile)
		if err == nil {
			if !force && bytes.Equal(certPEM, f.lastCert) && bytes.Equal(keyPEM, f.lastKey) {
				return false, nil
			}
			f.lastCert, f.lastKey = certPEM, keyPEM
			var c tls.Certificate
			if c, err = tls.X509KeyPair(certPEM, keyPEM); err == nil {
				f.serve(&c)
				return true, nil
			}
		}
	}
	err = fmt.Errorf("load TLS certificate %s and key %s: %w", f.certFile, f.keyFile, err)
	if f.cur.Load() != nil {
		f.log.Error("keeping the current certificate", "err", err)
	}
	return false, err
}

func (f *FileSource) serve(c *tls.Certificate) {
	old := f.cur.Swap(c)
	if old != nil && bytes.Equal(old.Certificate[0], c.Certificate[0]) {
		return // same certificate, nothing to report
	}
	leaf := c.Leaf
	hosts := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	verb := "loaded"
	if old != nil {
		verb = "reloaded"
	}
	f.log.Info(verb+" the TLS certificate", "file", f.certFile, "subject", leaf.Subject.String(),
		"hosts", strings.Join(hosts, ","), "not_after", leaf.NotAfter, "fingerprint", Fingerprint(leaf))
	if time.Now().After(leaf.NotAfter) {
		f.log.Warn("the TLS certificate has expired; clients will refuse it", "file", f.certFile, "not_after", leaf.NotAfter)
	}
}
