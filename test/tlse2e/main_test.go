// Package tlse2e proves berth's HTTPS from the outside: a real berth
// binary, started the way an operator starts it, against real clients
// (Go's net/http, curl, skopeo, the docker daemon) that decide for
// themselves whether to trust it.
//
// Environment:
//
//	BERTH_BIN               use this berth binary instead of building ./cmd/berth
//	BERTH_TEST_DOCKER_HOST  use this Docker daemon (unix://…); otherwise one is
//	                        started with scripts/dockerd.sh (needs root)
//	BERTH_E2E_LOG_DIR       keep berth's logs there (tls-*.log) instead of temp dirs
//
// The docker test needs root: it creates a network namespace, so that
// berth has an address the docker daemon does not exempt from
// certificate checks as it does loopback, and writes the CA into
// /etc/docker/certs.d, where the daemon looks. It removes both.
package tlse2e

import (
	"crypto/tls"
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
)

// berthBin is the binary under test, set by TestMain.
var berthBin string

func TestMain(m *testing.M) {
	berthproc.Main("tlse2e", func(work string) (int, error) {
		var err error
		if berthBin, err = berthproc.Binary(work, false); err != nil {
			return 0, err
		}
		return m.Run(), nil
	})
}

// repoRoot is the module root.
func repoRoot() string { return berthproc.RepoRoot() }

// berthProc is one running `berth serve`.
type berthProc struct {
	addr     string // host:port clients use
	password string // of the admin account
	dataDir  string
	log      string
	cmd      *exec.Cmd
	exited   <-chan struct{}
	proc     *berthproc.Proc
}

type berthOpts struct {
	name    string   // for the log file
	args    []string // after "serve --addr A --data-dir D"
	env     []string // added to the environment
	netns   string   // run inside this network namespace
	addr    string   // listen address; "" picks a free loopback port
	dataDir string   // "" makes a fresh one
	scheme  string   // how to probe /healthz: "https" (default) or "http"
}

// startBerth starts berth and waits until /healthz answers 200; the
// test's cleanup stops it.
func startBerth(t *testing.T, o berthOpts) *berthProc {
	t.Helper()
	if o.addr == "" {
		o.addr = freeLoopback(t)
	}
	if o.dataDir == "" {
		o.dataDir = filepath.Join(t.TempDir(), "data")
	}
	if o.scheme == "" {
		o.scheme = "https"
	}
	logDir := os.Getenv("BERTH_E2E_LOG_DIR")
	if logDir == "" {
		logDir = t.TempDir()
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &berthProc{addr: o.addr, dataDir: o.dataDir,
		password: "TlsE2e-Passw0rd", log: filepath.Join(logDir, "tls-"+o.name+".log")}
	args := append([]string{berthBin, "serve", "--addr", o.addr, "--data-dir", o.dataDir}, o.args...)
	if o.netns != "" {
		// ip execs berth after entering the namespace: the pid is berth's.
		args = append([]string{"ip", "netns", "exec", o.netns}, args...)
	}
	proc, err := berthproc.Start(berthproc.Options{
		Argv: args,
		// Only the first start of a data dir sets the admin password; later
		// ones, of the same data dir, keep it.
		Env:     append(append(os.Environ(), "BERTH_ADMIN_PASSWORD="+p.password), o.env...),
		LogPath: p.log,
		Append:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.proc, p.cmd, p.exited = proc, proc.Cmd, proc.Exited()
	t.Cleanup(func() { p.stop(t) })

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // only asks "is it up"
	}}
	url := o.scheme + "://" + o.addr + "/healthz"
	if err := proc.WaitHealthy(client, url, 30*time.Second, 100*time.Millisecond); err != nil {
		se, _ := berthproc.AsStartError(err)
		if se.Exited {
			t.Fatalf("berth exited during start-up: %v\n%s", se.ExitErr, tail(p.log, 30))
		}
		t.Fatalf("berth did not answer 200 on %s within 30s (last: %v)\n%s", url, se.LastErr, tail(p.log, 30))
	}
	return p
}

// stop ends berth with SIGTERM (SIGKILL after 20s) and waits for it.
func (p *berthProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	if p.proc.Stop(20 * time.Second) {
		t.Errorf("berth did not stop within 20s of SIGTERM; killing it")
	}
	if t.Failed() {
		t.Logf("berth log (%s), last lines:\n%s", p.log, tail(p.log, 40))
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	addr, err := berthproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func tail(path string, n int) string { return berthproc.Tail(path, n) }

// result is what one client command printed and how it ended.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// exitCode is the command's exit status, or -1 if it did not exit.
func (r result) exitCode() int {
	var ee *exec.ExitError
	if errors.As(r.err, &ee) {
		return ee.ExitCode()
	}
	if r.err == nil {
		return 0
	}
	return -1
}

// run runs a command with a bounded time.
func run(timeout time.Duration, env []string, stdin string, name string, args ...string) result {
	out, err := berthproc.Cmd{Argv: append([]string{name}, args...), Env: env, Stdin: stdin, Timeout: timeout}.Run()
	return result{stdout: out.Stdout, stderr: out.Stderr, err: err}
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, timeout time.Duration, env []string, stdin string, name string, args ...string) result {
	t.Helper()
	r := run(timeout, env, stdin, name, args...)
	if r.err != nil {
		t.Fatalf("%s %s:\n%s", name, strings.Join(args, " "), r)
	}
	return r
}

// mustFail runs a command that must fail with output containing one of
// wants (case-insensitive).
func mustFail(t *testing.T, timeout time.Duration, env []string, stdin string, wants []string, name string, args ...string) result {
	t.Helper()
	r := run(timeout, env, stdin, name, args...)
	if r.err == nil {
		t.Fatalf("%s %s succeeded, want it to fail:\n%s", name, strings.Join(args, " "), r)
	}
	out := strings.ToLower(r.stdout + r.stderr)
	for _, w := range wants {
		if strings.Contains(out, strings.ToLower(w)) {
			return r
		}
	}
	t.Fatalf("%s %s failed, but not with any of %q:\n%s", name, strings.Join(args, " "), wants, r)
	return r
}
