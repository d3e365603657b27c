package access

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-registry/berth/internal/errs"
	"github.com/berth-registry/berth/internal/meta"
)

// Project creation restrictions.
const (
	CreationEveryone  = "everyone"
	CreationAdminOnly = "adminonly"
)

// Service makes every identity and policy decision.
type Service struct {
	db              *meta.DB
	log             *slog.Logger
	now             func() time.Time
	signer          *Signer
	robotPrefix     string
	tokenTTL        time.Duration
	projectCreation string
	limiter         *limiter
	cache           *verifyCache
	principals      principalCache // behind registry tokens (principalcache.go)
	conf            confCache      // run-time configuration (configurations.go)
	later           AuditQueue
	secretKey       []byte // seals stored secrets (seal.go)
	extraKeys       []ConfigKey
	providers       providers // identity providers behind external users (external.go)
}

// AuditQueue takes audit entries for writing later (package pulls).
type AuditQueue interface {
	Audit(a meta.AuditLog)
}

// WithAuditQueue makes AuditLater hand entries to q.
func WithAuditQueue(q AuditQueue) Option { return func(s *Service) { s.later = q } }

// Option configures a Service.
type Option func(*Service)

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRobotPrefix sets the robot name prefix (default "robot$").
func WithRobotPrefix(p string) Option { return func(s *Service) { s.robotPrefix = p } }

// WithTokenTTL sets the lifetime of registry tokens (default 30 minutes).
func WithTokenTTL(d time.Duration) Option { return func(s *Service) { s.tokenTTL = d } }

// WithProjectCreation sets who may create projects (everyone or adminonly).
func WithProjectCreation(v string) Option { return func(s *Service) { s.projectCreation = v } }

const signingKeySetting = "access.token_signing_key"

// New returns a Service. The token signing key is created on first start
// and shared by every node through the database.
func New(ctx context.Context, db *meta.DB, opts ...Option) (*Service, error) {
	s := &Service{
		db:              db,
		log:             slog.Default(),
		now:             time.Now,
		robotPrefix:     "robot$",
		tokenTTL:        30 * time.Minute,
		projectCreation: CreationEveryone,
	}
	for _, o := range opts {
		o(s)
	}
	s.limiter = newLimiter(s.now)
	s.cache = newVerifyCache(s.now)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	stored, err := db.Q().PutSettingIfAbsent(ctx, signingKeySetting, key)
	if err != nil {
		return nil, fmt.Errorf("load token signing key: %w", err)
	}
	if len(stored) < 32 {
		return nil, fmt.Errorf("token signing key in the database is too short")
	}
	s.signer = NewSigner(stored, "berth-token-issuer", s.now)
	if err := s.loadSecretKey(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// DB exposes the metadata store to sibling services built on access.
func (s *Service) DB() *meta.DB { return s.db }

// RobotPrefix is the configured robot name prefix.
func (s *Service) RobotPrefix() string { return s.robotPrefix }

// Signer issues and verifies registry tokens.
func (s *Service) Signer() *Signer { return s.signer }

// TokenTTL is the lifetime of registry tokens.
func (s *Service) TokenTTL() time.Duration { return s.tokenTTL }

// Now is the service clock.
func (s *Service) Now() time.Time { return s.now() }

// Audit records an operation; failures are logged, never returned, so
// that auditing cannot break the operation it records.
func (s *Service) Audit(ctx context.Context, a meta.AuditLog) {
	if a.OpTime.IsZero() {
		a.OpTime = s.now().UTC()
	}
	if _, err := s.db.Q().InsertAudit(context.WithoutCancel(ctx), a); err != nil {
		s.log.Error("write audit log", "operation", a.Operation, "resource", a.Resource, "err", err)
	}
}

// AuditLater records an operation through the audit queue when there is
// one, without waiting for the write; it is for the hot path (pulls).
func (s *Service) AuditLater(ctx context.Context, a meta.AuditLog) {
	if s.later == nil {
		s.Audit(ctx, a)
		return
	}
	if a.OpTime.IsZero() {
		a.OpTime = s.now().UTC()
	}
	s.later.Audit(a)
}

func unauthorized(format string, args ...any) error {
	return errs.New(errs.Unauthorized, "UNAUTHORIZED", format, args...)
}

// ProjectCreation is who may create projects (everyone or adminonly):
// the run-time configuration, by default the configuration file's value.
func (s *Service) ProjectCreation() string { return s.currentConfiguration().ProjectCreation }
