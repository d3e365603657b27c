// Package ldape2e proves LDAP login with the real docker CLI: a berth
// binary in ldap_auth mode over a real slapd, a `docker login` as a
// directory user and a push that the user's LDAP group allows. See
// test/e2e for the environment variables (BERTH_BIN,
// BERTH_TEST_DOCKER_HOST).
package ldape2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
	"github.com/berth-registry/berth/internal/testutil/dockertest"
	"github.com/berth-registry/berth/internal/testutil/ldaptest"
)

const (
	adminPassword = "Ldap-E2e-Admin-1"
	cmdTimeout    = 3 * time.Minute
)

var pushDigestRE = regexp.MustCompile(`(?m)^\S+: digest: (sha256:[0-9a-f]{64}) size: \d+`)

func TestDockerLoginAndPushAsLDAPUser(t *testing.T) {
	work := t.TempDir()
	dir := ldaptest.Start(t)
	alice := dir.AddUser(t, "alice", "Alice-pw-1")
	dir.AddUser(t, "carol", "Carol-pw-1")
	dir.AddGroup(t, "developers", alice)

	srv := startBerth(t, work)
	registry, admin := srv.Addr, srv.Admin()
	must(t, admin, 200, "PUT", "/configurations", map[string]any{
		"auth_mode":            "ldap_auth",
		"ldap_url":             dir.URL,
		"ldap_start_tls":       true,
		"ldap_ca_cert":         string(dir.CAPEM),
		"ldap_search_dn":       ldaptest.SearchDN,
		"ldap_search_password": dir.SearchPassword,
		"ldap_base_dn":         ldaptest.PeopleDN,
		"ldap_uid":             "uid",
		"ldap_group_base_dn":   ldaptest.GroupsDN,
	}, nil)
	if _, err := admin.CreateProject("ldapteam", nil); err != nil {
		t.Fatal(err)
	}
	must(t, admin, 201, "POST", "/projects/ldapteam/members", map[string]any{"role_id": 2, // developer
		"member_group": map[string]any{"group_type": 1, "ldap_group_dn": ldaptest.GroupDN("developers")}}, nil)

	host, stop, err := dockertest.Daemon("berth-ldape2e")
	if err != nil {
		t.Fatalf("docker: %v", err)
	}
	t.Cleanup(func() { stop() })
	cfgDir := filepath.Join(work, "docker-config")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	denv := append(os.Environ(), "DOCKER_HOST="+host, "DOCKER_CONFIG="+cfgDir)
	ref := registry + "/ldapteam/hello:v1"
	rootfs := filepath.Join(work, "rootfs.tar")
	writeRootfs(t, rootfs)
	t.Cleanup(func() {
		_, _ = run(denv, "", "docker", "rmi", "--force", ref)
		_, _ = run(denv, "", "docker", "logout", registry)
	})
	mustRun(t, denv, "", "docker", "import", rootfs, ref)

	if out, err := run(denv, "wrong\n", "docker", "login", registry, "--username", "alice", "--password-stdin"); err == nil {
		t.Fatalf("docker login with a wrong password succeeded:\n%s", out)
	}
	// carol is in the directory but not in developers: she may log in,
	// not push.
	mustRun(t, denv, "Carol-pw-1\n", "docker", "login", registry, "--username", "carol", "--password-stdin")
	if out, err := run(denv, "", "docker", "push", ref); err == nil {
		t.Fatalf("carol pushed to ldapteam:\n%s", out)
	} else if !strings.Contains(strings.ToLower(out), "denied") {
		t.Fatalf("carol's push failed, but not as denied:\n%s", out)
	}
	mustRun(t, denv, "Alice-pw-1\n", "docker", "login", registry, "--username", "alice", "--password-stdin")
	out := mustRun(t, denv, "", "docker", "push", ref)
	m := pushDigestRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", out)
	}
	// The image is there.
	var arts []struct{ Digest string }
	must(t, admin, 200, "GET", "/projects/ldapteam/repositories/hello/artifacts", nil, &arts)
	if len(arts) != 1 || arts[0].Digest != m[1] {
		t.Errorf("artifacts of ldapteam/hello = %+v, want %s", arts, m[1])
	}
}

// startBerth runs berth with TLS off on a free loopback port; the test's
// cleanup stops it.
func startBerth(t *testing.T, work string) *berthproc.Server {
	t.Helper()
	bin, err := berthproc.Binary(work, true)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(work, "berth.log")
	srv, err := berthproc.Serve(bin, berthproc.ServeOptions{
		Password: adminPassword, DataDir: filepath.Join(work, "data"), LogPath: logPath})
	if err != nil {
		t.Fatalf("berth did not become healthy: %v\n%s", err, berthproc.Tail(logPath, 40))
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("berth log, last lines:\n%s", berthproc.Tail(logPath, 40))
		}
	})
	return srv
}

// must sends one admin request that must answer status, and decodes the
// answer into out unless out is nil.
func must(t *testing.T, admin *berthproc.Admin, status int, method, path string, body, out any) {
	t.Helper()
	if _, err := admin.Call(status, method, path, body, out); err != nil {
		t.Fatal(err)
	}
}

// run runs a command and returns its output, stdout then stderr.
func run(env []string, stdin string, name string, args ...string) (string, error) {
	out, err := berthproc.Cmd{Argv: append([]string{name}, args...), Env: env, Stdin: stdin, Timeout: cmdTimeout}.Run()
	return out.Stdout + out.Stderr, err
}

func mustRun(t *testing.T, env []string, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := run(env, stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// writeRootfs writes a one-file tar for `docker import`.
func writeRootfs(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("hello from an LDAP user\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
