package berthproc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Cmd is one client command a test runs against berth (docker, skopeo,
// cosign, or berth's own subcommands).
type Cmd struct {
	Argv    []string      // the program and its arguments
	Env     []string      // the complete environment
	Dir     string        // working directory; "" for the test's own
	Stdin   string        // "" for none
	Timeout time.Duration // a command that outlives it is killed
}

// Output is what a command printed.
type Output struct {
	Stdout, Stderr string
}

// Run runs c and returns what it printed. The error is the command's own,
// said to have timed out when it did, so that a hang reads as one.
func (c Cmd) Run() (Output, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", c.Timeout, err)
	}
	return Output{Stdout: out.String(), Stderr: errOut.String()}, err
}

// Must runs c and fails t, showing what it printed, unless it exits 0.
func (c Cmd) Must(t testing.TB) Output {
	t.Helper()
	out, err := c.Run()
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(c.Argv, " "), err, out.Stdout, out.Stderr)
	}
	return out
}
