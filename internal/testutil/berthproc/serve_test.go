package berthproc

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
)

// TestServeAdmin starts the real binary and makes through Admin what the
// black-box tests make: a user, a project, a membership; then reads them
// back through the API and the registry.
func TestServeAdmin(t *testing.T) {
	work := t.TempDir()
	bin, err := Binary(work, true)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(work, "berth.log")
	srv, err := Serve(bin, ServeOptions{Password: "Proc-Admin-1", DataDir: filepath.Join(work, "data"), LogPath: logPath})
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, Tail(logPath, 30))
	}
	t.Cleanup(func() {
		if killed := srv.Stop(); killed {
			t.Error("berth needed SIGKILL")
		}
	})
	a := srv.Admin()

	userPath, err := a.CreateUser("dev", "Dev-Pass-1")
	if err != nil {
		t.Fatal(err)
	}
	var u struct{ Username, Email string }
	if _, err := a.Call(http.StatusOK, "GET", userPath, nil, &u); err != nil {
		t.Fatal(err)
	}
	if u.Username != "dev" || u.Email != "dev@example.com" {
		t.Errorf("GET %s = %+v, want dev, dev@example.com", userPath, u)
	}

	projPath, err := a.CreateProject("team", map[string]string{"auto_scan": "true"})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Name     string
		Metadata map[string]string
	}
	if _, err := a.Call(http.StatusOK, "GET", projPath, nil, &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "team" || p.Metadata["public"] != "false" || p.Metadata["auto_scan"] != "true" {
		t.Errorf("GET %s = %+v, want team, private, auto_scan", projPath, p)
	}
	if _, err := a.CreateProject("team", nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("second CreateProject(team) = %v, want a 409", err)
	}

	if err := a.AddMember("team", "dev", 2); err != nil {
		t.Fatal(err)
	}
	var members []struct {
		EntityName string `json:"entity_name"`
		RoleID     int    `json:"role_id"`
	}
	if _, err := a.Call(0, "GET", "/projects/team/members?entityname=dev", nil, &members); err != nil {
		t.Fatal(err)
	}
	if len(members) != 1 || members[0].EntityName != "dev" || members[0].RoleID != 2 {
		t.Errorf("members of team named dev = %+v, want dev as developer (2)", members)
	}

	// The same credentials reach the registry through crane.
	repos, err := crane.Catalog(srv.Addr, a.CraneOptions(t, time.Minute)...)
	if err != nil || len(repos) != 0 {
		t.Errorf("catalog of a fresh berth = %q, %v; want empty", repos, err)
	}

	// A wrong password is refused, and Do reports the status, not an error.
	r, err := NewAdmin(srv.URL(), "wrong").Do("GET", "/users", nil)
	if err != nil || r.Status != http.StatusUnauthorized {
		t.Errorf("GET /users with a wrong password = %+v, %v; want 401", r, err)
	}
}

// TestServeExits reports a berth that ends during start-up as such.
func TestServeExits(t *testing.T) {
	work := t.TempDir()
	sh := filepath.Join(work, "berth")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho bad flag >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Serve(sh, ServeOptions{DataDir: work, LogPath: filepath.Join(work, "log")})
	se, ok := AsStartError(err)
	if !ok || !se.Exited {
		t.Fatalf("Serve of a program that exits = %v, want a *StartError with Exited", err)
	}
	if got := Tail(filepath.Join(work, "log"), 1); got != "bad flag" {
		t.Errorf("log = %q, want the program's output", got)
	}
}
