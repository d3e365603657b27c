package certs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// swapAttempts bounds how often Refresh re-reads a server certificate
// that other nodes keep replacing while it tries to settle on one.
const swapAttempts = 5

// Manager serves a server certificate signed by berth's own CA, both
// made on first use and kept in a Store so that every node and every
// restart serves the same ones. It replaces the server certificate,
// never the CA, when it is within 30 days of its end or does not name
// every host it must.
//
// All nodes share one server certificate, so its names are those of
// every node: a node whose names are missing adds them to the ones
// already there. A renewal because of age starts again from the
// renewing node's names; the others add theirs back at their next check.
type Manager struct {
	store    Store
	hosts    []string
	now      func() time.Time
	local    func(context.Context) []string
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex // one Refresh at a time
	ca     *pair      // set by Start, then constant
	server atomic.Pointer[pair]

	lease     Leaser // nil when the store has none
	holder    string // this Manager's name in the lease
	leaseWait time.Duration
}

// Leaser is an optional Store capability: a lease in the shared database
// that one node at a time holds while it replaces the server certificate,
// so that of many nodes finding it due exactly one makes the new one and
// the others take it (as garbage collection's lease does).
type Leaser interface {
	AcquireTLSLease(ctx context.Context, holder string, now, expires time.Time) (bool, error)
	ReleaseTLSLease(ctx context.Context, holder string) error
}

// Lease timing: a holder that dies frees the lease after leaseTTL; a node
// finding it held re-reads the store every leasePoll, for up to the lease
// wait (WithLeaseWait).
const (
	leaseTTL  = 2 * time.Minute
	leasePoll = 100 * time.Millisecond
)

// WithLeaseWait sets how long Refresh waits for another node that holds
// the renewal lease before it gives up until the next check (default: a
// minute).
func WithLeaseWait(d time.Duration) Option { return func(m *Manager) { m.leaseWait = d } }

// An Option changes a Manager made by NewManager.
type Option func(*Manager)

// WithClock makes the Manager read the time from now.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithLogger makes the Manager report to l.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.log = l } }

// WithCheckInterval sets how often Run checks the server certificate;
// the default is daily.
func WithCheckInterval(d time.Duration) Option { return func(m *Manager) { m.interval = d } }

// WithLocalHosts replaces LocalHosts as the source of this machine's
// names.
func WithLocalHosts(f func(context.Context) []string) Option {
	return func(m *Manager) { m.local = f }
}

// NewManager returns a Manager that keeps its certificates in store and
// names hosts (host names or IP addresses) in the server certificate, in
// addition to this machine's own names.
func NewManager(store Store, hosts []string, opts ...Option) *Manager {
	m := &Manager{
		store:    store,
		hosts:    hosts,
		now:      time.Now,
		local:    LocalHosts,
		interval: 24 * time.Hour,
		log:      slog.New(slog.DiscardHandler),

		holder:    leaseHolder(),
		leaseWait: time.Minute,
	}
	m.lease, _ = store.(Leaser)
	for _, o := range opts {
		o(m)
	}
	return m
}

// leaseHolder names this Manager in the lease: the host and a random
// suffix, unique per process.
func leaseHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "/" + hex.EncodeToString(b)
}

// Start loads the CA and the server certificate, making and storing
// whichever is missing, and renews the server certificate if needed. It
// must succeed before GetCertificate or CA is used.
func (m *Manager) Start(ctx context.Context) error {
	ca, err := m.loadCA(ctx)
	if err != nil {
		return err
	}
	m.ca = ca
	if left := ca.cert.NotAfter.Sub(m.now()); left < 365*24*time.Hour {
		m.log.Warn("the generated CA expires soon; clients will need a new one",
			"not_after", ca.cert.NotAfter, "fingerprint", Fingerprint(ca.cert))
	}
	return m.Refresh(ctx)
}

// Run checks the server certificate every check interval until ctx is
// done. A failed check is logged; the current certificate stays.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("check server certificate", "err", err)
			}
		}
	}
}

// CA returns the CA certificate in PEM.
func (m *Manager) CA() []byte { return m.ca.certPEM() }

// GetCertificate returns the current server certificate; it fits
// tls.Config.GetCertificate.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p := m.server.Load()
	if p == nil {
		return nil, errors.New("certs: no server certificate yet")
	}
	return p.tls, nil
}

// loadCA returns the stored CA, making it when there is none. Of several
// nodes starting at once, the first to store its CA wins and the others
// take it.
func (m *Manager) loadCA(ctx context.Context) (*pair, error) {
	raw, err := m.store.GetSetting(ctx, KeyCA)
	if errs.Is(err, errs.NotFound) {
		ca, err := newCA(m.now())
		if err != nil {
			return nil, err
		}
		if raw, err = m.store.PutSettingIfAbsent(ctx, KeyCA, ca.raw); err != nil {
			return nil, fmt.Errorf("store CA: %w", err)
		}
		if bytes.Equal(raw, ca.raw) {
			m.log.Info("generated a private CA for the server certificate; clients must trust it",
				"fingerprint", Fingerprint(ca.cert), "not_after", ca.cert.NotAfter)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	ca, err := decodePair(raw)
	if err != nil {
		return nil, fmt.Errorf("stored CA (setting %s) is unreadable: %w", KeyCA, err)
	}
	if !ca.cert.IsCA {
		return nil, fmt.Errorf("stored CA (setting %s) is not a CA certificate", KeyCA)
	}
	return ca, nil
}

// ReadCA returns the CA certificate in PEM from store without making
// one; the error has kind errs.NotFound when no CA has been made yet.
func ReadCA(ctx context.Context, store Store) ([]byte, error) {
	raw, err := store.GetSetting(ctx, KeyCA)
	if err != nil {
		return nil, err
	}
	ca, err := decodePair(raw)
	if err != nil {
		return nil, fmt.Errorf("stored CA (setting %s) is unreadable: %w", KeyCA, err)
	}
	return ca.certPEM(), nil
}

// Refresh reads the stored server certificate and serves it, after
// replacing it if it is unreadable, not signed by the CA, within 30 days
// of its end, or missing one of the hosts this node must be reached by.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var want hostSet
	want.add(m.hosts...)
	want.add(m.local(ctx)...)

	read := func() ([]byte, bool, error) {
		raw, err := m.store.GetSetting(ctx, KeyServer)
		absent := errs.Is(err, errs.NotFound)
		if err != nil && !absent {
			return nil, false, fmt.Errorf("read server certificate: %w", err)
		}
		return raw, absent, nil
	}
	raw, absent, err := read()
	if err != nil {
		return err
	}
	held := false
	defer func() {
		if held {
			if err := m.lease.ReleaseTLSLease(context.WithoutCancel(ctx), m.holder); err != nil {
				m.log.Warn("release the certificate renewal lease", "err", err)
			}
		}
	}()
	waitUntil := time.Now().Add(m.leaseWait)
	for attempt := 0; ; {
		var cur *pair
		var v verdict
		if absent {
			v = verdict{reason: "none stored"}
		} else {
			cur, v = m.check(raw, &want, now)
		}
		if v.reason == "" {
			m.serve(cur)
			return nil
		}
		if m.lease != nil && !held {
			ok, err := m.lease.AcquireTLSLease(ctx, m.holder, now, now.Add(leaseTTL))
			if err != nil {
				return fmt.Errorf("server certificate: %w", err)
			}
			held = ok
			if !ok {
				// Another node is replacing it: wait for what it stores.
				if time.Now().After(waitUntil) {
					if cur != nil && now.Before(cur.cert.NotAfter) {
						m.serve(cur)
					}
					return errors.New("server certificate: another node holds the renewal lease; will retry at the next check")
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(leasePoll):
				}
			}
			// Read again: the previous holder may have just replaced it.
			if raw, absent, err = read(); err != nil {
				return err
			}
			continue
		}
		if attempt == swapAttempts {
			return errors.New("server certificate: other nodes kept replacing it; will retry at the next check")
		}
		attempt++
		m.log.Info("replacing the server certificate", "reason", v.reason)

		hosts := want
		if v.addHosts {
			hosts = hostSet{}
			hosts.addCert(cur.cert)
			hosts.add(want.strings()...)
		}
		next, err := newServer(m.ca, &hosts, now)
		if err != nil {
			return err
		}
		if absent {
			raw, err = m.store.PutSettingIfAbsent(ctx, KeyServer, next.raw)
		} else {
			raw, err = m.store.SwapSetting(ctx, KeyServer, raw, next.raw)
		}
		absent = errs.Is(err, errs.NotFound) // deleted meanwhile: insert instead
		if err != nil && !absent {
			return fmt.Errorf("store server certificate: %w", err)
		}
		if !absent && bytes.Equal(raw, next.raw) {
			m.log.Info("made a new server certificate", "reason", v.reason,
				"hosts", strings.Join(hosts.strings(), ","), "not_after", next.cert.NotAfter)
		}
		// Check again what is stored now: ours, or another node's.
	}
}

// verdict is what check found wrong with a stored server certificate;
// an empty reason means nothing.
type verdict struct {
	reason   string
	addHosts bool // only hosts are missing: keep the names it has
}

func (m *Manager) check(raw []byte, want *hostSet, now time.Time) (*pair, verdict) {
	p, err := decodePair(raw)
	if err != nil {
		return nil, verdict{reason: "stored one is unreadable: " + err.Error()}
	}
	if err := p.cert.CheckSignatureFrom(m.ca.cert); err != nil {
		return nil, verdict{reason: "stored one is not signed by the CA"}
	}
	// A certificate that already ends with the CA cannot be bettered.
	if now.After(p.cert.NotAfter.Add(-renewBefore)) && p.cert.NotAfter.Before(m.ca.cert.NotAfter) {
		return p, verdict{reason: "stored one ends at " + p.cert.NotAfter.UTC().Format(time.RFC3339)}
	}
	if missing := want.missingFrom(p.cert); len(missing) > 0 {
		return p, verdict{reason: "stored one does not name " + strings.Join(missing, ","), addHosts: true}
	}
	return p, verdict{}
}

// serve makes p the certificate handed to new connections.
func (m *Manager) serve(p *pair) {
	if old := m.server.Load(); old != nil && bytes.Equal(old.raw, p.raw) {
		return
	}
	m.server.Store(p)
	var hosts hostSet
	hosts.addCert(p.cert)
	m.log.Info("serving the generated server certificate", "fingerprint", Fingerprint(p.cert),
		"hosts", strings.Join(hosts.strings(), ","), "not_after", p.cert.NotAfter,
		"ca_fingerprint", Fingerprint(m.ca.cert))
}
