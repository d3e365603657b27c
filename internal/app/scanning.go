package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/access"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/http/auth"
	ocihttp "github.com/berth-registry/berth/internal/http/oci"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scanjob"
)

// scanning wires vulnerability scanning into a node: the engine, the job
// service, the scan-on-push hook and the pull policy.
type scanning struct {
	svc   *scanjob.Service
	authn *auth.Authn
}

// pushHook returns the registry hook that queues scans on push. It is
// built before the scan service exists (the registry comes first), so it
// reads sc when called.
func (sc *scanning) pushHook() registry.Option {
	return registry.WithPushHook(func(ctx context.Context, name string, d oci.Digest) {
		if sc.svc == nil {
			return
		}
		// Queue before the push is answered, so that a client that
		// pushed sees its scan at once; bounded, and never failing the
		// push.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		sc.svc.OnPush(ctx, name, d)
	})
}

// setup creates the engine and the job service and registers the
// built-in scanner.
func (sc *scanning) setup(ctx context.Context, cfg config.Config, db *meta.DB, id *identity, svc *registry.Service,
	tlsSrv *serverTLS, logger *slog.Logger) error {
	tmp := filepath.Join(cfg.DataDir, "tmp", "scan")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	engine := scan.New(db, scan.WithLogger(logger), scan.WithTempDir(tmp))
	sc.authn = id.authn
	sc.svc = scanjob.New(db, id.acc, svc,
		scanjob.WithEngine(engine),
		scanjob.WithLogger(logger),
		scanjob.WithWorkers(cfg.Scanner.Workers),
		scanjob.WithRegistryURL(registryURL(cfg, tlsSrv)),
		scanjob.WithTokenAudience(auth.Service),
	)
	return sc.svc.EnsureBuiltin(ctx)
}

// registryURL is where scanner adapters pull from: the external URL when
// configured, else the listen address (a wildcard host becomes loopback,
// which suits an adapter on the same host).
func registryURL(cfg config.Config, tlsSrv *serverTLS) string {
	if cfg.Server.ExternalURL != "" {
		return strings.TrimSuffix(cfg.Server.ExternalURL, "/")
	}
	host, port, err := net.SplitHostPort(cfg.Server.Addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return tlsSrv.scheme() + "://" + net.JoinHostPort(host, port)
}

// pullPolicy is the "prevent vulnerable images" check on manifest pulls.
// A scanner's pull token (the scanner-pull action, which berth only puts
// in the tokens it gives adapters) passes: a scanner must be able to
// fetch what it has not scanned yet.
func (sc *scanning) pullPolicy() ocihttp.Option {
	return ocihttp.WithPullPolicy(ocihttp.PullPolicyFunc(func(r *http.Request, repo string, m meta.Manifest) error {
		return sc.svc.CheckPull(r.Context(), repo, m, sc.scannerPull(r, repo))
	}))
}

func (sc *scanning) scannerPull(r *http.Request, repo string) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return false
	}
	c, _, err := sc.authn.Bearer(r.Context(), strings.TrimSpace(tok))
	return err == nil && c.Allows("repository", repo, access.ActScannerPull)
}

// run works on the scan queue and the scan-all schedule until ctx ends.
func (sc *scanning) run(ctx context.Context) {
	go sc.svc.RunScheduler(ctx, 30*time.Second)
	sc.svc.Run(ctx, 5*time.Second)
}
