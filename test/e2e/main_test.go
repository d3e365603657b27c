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
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
	"github.com/berth-registry/berth/internal/testutil/dockertest"
)

// env is what TestMain set up for the tests of this package.
var env struct {
	registry   string // host:port of berth
	password   string // admin password
	dockerHost string // DOCKER_HOST for the docker CLI; "" when skipped
	dockerCfg  string // DOCKER_CONFIG dir, so that login stays private
	workDir    string // scratch space shared by the tests
	berthLog   string // path of berth's combined output
	bin        string // the berth binary under test
	dataDir    string // its --data-dir
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e set-up: %v\n", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (code int, err error) {
	work, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	defer func() {
		if err != nil && env.berthLog != "" {
			err = fmt.Errorf("%w\n--- berth log (%s), last lines:\n%s", err, env.berthLog, tail(env.berthLog, 40))
		}
	}()
	env.workDir = work
	env.password = "E2e-Admin-" + randomHex(12) // meets the policy: upper, lower, digit

	bin, err := berthBinary(work)
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

// repoRoot is the module root.
func repoRoot() string { return berthproc.RepoRoot() }

func berthBinary(work string) (string, error) {
	// A relative BERTH_BIN is taken from the repository root, where make runs.
	return berthproc.Binary(work, true)
}

// startBerth runs `berth serve` on a free loopback port with a fresh data
// dir and waits for /healthz. The returned func stops it with SIGTERM.
func startBerth(bin, work string) (func(), error) {
	addr, err := berthproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	env.registry = addr
	env.dataDir = filepath.Join(work, "berth-data")

	logDir := os.Getenv("BERTH_E2E_LOG_DIR")
	if logDir == "" {
		logDir = work
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	env.berthLog = filepath.Join(logDir, "berth.log")

	p, err := berthproc.Start(berthproc.Options{
		Argv: []string{bin, "serve",
			"--addr", env.registry,
			"--data-dir", env.dataDir,
			"--tls=off"},
		Env:     append(os.Environ(), "BERTH_ADMIN_PASSWORD="+env.password),
		LogPath: env.berthLog,
	})
	if err != nil {
		return nil, err
	}
	stop := func() { p.Stop(20 * time.Second) }

	url := "http://" + env.registry + "/healthz"
	client := &http.Client{Timeout: 2 * time.Second}
	if err := p.WaitHealthy(client, url, 60*time.Second, 200*time.Millisecond); err != nil {
		se, _ := berthproc.AsStartError(err)
		if se.Exited {
			return nil, fmt.Errorf("berth exited during start-up: %v", se.ExitErr)
		}
		stop()
		return nil, fmt.Errorf("berth did not answer 200 on %s within 60s (last: %v)", url, se.Last)
	}
	return stop, nil
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

func tail(path string, n int) string { return berthproc.Tail(path, n) }

// cmdResult is what one client invocation printed.
type cmdResult struct {
	stdout, stderr string
}

// runCmd runs one client command with a bounded time and fails the test,
// showing what it printed, when it does not exit 0.
func runCmd(t *testing.T, timeout time.Duration, stdin string, cmdEnv []string, name string, args ...string) cmdResult {
	t.Helper()
	res, err := tryCmd(timeout, stdin, cmdEnv, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, res.stdout, res.stderr)
	}
	return res
}

func tryCmd(timeout time.Duration, stdin string, cmdEnv []string, name string, args ...string) (cmdResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cmdEnv
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return cmdResult{stdout: stdout.String(), stderr: stderr.String()}, err
}
