package berthproc

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestCmdRun(t *testing.T) {
	out, err := Cmd{Argv: []string{"sh", "-c", "cat; echo oops >&2; exit 3"}, Env: os.Environ(),
		Stdin: "hello\n", Timeout: time.Minute}.Run()
	if out.Stdout != "hello\n" || out.Stderr != "oops\n" {
		t.Errorf("output = %+v, want stdin back and oops", out)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("err = %v, want exit status 3", err)
	}

	dir := t.TempDir()
	out, err = Cmd{Argv: []string{"pwd"}, Dir: dir, Timeout: time.Minute}.Run()
	if err != nil || strings.TrimSpace(out.Stdout) != dir {
		t.Errorf("pwd in %s = %q, %v", dir, out.Stdout, err)
	}

	_, err = Cmd{Argv: []string{"sleep", "60"}, Timeout: 50 * time.Millisecond}.Run()
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestMainExitCode(t *testing.T) {
	var seen string
	code := main("unit", func(work string) (int, error) {
		seen = work
		if _, err := os.Stat(work); err != nil {
			t.Errorf("work dir during run: %v", err)
		}
		return 7, nil
	})
	if code != 7 {
		t.Errorf("code = %d, want run's 7", code)
	}
	if _, err := os.Stat(seen); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir %s after run: %v, want it removed", seen, err)
	}
	if code := main("unit", func(string) (int, error) { return 0, errors.New("no docker") }); code != 1 {
		t.Errorf("code after a set-up error = %d, want 1", code)
	}
}
