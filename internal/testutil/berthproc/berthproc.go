// Package berthproc runs the real berth binary for the black-box test
// packages under test/: it finds or builds the binary, picks a free
// loopback address, starts `berth serve` with its output in a log file,
// waits for /healthz and stops it again (Start, or Serve for the common
// plain-HTTP case). Admin makes the users, projects and members a test
// sets up through the management API. What a test asserts stays in the
// test; this package owns only the process and that shared set-up.
package berthproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// RepoRoot is the module root: this file is three levels below it.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// EnvBinary returns the binary named by BERTH_BIN, made absolute and
// checked to exist; ok is false when BERTH_BIN is unset. A relative path
// is taken from the repository root when fromRoot is set (that is where
// make runs), and from the working directory otherwise.
func EnvBinary(fromRoot bool) (path string, ok bool, err error) {
	bin := os.Getenv("BERTH_BIN")
	if bin == "" {
		return "", false, nil
	}
	abs := bin
	if !filepath.IsAbs(abs) {
		if fromRoot {
			abs = filepath.Join(RepoRoot(), bin)
		} else if abs, err = filepath.Abs(bin); err != nil {
			return "", true, err
		}
	}
	if _, err := os.Stat(abs); err != nil {
		return "", true, fmt.Errorf("BERTH_BIN: %w", err)
	}
	return abs, true, nil
}

// Build builds ./cmd/berth, statically, into out.
func Build(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/berth")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/berth: %w\n%s", err, b)
	}
	return nil
}

// Binary returns BERTH_BIN (see EnvBinary) or builds ./cmd/berth into
// dir/berth.
func Binary(dir string, fromRoot bool) (string, error) {
	if bin, ok, err := EnvBinary(fromRoot); ok || err != nil {
		return bin, err
	}
	bin := filepath.Join(dir, "berth")
	if err := Build(bin); err != nil {
		return "", err
	}
	return bin, nil
}

// FreeAddr returns 127.0.0.1:port for a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Tail returns the last n lines of the file at path, or the error that
// kept it from being read.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Options says how to run one process.
type Options struct {
	Argv    []string // the command: the berth binary (or a wrapper such as `ip netns exec`) and its arguments
	Env     []string // the complete environment
	LogPath string   // stdout and stderr go there
	Append  bool     // append to LogPath instead of truncating it
}

// Proc is one running process.
type Proc struct {
	Cmd     *exec.Cmd
	LogPath string
	exited  chan struct{}
	err     error // from Wait, once exited is closed
}

// Start starts the process with its output in o.LogPath. It does not wait
// for anything; see WaitHealthy. A failure of the start itself is
// reported as "start berth: …".
func Start(o Options) (*Proc, error) {
	flag, mode := os.O_CREATE|os.O_RDWR|os.O_TRUNC, os.FileMode(0o666) // as os.Create
	if o.Append {
		flag, mode = os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644
	}
	logFile, err := os.OpenFile(o.LogPath, flag, mode)
	if err != nil {
		return nil, err
	}
	p := &Proc{LogPath: o.LogPath, exited: make(chan struct{})}
	p.Cmd = exec.Command(o.Argv[0], o.Argv[1:]...)
	p.Cmd.Env = o.Env
	p.Cmd.Stdout, p.Cmd.Stderr = logFile, logFile
	if err := p.Cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start berth: %w", err)
	}
	go func() { p.err = p.Cmd.Wait(); logFile.Close(); close(p.exited) }()
	return p, nil
}

// Exited is closed once the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Wait waits for the process to end and returns what exec.Cmd.Wait did.
func (p *Proc) Wait() error {
	<-p.exited
	return p.err
}

// Kill sends SIGKILL, if the process still runs, and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.Cmd.Process.Kill()
	<-p.exited
}

// Stop ends the process with SIGTERM and waits for it; after grace it
// sends SIGKILL instead and reports that it had to.
func (p *Proc) Stop(grace time.Duration) (killed bool) {
	select {
	case <-p.exited:
		return false
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return false
	case <-time.After(grace):
		p.Kill()
		return true
	}
}

// StartError is why WaitHealthy gave up.
type StartError struct {
	Exited  bool          // the process ended first
	ExitErr error         // from Wait, when Exited
	URL     string        // what was probed
	Timeout time.Duration // how long, when not Exited
	LastErr error         // the last probe's error, nil when it got an answer
	Last    string        // the last probe's error or status
}

func (e *StartError) Error() string {
	if e.Exited {
		return fmt.Sprintf("berth exited during start-up: %v", e.ExitErr)
	}
	return fmt.Sprintf("berth did not answer 200 on %s within %s (last: %s)", e.URL, e.Timeout, e.Last)
}

// WaitHealthy polls url with client every poll until it answers 200, the
// process ends, or timeout passes; the last two give a *StartError.
func (p *Proc) WaitHealthy(client *http.Client, url string, timeout, poll time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.exited:
			return &StartError{Exited: true, ExitErr: p.err, URL: url}
		default:
		}
		resp, err := client.Get(url)
		last := ""
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return &StartError{URL: url, Timeout: timeout, LastErr: err, Last: last}
		}
		time.Sleep(poll)
	}
}

// AsStartError is errors.As for *StartError.
func AsStartError(err error) (*StartError, bool) {
	var se *StartError
	ok := errors.As(err, &se)
	return se, ok
}
