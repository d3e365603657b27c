// Package interop is berth's client interoperability matrix: each test
// drives one real client (docker, skopeo, crane, regctl, oras, helm,
// cosign) against a berth binary with authentication on, and the run ends
// with one line per client: its version and PASS or FAIL. It owns no
// registry logic; it only proves that what each client stores comes back
// as that client expects.
//
// The Go clients are pinned as tool dependencies of tools/interop/go.mod
// and built once into .tmp/tools/; docker and skopeo are the machine's
// Debian packages.
//
// Environment:
//
//	BERTH_BIN               use this berth binary instead of building ./cmd/berth
//	BERTH_TEST_DOCKER_HOST  use this Docker daemon (unix://…); otherwise one is
//	                        started with scripts/dockerd.sh (needs root)
//	BERTH_SKIP_DOCKER=1     local iteration only: the docker row is skipped
//	BERTH_INTEROP_DIR       where the matrix and berth's log go (default .tmp/interop)
package interop

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
	"github.com/berth-registry/berth/internal/testutil/dockertest"
)

// project is the private project the tests push into (helm uses the
// public "library", as most chart users would).
const project = "interop"

// env is what TestMain set up for the tests of this package.
var env struct {
	registry   string // host:port of berth
	password   string // admin password
	admin      *berthproc.Admin
	dockerHost string // DOCKER_HOST for the docker CLI; "" when skipped
	workDir    string // scratch space shared by the tests
	outDir     string // matrix.md and berth.log
	berthLog   string
	tools      map[string]string // client name -> binary
	matrix     *matrix
}

func TestMain(m *testing.M) {
	berthproc.Main("interop", func(work string) (int, error) { return run(m, work) })
}

func run(m *testing.M, work string) (code int, err error) {
	env.workDir = work
	env.outDir = os.Getenv("BERTH_INTEROP_DIR")
	if env.outDir == "" {
		env.outDir = filepath.Join(repoRoot(), ".tmp", "interop")
	}
	if err := os.MkdirAll(env.outDir, 0o755); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil && env.berthLog != "" {
			err = fmt.Errorf("%w\n--- berth log (%s), last lines:\n%s", err, env.berthLog, berthproc.Tail(env.berthLog, 40))
		}
	}()
	env.password = "Interop-Admin-" + randomHex(12) // meets the policy: upper, lower, digit

	// The tools first: on a cold cache their build takes minutes, and
	// berth should not sit idle meanwhile.
	if env.tools, err = buildTools(); err != nil {
		return 0, err
	}
	bin, err := berthproc.Binary(work, true)
	if err != nil {
		return 0, err
	}
	stopBerth, err := startBerth(bin, work)
	if err != nil {
		return 0, err
	}
	defer stopBerth()
	if _, err := env.admin.CreateProject(project, nil); err != nil {
		return 0, err
	}

	if os.Getenv("BERTH_SKIP_DOCKER") == "1" {
		fmt.Fprintln(os.Stderr, "interop: BERTH_SKIP_DOCKER=1, the docker row is skipped (never do this in CI)")
	} else {
		stopDocker, err := dockerDaemon()
		if err != nil {
			return 0, err
		}
		defer stopDocker()
	}

	env.matrix = newMatrix()
	code = m.Run()
	report := env.matrix.markdown(clientVersions())
	fmt.Print("\nclient compatibility matrix:\n" + report)
	out := filepath.Join(env.outDir, "matrix.md")
	if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	return code, nil
}

// repoRoot is the module root.
func repoRoot() string { return berthproc.RepoRoot() }

// startBerth runs `berth serve` on a free loopback port with a fresh data
// dir, waits for /healthz and sets env.registry. The returned func stops
// it with SIGTERM.
func startBerth(bin, work string) (func(), error) {
	env.berthLog = filepath.Join(env.outDir, "berth.log")
	srv, err := berthproc.Serve(bin, berthproc.ServeOptions{
		Password: env.password, DataDir: filepath.Join(work, "berth-data"), LogPath: env.berthLog})
	if err != nil {
		return nil, err
	}
	env.registry = srv.Addr
	env.admin = srv.Admin()
	return func() { srv.Stop() }, nil
}

// dockerDaemon uses BERTH_TEST_DOCKER_HOST or starts a private daemon.
func dockerDaemon() (func(), error) {
	host, stop, err := dockertest.Daemon("berth-interop")
	if err != nil {
		return nil, err
	}
	env.dockerHost = host
	return func() {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "interop: stop dockerd: %v\n", err)
		}
	}, nil
}

// matrix collects one outcome per client as its test ends.
type matrix struct {
	mu      sync.Mutex
	outcome map[string]string
}

func newMatrix() *matrix { return &matrix{outcome: map[string]string{}} }

// track records the outcome of t, the test of one client, when it ends
// (after its subtests).
func (m *matrix) track(t *testing.T, client string) {
	t.Cleanup(func() {
		res := "PASS"
		switch {
		case t.Failed():
			res = "FAIL"
		case t.Skipped():
			res = "SKIP"
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.outcome[client] = res
	})
}

// markdown renders the matrix as the table the README carries: one row
// per client, in the order of clients, "not run" for a test that -run
// left out.
func (m *matrix) markdown(versions map[string]string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	b.WriteString("| client | version | result |\n|---|---|---|\n")
	for _, c := range clients {
		res, ok := m.outcome[c.name]
		if !ok {
			res = "not run"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.name, versions[c.name], res)
	}
	return b.String()
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
func runCmd(t *testing.T, c client, stdin string, name string, args ...string) berthproc.Output {
	t.Helper()
	return c.cmd(stdin, name, args...).Must(t)
}

// tryCmd runs name and returns what it printed.
func tryCmd(c client, stdin string, name string, args ...string) (berthproc.Output, error) {
	return c.cmd(stdin, name, args...).Run()
}

// cmd is name (a client from env.tools, or a program on PATH) in c's
// private home.
func (c client) cmd(stdin string, name string, args ...string) berthproc.Cmd {
	bin := name
	if p, ok := env.tools[name]; ok {
		bin = p
	}
	return berthproc.Cmd{Argv: append([]string{bin}, args...), Env: c.env, Dir: c.dir, Stdin: stdin, Timeout: cmdTimeout}
}

// cmdTimeout bounds every client command; the content is a few MiB at
// most, so anything slower is a hang.
const cmdTimeout = 2 * time.Minute

// client is one client's private environment: its own HOME, XDG and
// DOCKER_CONFIG directories, so that logins and caches never mix between
// tests or leak from the machine's user.
type client struct {
	dir string // working directory, also HOME
	env []string
}

func newClient(t *testing.T) client {
	t.Helper()
	home := t.TempDir()
	e := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + home,
		"LANG=C",
		"NO_COLOR=1",
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		// Loopback only: a proxy from the machine's environment must not
		// see these requests.
		"NO_PROXY=127.0.0.1,localhost",
		"no_proxy=127.0.0.1,localhost",
	}
	if env.dockerHost != "" {
		e = append(e, "DOCKER_HOST="+env.dockerHost)
	}
	for _, d := range []string{".docker", ".config", ".cache", ".local/share"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return client{dir: home, env: e}
}

// with returns c with more environment variables.
func (c client) with(kv ...string) client {
	c.env = append(append([]string(nil), c.env...), kv...)
	return c
}
