// Package e2e drives a real berth binary with real clients: the docker CLI
// and daemon, skopeo, and go-containerregistry's crane. It owns no
// registry logic; it only proves that what those clients push comes back
// byte for byte.
//
// Environment:
//
//	BERTH_BIN               use this berth binary instead of building ./cmd/berth
//	BERTH_TEST_DOCKER_HOST  use this Docker daemon (unix://…); otherwise one is
//	                        started with scripts/dockerd.sh (needs root)
//	BERTH_SKIP_DOCKER=1     local iteration only: skip the docker CLI steps and
//	                        push the image with crane instead; never set in CI
//	BERTH_E2E_LOG_DIR       keep berth's log there instead of a temp dir
package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
	"github.com/berth-registry/berth/internal/testutil/dockertest"
)

// env is what TestMain set up for the tests of this package.
var env struct {
	registry   string // host:port of berth
	password   string // admin password
	admin      *berthproc.Admin
	dockerHost string // DOCKER_HOST for the docker CLI; "" when skipped
	dockerCfg  string // DOCKER_CONFIG dir, so that login stays private
	workDir    string // scratch space shared by the tests
	berthLog   string // path of berth's combined output
	bin        string // the berth binary under test
	dataDir    string // its --data-dir
}

func TestMain(m *testing.M) {
	berthproc.Main("e2e", func(work string) (int, error) { return run(m, work) })
}

func run(m *testing.M, work string) (code int, err error) {
	defer func() {
		if err != nil && env.berthLog != "" {
			err = fmt.Errorf("%w\n--- berth log (%s), last lines:\n%s", err, env.berthLog, berthproc.Tail(env.berthLog, 40))
		}
	}()
	env.workDir = work
	env.password = "E2e-Admin-" + randomHex(12) // meets the policy: upper, lower, digit

	// A relative BERTH_BIN is taken from the repository root, where make runs.
	bin, err := berthproc.Binary(work, true)
	if err != nil {
		return 0, err
	}
	env.bin = bin
	stopBerth, err := startBerth(bin, work)
	if err != nil {
		return 0, err
	}
	defer stopBerth()

	if os.Getenv("BERTH_SKIP_DOCKER") == "1" {
		fmt.Fprintln(os.Stderr, "e2e: BERTH_SKIP_DOCKER=1, docker CLI steps are skipped (never do this in CI)")
	} else {
		stopDocker, err := dockerDaemon(work)
		if err != nil {
			return 0, err
		}
		defer stopDocker()
	}
	return m.Run(), nil
}

// startBerth runs `berth serve` on a free loopback port with a fresh data
// dir, waits for /healthz and sets env.registry. The returned func stops
// it with SIGTERM.
func startBerth(bin, work string) (func(), error) {
	env.dataDir = filepath.Join(work, "berth-data")
	logDir := os.Getenv("BERTH_E2E_LOG_DIR")
	if logDir == "" {
		logDir = work
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	env.berthLog = filepath.Join(logDir, "berth.log")
	srv, err := berthproc.Serve(bin, berthproc.ServeOptions{
		Password: env.password, DataDir: env.dataDir, LogPath: env.berthLog})
	if err != nil {
		return nil, err
	}
	env.registry = srv.Addr
	env.admin = srv.Admin()
	return func() { srv.Stop() }, nil
}

// dockerDaemon uses BERTH_TEST_DOCKER_HOST or starts a private daemon, and
// gives the tests a private DOCKER_CONFIG.
func dockerDaemon(work string) (func(), error) {
	env.dockerCfg = filepath.Join(work, "docker-config")
	if err := os.MkdirAll(env.dockerCfg, 0o700); err != nil {
		return nil, err
	}
	host, stop, err := dockertest.Daemon("berth-e2e")
	if err != nil {
		return nil, err
	}
	env.dockerHost = host
	return func() {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stop dockerd: %v\n", err)
		}
	}, nil
}

func dockerEnv() []string {
	return append(os.Environ(), "DOCKER_HOST="+env.dockerHost, "DOCKER_CONFIG="+env.dockerCfg)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// runCmd runs one client command with a bounded time and fails the test,
// showing what it printed, when it does not exit 0.
func runCmd(t *testing.T, timeout time.Duration, stdin string, cmdEnv []string, name string, args ...string) berthproc.Output {
	t.Helper()
	return berthproc.Cmd{Argv: append([]string{name}, args...), Env: cmdEnv, Stdin: stdin, Timeout: timeout}.Must(t)
}

func tryCmd(timeout time.Duration, stdin string, cmdEnv []string, name string, args ...string) (berthproc.Output, error) {
	return berthproc.Cmd{Argv: append([]string{name}, args...), Env: cmdEnv, Stdin: stdin, Timeout: timeout}.Run()
}
