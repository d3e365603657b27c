package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stores are the real Store implementations the Manager runs on.
var stores = []struct {
	name string
	dsn  func(t testing.TB) string
}{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "berth.db") }},
	{"postgres", pgtest.DSN},
}

func openStore(t testing.TB, dsn string) *meta.DB {
	t.Helper()
	db, err := meta.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// clock is a settable time source.
type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.t.Load()) }
func (c *clock) set(t time.Time)  { c.t.Store(t.UnixNano()) }

func fixedHosts(hosts ...string) Option {
	return WithLocalHosts(func(context.Context) []string { return hosts })
}

func start(t testing.TB, m *Manager) *Manager {
	t.Helper()
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return m
}

// served returns the leaf certificate m hands to clients.
func served(t testing.TB, m *Manager) *x509.Certificate {
	t.Helper()
	c, err := m.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func parsePEM(t testing.TB, b []byte) *x509.Certificate {
	t.Helper()
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
		t.Fatalf("want exactly one PEM certificate, got:\n%s", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verify checks that leaf is valid for host at time now under the CA.
func verify(leaf, ca *x509.Certificate, host string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func TestLocalHosts(t *testing.T) {
	got := LocalHosts(context.Background())
	want := []string{"localhost", "127.0.0.1", "::1"}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, strings.ToLower(host))
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		ip := a.(*net.IPNet).IP
		if !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			want = append(want, ip.String())
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("LocalHosts() = %q, lacks %q", got, w)
		}
	}
	for _, h := range got {
		if ip := net.ParseIP(h); ip != nil && ip.IsLinkLocalUnicast() {
			t.Errorf("LocalHosts() = %q, has link-local %s", got, h)
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() && h != "127.0.0.1" && h != "::1" {
			t.Errorf("LocalHosts() = %q, has loopback %s", got, h)
		}
	}
}

func TestGeneratedCertificates(t *testing.T) {
	db := openStore(t, stores[0].dsn(t))
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	configured := []string{"Registry.Example.COM", "10.1.2.3", "2001:db8::7", "*.apps.example.com"}
	m := start(t, NewManager(db.Q(), configured, WithClock(newClock(now).now)))
	leaf := served(t, m)
	ca := parsePEM(t, m.CA())

	// The SANs: configured names and IPs, then every default.
	local := LocalHosts(context.Background())
	var wantNames, wantIPs []string
	for _, h := range append(configured, local...) {
		if ip := net.ParseIP(h); ip != nil {
			wantIPs = append(wantIPs, ip.String())
		} else {
			wantNames = append(wantNames, strings.ToLower(h))
		}
	}
	var gotIPs []string
	for _, ip := range leaf.IPAddresses {
		gotIPs = append(gotIPs, ip.String())
	}
	for _, n := range wantNames {
		if !slices.Contains(leaf.DNSNames, n) {
			t.Errorf("DNS SANs %q lack %q", leaf.DNSNames, n)
		}
	}
	for _, ip := range wantIPs {
		if !slices.Contains(gotIPs, ip) {
			t.Errorf("IP SANs %q lack %s", gotIPs, ip)
		}
	}
	for _, must := range []string{"localhost", "127.0.0.1", "::1", "registry.example.com", "10.1.2.3"} {
		if !slices.Contains(append(leaf.DNSNames, gotIPs...), must) {
			t.Errorf("SANs lack %s", must)
		}
	}
	if len(leaf.DNSNames)+len(leaf.IPAddresses) != len(wantNames)+len(wantIPs) {
		t.Errorf("SANs = %q + %q, want exactly %q + %q", leaf.DNSNames, gotIPs, wantNames, wantIPs)
	}

	// Clients that trust the CA accept it under each name.
	for _, h := range []string{"registry.example.com", "10.1.2.3", "2001:db8::7", "x.apps.example.com", "localhost", "127.0.0.1", "::1"} {
		if err := verify(leaf, ca, h, now); err != nil {
			t.Errorf("verify for %s: %v", h, err)
		}
	}
	if err := verify(leaf, ca, "other.example.com", now); err == nil {
		t.Error("verify for a name not in the certificate succeeded")
	}

	// Shapes and lifetimes.
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, KeyUsage %b", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if leaf.IsCA || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("leaf: IsCA %v, ExtKeyUsage %v", leaf.IsCA, leaf.ExtKeyUsage)
	}
	for _, c := range []*x509.Certificate{ca, leaf} {
		k, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			t.Errorf("%s: key %T, want ECDSA P-256", c.Subject, c.PublicKey)
		}
	}
	if got, want := ca.NotAfter.Sub(now), caLifetime; got != want {
		t.Errorf("CA lives %s after now, want %s", got, want)
	}
	if got, want := leaf.NotAfter.Sub(now), serverLifetime; got != want {
		t.Errorf("server certificate lives %s after now, want %s", got, want)
	}
	if !leaf.NotBefore.Before(now) {
		t.Errorf("server certificate NotBefore %s is not before now %s", leaf.NotBefore, now)
	}
}

// TestRestartReuses starts a second Manager on the store of a first one,
// as a restart (or another node) does: nothing is made anew.
func TestRestartReuses(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			dsn := st.dsn(t)
			db := openStore(t, dsn)
			m1 := start(t, NewManager(db.Q(), []string{"reg.example"}))
			ca1, leaf1 := parsePEM(t, m1.CA()), served(t, m1)
			db.Close()

			db = openStore(t, dsn)
			m2 := start(t, NewManager(db.Q(), []string{"reg.example"}))
			ca2, leaf2 := parsePEM(t, m2.CA()), served(t, m2)
			if Fingerprint(ca1) != Fingerprint(ca2) {
				t.Errorf("CA after restart %s, want the first %s", Fingerprint(ca2), Fingerprint(ca1))
			}
			if Fingerprint(leaf1) != Fingerprint(leaf2) {
				t.Errorf("server certificate after restart %s, want the first %s", Fingerprint(leaf2), Fingerprint(leaf1))
			}
			ca, err := ReadCA(context.Background(), db.Q())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ca, m1.CA()) {
				t.Errorf("ReadCA = %s, want %s", ca, m1.CA())
			}
		})
	}
}

func TestReadCAAbsent(t *testing.T) {
	db := openStore(t, stores[0].dsn(t))
	_, err := ReadCA(context.Background(), db.Q())
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("ReadCA on an empty store = %v, want NotFound", err)
	}
}

func TestRenewalNearExpiry(t *testing.T) {
	db := openStore(t, stores[0].dsn(t))
	t0 := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := newClock(t0)
	var logs bytes.Buffer
	m := start(t, NewManager(db.Q(), []string{"reg.example"}, WithClock(clk.now), fixedHosts("node-a"),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithCheckInterval(10*time.Millisecond)))
	other := start(t, NewManager(db.Q(), []string{"reg.example"}, WithClock(clk.now), fixedHosts("node-a")))
	first := served(t, m)
	ca := parsePEM(t, m.CA())
	if Fingerprint(served(t, other)) != Fingerprint(first) {
		t.Fatal("second node made its own certificate")
	}

	// 31 days before the end: kept.
	clk.set(first.NotAfter.Add(-31 * 24 * time.Hour))
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := served(t, m); Fingerprint(got) != Fingerprint(first) {
		t.Fatalf("renewed 31 days before the end (new NotAfter %s)", got.NotAfter)
	}

	// 29 days before the end: renewed by the periodic check, same CA.
	renewAt := first.NotAfter.Add(-29 * 24 * time.Hour)
	clk.set(renewAt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	renewed := waitFor(t, 10*time.Second, func() *x509.Certificate {
		if c := served(t, m); Fingerprint(c) != Fingerprint(first) {
			return c
		}
		return nil
	})
	cancel()
	<-done
	if got, want := renewed.NotAfter, renewAt.Add(serverLifetime); !got.Equal(want) {
		t.Errorf("renewed NotAfter = %s, want %s", got, want)
	}
	if err := verify(renewed, ca, "reg.example", renewAt); err != nil {
		t.Errorf("renewed certificate under the old CA: %v", err)
	}
	if got := parsePEM(t, m.CA()); Fingerprint(got) != Fingerprint(ca) {
		t.Error("the CA changed at renewal")
	}
	if !strings.Contains(logs.String(), "made a new server certificate") || !strings.Contains(logs.String(), `reason="stored one ends at`) {
		t.Errorf("log lacks the renewal and its reason:\n%s", &logs)
	}

	// The other node takes the renewed one as is at its next check.
	if err := other.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := served(t, other); Fingerprint(got) != Fingerprint(renewed) {
		t.Errorf("other node serves %s after its check, want the renewed %s", Fingerprint(got), Fingerprint(renewed))
	}
}

// TestHostsChange: a certificate that lacks a configured host is
// replaced by one that names it, and keeps the names it had (another
// node may need them).
func TestHostsChange(t *testing.T) {
	db := openStore(t, stores[0].dsn(t))
	m1 := start(t, NewManager(db.Q(), []string{"a.example"}, fixedHosts("node-1")))
	first := served(t, m1)
	if !slices.Contains(first.DNSNames, "a.example") || slices.Contains(first.DNSNames, "b.example") {
		t.Fatalf("first certificate names %q", first.DNSNames)
	}

	// Restart with a new name.
	m2 := start(t, NewManager(db.Q(), []string{"a.example", "b.example", "192.0.2.77"}, fixedHosts("node-1")))
	second := served(t, m2)
	if Fingerprint(second) == Fingerprint(first) {
		t.Fatal("certificate kept although it lacks the new names")
	}
	for _, h := range []string{"a.example", "b.example", "node-1"} {
		if !slices.Contains(second.DNSNames, h) {
			t.Errorf("new certificate names %q, lacks %s", second.DNSNames, h)
		}
	}
	if len(second.IPAddresses) != 1 || second.IPAddresses[0].String() != "192.0.2.77" {
		t.Errorf("new certificate IPs %v, want [192.0.2.77]", second.IPAddresses)
	}

	// A node with other local names adds them, keeping the others.
	m3 := start(t, NewManager(db.Q(), []string{"a.example"}, fixedHosts("node-2")))
	third := served(t, m3)
	for _, h := range []string{"a.example", "b.example", "node-1", "node-2"} {
		if !slices.Contains(third.DNSNames, h) {
			t.Errorf("certificate names %q, lacks %s", third.DNSNames, h)
		}
	}
	// Unchanged hosts: no new certificate.
	m4 := start(t, NewManager(db.Q(), []string{"b.example"}, fixedHosts("node-1")))
	if got := served(t, m4); Fingerprint(got) != Fingerprint(third) {
		t.Errorf("certificate replaced although it names every host")
	}
}

// TestNodesConverge starts several nodes with different names at once
// on one store: they agree on one CA at once, and on one server
// certificate that names all of them once each has checked again.
func TestNodesConverge(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			dsn := st.dsn(t)
			const n = 4
			ms := make([]*Manager, n)
			errc := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				db := openStore(t, dsn) // one pool per node
				ms[i] = NewManager(db.Q(), []string{"registry.example"}, fixedHosts(fmt.Sprintf("node-%d", i)))
				wg.Add(1)
				go func() { defer wg.Done(); errc[i] = ms[i].Start(context.Background()) }()
			}
			wg.Wait()
			for i := range n {
				if errc[i] != nil {
					t.Fatalf("node %d: Start: %v", i, errc[i])
				}
			}
			for i := 1; i < n; i++ {
				if !bytes.Equal(ms[i].CA(), ms[0].CA()) {
					t.Errorf("node %d has another CA than node 0", i)
				}
			}
			for i := range n {
				if err := ms[i].Refresh(context.Background()); err != nil {
					t.Fatalf("node %d: Refresh: %v", i, err)
				}
			}
			leaf := served(t, ms[0])
			for i := 1; i < n; i++ {
				if got := served(t, ms[i]); Fingerprint(got) != Fingerprint(leaf) {
					t.Errorf("node %d serves %s, node 0 %s", i, Fingerprint(got), Fingerprint(leaf))
				}
			}
			for i := range n {
				if h := fmt.Sprintf("node-%d", i); !slices.Contains(leaf.DNSNames, h) {
					t.Errorf("shared certificate names %q, lacks %s", leaf.DNSNames, h)
				}
			}
		})
	}
}

func TestDamagedStore(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, stores[0].dsn(t))
	q := db.Q()

	// An unreadable server certificate is replaced.
	if err := q.PutSetting(ctx, KeyServer, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	m := start(t, NewManager(q, nil, fixedHosts("node")))
	stored, err := q.GetSetting(ctx, KeyServer)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := decodePair(stored); err != nil || Fingerprint(p.cert) != Fingerprint(served(t, m)) {
		t.Errorf("stored server certificate not replaced by the served one (decode: %v)", err)
	}

	// An unreadable CA is an error that names the key: replacing it
	// silently would break every client that trusts it.
	if err := q.PutSetting(ctx, KeyCA, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	err = NewManager(q, nil, fixedHosts("node")).Start(ctx)
	if err == nil || !strings.Contains(err.Error(), KeyCA) {
		t.Errorf("Start with a damaged CA = %v, want an error naming %s", err, KeyCA)
	}
}

// waitFor polls f until it returns a non-nil value, failing the test
// after limit.
func waitFor[T any](t testing.TB, limit time.Duration, f func() *T) *T {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if v := f(); v != nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFingerprintMatchesOpenSSLForm(t *testing.T) {
	ca, err := newCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint(ca.cert)
	if len(fp) != 64 || strings.ToLower(fp) != fp {
		t.Errorf("Fingerprint = %q, want 64 lower-case hex digits", fp)
	}
	if diff := cmp.Diff(fp, Fingerprint(parsePEM(t, ca.certPEM()))); diff != "" {
		t.Errorf("fingerprint of the PEM round trip differs: %s", diff)
	}
}
