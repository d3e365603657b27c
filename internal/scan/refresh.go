package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// Refresher rebuilds the vulnerability database from configured URLs
// when it is older than the interval. Every node runs one; a lease in the
// database makes one node do the work, and the age check (made again
// once the lease is held) keeps the others from repeating it.
type Refresher struct {
	e        *Engine
	urls     []string
	interval time.Duration
	holder   string
	client   *http.Client
	// leaseTTL bounds a refresh whose node died; backoff is how long a
	// failed refresh keeps every node from retrying.
	leaseTTL time.Duration
	backoff  time.Duration
}

// NewRefresher returns a refresher of e's database from urls (http://,
// https:// or file://) every interval. node names this process in the
// lease.
func NewRefresher(e *Engine, urls []string, interval time.Duration, node string) *Refresher {
	b := make([]byte, 4)
	rand.Read(b)
	return &Refresher{e: e, urls: urls, interval: interval, holder: node + "/" + hex.EncodeToString(b),
		client: &http.Client{Timeout: 2 * time.Hour}, leaseTTL: 30 * time.Minute,
		backoff: min(interval, time.Hour)}
}

// WithHTTPClient sets the client used for http(s) URLs.
func (r *Refresher) WithHTTPClient(c *http.Client) *Refresher { r.client = c; return r }

// Run checks every tick until ctx ends.
func (r *Refresher) Run(ctx context.Context, tick time.Duration) {
	if len(r.urls) == 0 {
		return
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := r.RefreshIfStale(ctx); err != nil && ctx.Err() == nil {
			r.e.log.Warn("vulnerability database refresh failed", "err", err, "retry_in", r.backoff.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshIfStale refreshes the database when it is missing or older
// than the interval and this node gets the lease. It reports whether it
// imported.
func (r *Refresher) RefreshIfStale(ctx context.Context) (bool, error) {
	if len(r.urls) == 0 {
		return false, nil
	}
	if fresh, err := r.fresh(ctx); err != nil || fresh {
		return false, err
	}
	q := r.e.db.Q()
	now := r.e.now()
	got, err := q.AcquireVulnDBLease(ctx, r.holder, now, now.Add(r.leaseTTL))
	if err != nil || !got {
		return false, err
	}
	// Another node may have finished a refresh between the check and the
	// lease.
	if fresh, err := r.fresh(ctx); err != nil || fresh {
		q.ReleaseVulnDBLease(context.WithoutCancel(ctx), r.holder)
		return false, err
	}
	stop := r.keepLease(ctx)
	_, err = r.Refresh(ctx)
	stop()
	bg := context.WithoutCancel(ctx)
	if err != nil {
		// Keep the lease until the backoff ends, so that no node retries
		// sooner.
		t := r.e.now()
		q.AcquireVulnDBLease(bg, r.holder, t, t.Add(r.backoff))
		return false, err
	}
	return true, q.ReleaseVulnDBLease(bg, r.holder)
}

// keepLease renews the lease while a long download runs.
func (r *Refresher) keepLease(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				now := r.e.now()
				r.e.db.Q().AcquireVulnDBLease(ctx, r.holder, now, now.Add(r.leaseTTL))
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (r *Refresher) fresh(ctx context.Context) (bool, error) {
	info, err := r.e.DBInfo(ctx)
	if err != nil {
		return false, err
	}
	return info.Loaded && r.e.now().Sub(info.ImportedAt) < r.interval, nil
}

// Refresh downloads every URL and imports them as one database, now.
func (r *Refresher) Refresh(ctx context.Context) (DBInfo, error) {
	sources := make([]Source, 0, len(r.urls))
	for _, raw := range r.urls {
		sources = append(sources, r.source(raw))
	}
	return r.e.ImportSources(ctx, sources...)
}

func (r *Refresher) source(raw string) Source {
	return Source{Name: raw, Open: func(ctx context.Context) (io.ReadCloser, error) {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, err, "vulnerability database URL %q", raw)
		}
		switch u.Scheme {
		case "file":
			return os.Open(u.Path)
		case "http", "https":
		default:
			return nil, errs.Invalidf("vulnerability database URL %q: want http, https or file", raw)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return nil, err
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "download %s", u.Redacted())
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, errs.New(errs.Unavailable, "", "download %s: %s", u.Redacted(), resp.Status)
		}
		return resp.Body, nil
	}}
}
