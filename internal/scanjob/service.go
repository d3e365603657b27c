// Package scanjob runs vulnerability scans and SBOM generation as jobs:
// it keeps scanner registrations (the built-in engine and Harbor
// pluggable scanner adapters), queues scans in the database so that a
// worker on any node can run them, stores their reports, answers Harbor's
// scan overview and decides the "prevent vulnerable images" pull policy.
// It knows nothing of HTTP routing; the engine itself is internal/scan.
package scanjob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
)

// BuiltinUUID is the registration id of the built-in scanner; fixed, so
// that every node registers the same one.
const BuiltinUUID = "berth-builtin-scanner"

// Report kinds (Harbor's scan_type).
const (
	KindVulnerability = "vulnerability"
	KindSBOM          = "sbom"
)

// Triggers of a scan.
const (
	TriggerManual   = "MANUAL"
	TriggerPush     = "AUTO"
	TriggerScanAll  = "SCAN_ALL"
	TriggerSchedule = "SCHEDULE"
)

// Service is the scanning orchestration of one node.
type Service struct {
	db      *meta.DB
	acc     *access.Service
	reg     *registry.Service
	engine  *scan.Engine // nil: no built-in scanner
	log     *slog.Logger
	node    string
	workers int
	lease   time.Duration
	backoff time.Duration
	timeout time.Duration
	poll    time.Duration // the longest wait between two report polls
	// registryURL is how adapters reach berth's /v2 API; "" when berth
	// has no known address (pluggable scans then fail with a clear error).
	registryURL string
	audience    string
	client      *http.Client
	wake        chan struct{}
	walk        chan struct{} // a scan-all run waits to be walked
}

// Option configures a Service.
type Option func(*Service)

// WithEngine enables the built-in scanner.
func WithEngine(e *scan.Engine) Option { return func(s *Service) { s.engine = e } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithWorkers bounds how many scans this node runs at once (default 2).
func WithWorkers(n int) Option {
	return func(s *Service) {
		if n > 0 {
			s.workers = n
		}
	}
}

// WithLease sets how long a claimed job stays with its worker without a
// renewal (default 1 minute; renewed every third of it).
func WithLease(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.lease = d
		}
	}
}

// WithRetryBackoff sets the wait before the first retry of a failed scan;
// it doubles with each attempt (default 30 seconds).
func WithRetryBackoff(d time.Duration) Option { return func(s *Service) { s.backoff = d } }

// WithTimeout bounds one scan attempt (default 30 minutes).
func WithTimeout(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithRegistryURL sets the base URL ("https://host:port") at which
// scanner adapters pull from berth.
func WithRegistryURL(u string) Option { return func(s *Service) { s.registryURL = u } }

// WithTokenAudience sets the audience of the pull tokens given to
// adapters (the token service's name).
func WithTokenAudience(a string) Option { return func(s *Service) { s.audience = a } }

// WithHTTPClient sets the client used to call scanner adapters.
func WithHTTPClient(c *http.Client) Option { return func(s *Service) { s.client = c } }

// New returns the service. Call EnsureBuiltin once at start and Run to
// work on the queue.
func New(db *meta.DB, acc *access.Service, reg *registry.Service, opts ...Option) *Service {
	host, _ := os.Hostname()
	s := &Service{
		db: db, acc: acc, reg: reg, log: slog.Default(),
		node:    host + "-" + randomID()[:8],
		workers: 2, lease: time.Minute, backoff: 30 * time.Second, timeout: 30 * time.Minute,
		poll: 10 * time.Second, audience: "berth",
		client: &http.Client{Timeout: time.Minute},
		wake:   make(chan struct{}, 1),
		walk:   make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// randomID returns 32 hex characters.
func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// uuid returns a random RFC 4122 version 4 UUID, the form Harbor uses for
// report and registration ids.
func uuid() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// EnsureBuiltin registers the built-in scanner (when the engine is
// enabled) and makes it the default when no registration is. It is safe
// to call from every node at once.
func (s *Service) EnsureBuiltin(ctx context.Context) error {
	if s.engine == nil {
		return nil
	}
	return s.db.Tx(ctx, func(q *meta.Q) error {
		if _, err := q.GetScanner(ctx, BuiltinUUID); err == nil {
			return nil
		} else if !errs.Is(err, errs.NotFound) {
			return err
		}
		_, haveDefault := q.DefaultScanner(ctx)
		_, err := q.CreateScanner(ctx, meta.Scanner{UUID: BuiltinUUID, Name: "berth",
			Description: "The built-in scanner: package discovery and OSV advisories, offline",
			Builtin:     true, IsDefault: errs.Is(haveDefault, errs.NotFound)})
		if errs.Is(err, errs.Conflict) {
			return nil // another node, or a registration already named "berth"
		}
		return err
	})
}

// scannerOf returns the registration that scans project's artifacts: the
// project's choice, else the default. NotFound when there is none.
func (s *Service) scannerOf(ctx context.Context, project meta.Project) (meta.Scanner, error) {
	q := s.db.Q()
	sc, err := q.ProjectScanner(ctx, project.ID)
	if errs.Is(err, errs.NotFound) {
		sc, err = q.DefaultScanner(ctx)
	}
	if errs.Is(err, errs.NotFound) {
		return meta.Scanner{}, errs.New(errs.Invalid, "BAD_REQUEST", "no scanner is registered for project %s; register one with POST /api/v2.0/scanners", project.Name)
	}
	return sc, err
}

// project returns the project of a repository.
func (s *Service) project(ctx context.Context, repo string) (meta.Project, error) {
	pr, err := s.db.Q().GetProjectByName(ctx, access.ProjectOf(repo))
	if err != nil {
		return meta.Project{}, fmt.Errorf("project of %s: %w", repo, err)
	}
	return pr, nil
}
