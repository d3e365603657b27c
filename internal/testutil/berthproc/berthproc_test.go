package berthproc

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(p, 2); got != "b\nc" {
		t.Errorf("Tail(2) = %q, want %q", got, "b\nc")
	}
	if got := Tail(p, 10); got != "a\nb\nc" {
		t.Errorf("Tail(10) = %q", got)
	}
	if got := Tail(filepath.Join(t.TempDir(), "missing"), 2); !strings.Contains(got, "no such file") {
		t.Errorf("Tail(missing) = %q", got)
	}
}

func TestFreeAddr(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}

func TestRepoRoot(t *testing.T) {
	if _, err := os.Stat(filepath.Join(RepoRoot(), "cmd", "berth")); err != nil {
		t.Fatal(err)
	}
}

func TestStartWaitStop(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "log")
	p, err := Start(Options{Argv: []string{"sh", "-c", "echo hello; exec sleep 60"}, Env: os.Environ(), LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); Tail(logPath, 1) != "hello"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("log = %q", Tail(logPath, 1))
		}
	}
	if killed := p.Stop(10 * time.Second); killed {
		t.Error("sleep needed SIGKILL")
	}
	if err := p.Wait(); err == nil {
		t.Error("Wait after SIGTERM returned nil")
	}
}
