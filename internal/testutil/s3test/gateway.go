package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The gateway's credentials: it only ever listens on loopback.
const (
	gwAccessKey = "berthtest"
	gwSecretKey = "berthtest-secret-key"
)

// gateway is a private versitygw serving a temporary directory.
type gateway struct {
	dir       string // owns root/ and the log
	endpoint  string // 127.0.0.1:port
	accessKey string
	secretKey string
	cmd       *exec.Cmd
	exited    chan struct{} // closed when the process has exited
	log       string
}

// binary builds versitygw at the version go.mod pins (the build cache
// keeps it, so only the first run of a machine pays for it) and returns
// its path.
func binary() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, "tool", "-n", "versitygw")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n versitygw: %w\n%s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	bin := strings.TrimSpace(string(out))
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		return "", fmt.Errorf("go tool -n versitygw printed %q, which is not a file", bin)
	}
	return bin, nil
}

func startGateway() (*gateway, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "berth-s3-")
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "root"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	g := &gateway{dir: dir, accessKey: gwAccessKey, secretKey: gwSecretKey, log: filepath.Join(dir, "versitygw.log")}
	// The free port may be taken between probing and binding; try again.
	for attempt := 0; ; attempt++ {
		err = g.start(bin)
		if err == nil {
			return g, nil
		}
		if attempt == 4 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (g *gateway) start(bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(g.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	g.endpoint = "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin,
		"--port", g.endpoint,
		"--access", g.accessKey,
		"--secret", g.secretKey,
		"--region", "us-east-1",
		"--quiet",
		"posix", filepath.Join(g.dir, "root"))
	cmd.Dir = g.dir
	// Only what it needs: a ROOT_ACCESS_KEY or VGW_* variable in the
	// caller's environment must not change the server under test.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + g.dir, "TMPDIR=" + g.dir}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Setpgid keeps ^C in the terminal from reaching it directly;
	// Pdeathsig stops it if the test binary dies without running Main.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	g.cmd, g.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(g.exited) }()

	// Any HTTP answer means it listens; the caller then checks the keys.
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get("http://" + g.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-g.exited:
			return fmt.Errorf("versitygw exited at start: %s", g.logTail())
		default:
		}
		if time.Now().After(deadline) {
			g.kill()
			return fmt.Errorf("versitygw not answering on %s after 60s: %v: %s", g.endpoint, err, g.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (g *gateway) logTail() string {
	b, _ := os.ReadFile(g.log)
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// kill stops the gateway without removing its directory.
func (g *gateway) kill() {
	if g.cmd == nil || g.cmd.Process == nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.exited:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.exited
	}
}

// stop shuts the gateway down and removes its files.
func (g *gateway) stop() error {
	g.kill()
	if err := os.RemoveAll(g.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
