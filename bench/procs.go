package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

// proc is a registry process the tool started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startProc(name, logPath string, env []string, argv ...string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() { cmd.Wait(); lf.Close(); close(p.exited) }()
	return p, nil
}

// waitReady polls url until it answers want, the process exits, or 60 s pass.
func (p *proc) waitReady(url string, want ...int) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during start-up; log:\n%s", p.name, tail(p.logPath, 20))
		default:
		}
		if res, err := hc.Get(url); err == nil {
			res.Body.Close()
			for _, w := range want {
				if res.StatusCode == w {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after 60s; log:\n%s", p.name, url, tail(p.logPath, 20))
}

// stop sends SIGTERM, waits up to 10 s, then kills.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func tail(path string, n int) string {
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ensureBerth returns the berth binary, building it when missing.
func ensureBerth(bin string) (string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err == nil {
		return abs, nil
	}
	fmt.Fprintf(os.Stderr, "bench: %s missing; go build -o %s ./cmd/berth\n", bin, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs, "./cmd/berth")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/berth: %w\n%s", err, out)
	}
	return abs, nil
}

// startBerth runs `berth serve --tls=off` on a free loopback port with the
// data dir work/NAME-data, makes the project "bench" and returns the
// process, its URL and the admin password. name tells apart the berth
// measured and the control (--control).
func startBerth(bin, work, name string) (*proc, string, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", "", err
	}
	pass := "Bench-" + randomHex(12)
	data := filepath.Join(work, name+"-data")
	env := append(os.Environ(), "BERTH_ADMIN_PASSWORD="+pass)
	p, err := startProc(name, filepath.Join(work, name+".log"), env,
		bin, "serve", "--addr", addr, "--data-dir", data, "--tls=off")
	if err != nil {
		return nil, "", "", err
	}
	base := "http://" + addr
	if err := p.waitReady(base+"/healthz", http.StatusOK); err != nil {
		p.stop()
		return nil, "", "", err
	}
	// berth (like Harbor) pushes only into projects that exist.
	body, _ := json.Marshal(map[string]any{"project_name": "bench", "metadata": map[string]string{"public": "false"}})
	req, _ := http.NewRequest("POST", base+"/api/v2.0/projects", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", pass)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	res, err := hc.Do(req)
	if err != nil {
		p.stop()
		return nil, "", "", fmt.Errorf("%s: create project: %w", name, err)
	}
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusConflict {
		err := statusErr(name+": create project", res)
		p.stop()
		return nil, "", "", err
	}
	res.Body.Close()
	return p, base, pass, nil
}

// distributionConfig is a minimal distribution 2.8 configuration in the
// format of /etc/docker/registry/config.yml: filesystem storage, no auth.
func distributionConfig(root, addr string) string {
	return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: ` + root + `
  delete:
    enabled: true
http:
  addr: ` + addr + `
  headers:
    X-Content-Type-Options: [nosniff]
`
}

func startDistribution(bin, work string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(work, "distribution")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, "", err
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(distributionConfig(filepath.Join(dir, "data"), addr)), 0o644); err != nil {
		return nil, "", err
	}
	p, err := startProc("distribution", filepath.Join(work, "distribution.log"), os.Environ(), bin, "serve", cfg)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := p.waitReady(base+"/v2/", http.StatusOK); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds reads utime+stime of pid from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; fields after ")" start at 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(ut+st) / clockTicks, true
}

// peakRSS reads VmHWM of pid in bytes.
func peakRSS(pid int) (int64, bool) { return statusField(pid, "VmHWM:") }
