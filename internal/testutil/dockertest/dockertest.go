// Package dockertest gives end-to-end tests a docker daemon: the one
// BERTH_TEST_DOCKER_HOST names (make test starts one), or a private daemon
// started with scripts/dockerd.sh. Not being able to run docker is a
// failure, not a skip.
package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

// Daemon returns the DOCKER_HOST of a daemon that answers, and a stop func
// that stops the daemon if Daemon started it (a no-op otherwise). prefix
// names the private daemon's state directory.
func Daemon(prefix string) (host string, stop func() error, err error) {
	if h := os.Getenv("BERTH_TEST_DOCKER_HOST"); h != "" {
		if err := Ping(h); err != nil {
			return "", nil, fmt.Errorf("BERTH_TEST_DOCKER_HOST=%s does not answer: %w", h, err)
		}
		return h, func() error { return nil }, nil
	}
	script := filepath.Join(berthproc.RepoRoot(), "scripts", "dockerd.sh")
	state, err := os.MkdirTemp("", prefix+"-dockerd-")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, "start", state)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	stop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "bash", script, "stop", state).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s stop: %w\n%s", script, err, out)
		}
		return os.RemoveAll(state)
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("%s start (set BERTH_TEST_DOCKER_HOST, run as root, or BERTH_SKIP_DOCKER=1 for local iteration only): %w\n%s", script, err, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	host = strings.TrimSpace(lines[len(lines)-1])
	if err := Ping(host); err != nil {
		stop()
		return "", nil, err
	}
	return host, stop, nil
}

// Ping checks that the daemon at host answers.
func Ping(host string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker version: %w: %s", err, out)
	}
	return nil
}
