package tlse2e

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/dockertest"
)

// dockerCertsDir is where dockerd looks for a registry's CA; it is fixed
// in the daemon (not a flag), so the test writes there and cleans up.
const dockerCertsDir = "/etc/docker/certs.d"

var (
	pushDigestRE = regexp.MustCompile(`(?m)^v1: digest: (sha256:[0-9a-f]{64}) size: \d+`)
	pullDigestRE = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})`)
)

// TestDockerTrustsCA runs berth with its generated certificate on an
// address of a network namespace made for the test (docker exempts
// loopback registries from certificate checks, so 127.0.0.1 would prove
// nothing). The docker daemon refuses to log in and push until berth's
// CA is in certs.d/<host:port>/ca.crt, then logs in, pushes and pulls.
func TestDockerTrustsCA(t *testing.T) {
	if os.Getenv("BERTH_SKIP_DOCKER") == "1" {
		t.Skip("BERTH_SKIP_DOCKER=1: local iteration only; never set in CI")
	}
	if os.Geteuid() != 0 {
		t.Fatal("needs root: it creates a network namespace and writes " + dockerCertsDir)
	}
	nsIP := netns(t)
	b := startBerth(t, berthOpts{name: "docker", netns: nsName(nsIP), addr: nsIP + ":5443"})
	registry, password := b.addr, b.password
	caPEM := fetchCA(t, "https://"+registry+"/api/v2.0/systeminfo/getcert")
	denv := dockerDaemon(t)

	ref := registry + "/library/tls-docker:v1"
	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	writeRootfs(t, rootfs)
	mustRun(t, cmdTimeout, denv, "", "docker", "import", rootfs, ref)
	t.Cleanup(func() {
		_ = run(cmdTimeout, denv, "", "docker", "rmi", "--force", ref)
		_ = run(cmdTimeout, denv, "", "docker", "logout", registry)
	})

	// Not trusted yet: the daemon itself refuses the certificate.
	untrusted := []string{"x509", "certificate signed by unknown authority"}
	r := mustFail(t, cmdTimeout, denv, password+"\n", untrusted,
		"docker", "login", registry, "--username", "admin", "--password-stdin")
	t.Logf("docker login without the CA: %s", strings.TrimSpace(r.stderr))
	r = mustFail(t, cmdTimeout, denv, "", untrusted, "docker", "push", ref)
	t.Logf("docker push without the CA: %s", strings.TrimSpace(r.stderr))

	// Trusted: the CA from berth in certs.d/<host:port>/ca.crt.
	trustCA(t, registry, caPEM)
	r = mustRun(t, cmdTimeout, denv, password+"\n", "docker", "login", registry, "--username", "admin", "--password-stdin")
	if !strings.Contains(r.stdout, "Login Succeeded") {
		t.Errorf("docker login printed:\n%s", r)
	}
	r = mustRun(t, cmdTimeout, denv, "", "docker", "push", ref)
	m := pushDigestRE.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", r)
	}
	pushed := m[1]
	mustRun(t, cmdTimeout, denv, "", "docker", "rmi", ref)
	r = mustRun(t, cmdTimeout, denv, "", "docker", "pull", ref)
	if m := pullDigestRE.FindStringSubmatch(r.stdout); m == nil || m[1] != pushed {
		t.Fatalf("docker pull: want digest %s, got:\n%s", pushed, r)
	}
}

// netns creates a network namespace joined to this one by a veth pair
// on a free 10.x.y.0/30, and returns the namespace's address; nsName
// gives its name. Both are removed when the test ends.
func netns(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("the ip command (Debian package iproute2) is needed to create a network namespace")
	}
	used := mustRun(t, cmdTimeout, os.Environ(), "", "ip", "-4", "-o", "addr").stdout +
		mustRun(t, cmdTimeout, os.Environ(), "", "ip", "-4", "route").stdout
	var prefix string
	for range 50 {
		b := make([]byte, 2)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("10.%d.%d.", 100+int(b[0])%100, b[1])
		if !strings.Contains(used, p) {
			prefix = p
			break
		}
	}
	if prefix == "" {
		t.Fatal("no free 10.x.y.0/30 for the test network")
	}
	hostIP, nsIP := prefix+"1", prefix+"2"
	name := nsName(nsIP)
	suffix := strings.TrimPrefix(name, "berth-tls-")
	hostIf, nsIf := "bt"+suffix+"h", "bt"+suffix+"n"

	ip := func(args ...string) {
		t.Helper()
		r := run(cmdTimeout, os.Environ(), "", "ip", args...)
		if r.err != nil {
			t.Fatalf("ip %s (network namespaces need root and CAP_NET_ADMIN):\n%s", strings.Join(args, " "), r)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() {
		if r := run(cmdTimeout, os.Environ(), "", "ip", "netns", "del", name); r.err != nil {
			t.Errorf("ip netns del %s:\n%s", name, r)
		}
	})
	ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	t.Cleanup(func() {
		// Gone already when the namespace went first; that is fine.
		_ = run(cmdTimeout, os.Environ(), "", "ip", "link", "del", hostIf)
	})
	ip("link", "set", nsIf, "netns", name)
	ip("addr", "add", hostIP+"/30", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("-n", name, "addr", "add", nsIP+"/30", "dev", nsIf)
	ip("-n", name, "link", "set", nsIf, "up")
	ip("-n", name, "link", "set", "lo", "up")
	return nsIP
}

// nsName is the namespace of the test network whose berth address is
// nsIP: one name per network, so that parallel runs do not collide.
func nsName(nsIP string) string {
	var a, b, c, d int
	fmt.Sscanf(nsIP, "%d.%d.%d.%d", &a, &b, &c, &d)
	return fmt.Sprintf("berth-tls-%02x%02x%02x", b, c, d&^3)
}

// trustCA writes the CA where dockerd looks for registry's CA, and
// removes it (and directories the test made) when the test ends.
func trustCA(t *testing.T, registry string, caPEM []byte) {
	t.Helper()
	dir := filepath.Join(dockerCertsDir, registry)
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		made = append(made, d)
	}
	t.Cleanup(func() {
		for _, d := range made { // deepest first
			if err := os.RemoveAll(d); err != nil {
				t.Errorf("remove %s: %v", d, err)
			}
		}
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dockerDaemon returns the environment for the docker CLI: the daemon of
// BERTH_TEST_DOCKER_HOST, or a private one stopped when the test ends, and
// a private DOCKER_CONFIG so that logins stay in the test.
func dockerDaemon(t *testing.T) []string {
	t.Helper()
	host, stop, err := dockertest.Daemon("berth-tlse2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop dockerd: %v", err)
		}
	})
	return append(os.Environ(), "DOCKER_HOST="+host, "DOCKER_CONFIG="+t.TempDir())
}

// writeRootfs writes a tar of one file for `docker import`.
func writeRootfs(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("pushed over HTTPS by " + t.Name() + " at " + time.Now().String() + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
