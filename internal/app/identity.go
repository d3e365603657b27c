package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/http/api"
	"github.com/berth-registry/berth/internal/http/auth"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/http/token"
	"github.com/berth-registry/berth/internal/ldapauth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oidcauth"
	"github.com/berth-registry/berth/internal/registry"
)

// identity is the access side of berth: the service and the HTTP
// surfaces built on it.
type identity struct {
	acc      *access.Service
	authn    *auth.Authn
	registry *auth.Registry
	token    http.Handler
	api      *api.Handler
}

// setupIdentity opens the access service and creates the admin account on
// first start. A generated admin password is printed once on stderr (not
// through the log, which may be shipped elsewhere) and kept in a file
// readable only by the owner.
func setupIdentity(ctx context.Context, cfg config.Config, db *meta.DB, svc *registry.Service, later access.AuditQueue, logger *slog.Logger) (*identity, error) {
	var sealKey []access.Option
	if cfg.Auth.SecretKey != "" {
		key, _ := hex.DecodeString(cfg.Auth.SecretKey) // checked by config
		sealKey = append(sealKey, access.WithSecretKey(key))
	}
	acc, err := access.New(ctx, db, append([]access.Option{
		access.WithLogger(logger),
		access.WithAuditQueue(later),
		access.WithRobotPrefix(cfg.Auth.RobotPrefix),
		access.WithTokenTTL(cfg.Auth.TokenExpiry),
		access.WithProjectCreation(cfg.Auth.ProjectCreation),
		access.WithConfigKeys(ldapauth.ConfigKeys()...),
		access.WithConfigKeys(oidcauth.ConfigKeys()...),
	}, sealKey...)...)
	if err != nil {
		return nil, err
	}
	generated, err := acc.Bootstrap(ctx, os.Getenv("BERTH_ADMIN_PASSWORD"), cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if generated != "" {
		fmt.Fprintf(os.Stderr, "\nberth: created the admin account. Password (shown once, also in %s/admin-password):\n\n    %s\n\n",
			cfg.DataDir, generated)
		logger.Info("created the admin account", "password_file", cfg.DataDir+"/admin-password")
	}
	// In ldap_auth mode, passwords are checked against the directory.
	directory := ldapauth.NewProvider(acc, ldapauth.WithLogger(logger))
	authn := auth.New(acc, cfg.Server.ExternalURL, logger)
	return &identity{
		acc:      acc,
		authn:    authn,
		registry: auth.NewRegistry(authn),
		token:    token.New(authn, logger),
		api:      api.New(acc, authn, svc, logger, api.WithLDAP(directory), api.WithOIDC(oidcauth.New(acc, oidcauth.WithLogger(logger)))),
	}, nil
}

// routes mounts the token service, the management API and UI sessions.
func (id *identity) routes(mux *http.ServeMux) {
	mux.Handle("/service/token", id.token)
	mux.Handle("/api/v2.0/", id.api)
	mux.Handle("/c/", id.api)
}

// v2Options guards the registry API with the access service.
func (id *identity) v2Options() []ocihttp.Option {
	return []ocihttp.Option{ocihttp.WithAuthorizer(id.registry)}
}

// runHousekeeping purges expired sessions, and audit entries older than
// the retention, once an hour until ctx ends.
func (id *identity) runHousekeeping(ctx context.Context, retention time.Duration, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		q := id.acc.DB().Q()
		now := id.acc.Now().UTC()
		if _, err := q.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			logger.Warn("purge expired sessions", "err", err)
		}
		if retention > 0 {
			if n, err := q.PurgeAuditBefore(ctx, now.Add(-retention)); err != nil && ctx.Err() == nil {
				logger.Warn("purge audit log", "err", err)
			} else if n > 0 {
				logger.Info("purged old audit entries", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
