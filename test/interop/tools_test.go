package interop

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// clients are the rows of the matrix, in order. pkg is the main package of
// a Go client pinned in tools/interop/go.mod; the others come from the
// machine (docker, skopeo) or from berth's own go.mod (crane, used as a
// library as in test/e2e).
var clients = []struct{ name, pkg string }{
	{"docker", ""},
	{"skopeo", ""},
	{"crane", ""},
	{"regctl", "github.com/regclient/regclient/cmd/regctl"},
	{"oras", "oras.land/oras/cmd/oras"},
	{"helm", "helm.sh/helm/v4/cmd/helm"},
	{"cosign", "github.com/sigstore/cosign/v3/cmd/cosign"},
}

// toolBuildTimeout bounds the build of the Go clients; cold, cosign and
// helm take minutes on a two-core machine.
const toolBuildTimeout = 20 * time.Minute

// buildTools builds the Go clients into .tmp/tools/ with the versions
// tools/interop/go.mod pins, in one `go build` so that shared packages
// compile once. A binary newer than that go.mod and go.sum is reused.
func buildTools() (map[string]string, error) {
	modDir := filepath.Join(repoRoot(), "tools", "interop")
	outDir := filepath.Join(repoRoot(), ".tmp", "tools")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var pinned time.Time
	for _, f := range []string{"go.mod", "go.sum"} {
		fi, err := os.Stat(filepath.Join(modDir, f))
		if err != nil {
			return nil, fmt.Errorf("tools module: %w", err)
		}
		if fi.ModTime().After(pinned) {
			pinned = fi.ModTime()
		}
	}

	bins := map[string]string{}
	var stale []string
	for _, c := range clients {
		if c.pkg == "" {
			continue
		}
		bin := filepath.Join(outDir, c.name)
		bins[c.name] = bin
		if fi, err := os.Stat(bin); err != nil || !fi.ModTime().After(pinned) {
			stale = append(stale, c.pkg)
		}
	}
	if len(stale) == 0 {
		return bins, nil
	}

	start := time.Now()
	fmt.Fprintf(os.Stderr, "interop: building %s into %s\n", strings.Join(stale, " "), outDir)
	ctx, cancel := context.WithTimeout(context.Background(), toolBuildTimeout)
	defer cancel()
	// The trailing slash makes -o a directory: each binary is named
	// after its package.
	args := append([]string{"build", "-o", outDir + string(filepath.Separator)}, stale...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build in tools/interop: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "interop: built the clients in %s\n", time.Since(start).Round(time.Second))
	return bins, nil
}

// clientVersions says which version of each client ran: for Go clients
// the module version recorded in the binary, for crane the
// go-containerregistry version in berth's go.mod, for docker and skopeo
// what they print.
func clientVersions() map[string]string {
	v := map[string]string{}
	for _, c := range clients {
		if bin, ok := env.tools[c.name]; ok {
			v[c.name] = moduleVersion(bin)
		}
	}
	v["crane"] = "go-containerregistry " + goModVersion("github.com/google/go-containerregistry")
	if out, err := exec.Command("skopeo", "--version").Output(); err == nil {
		v["skopeo"] = strings.TrimPrefix(strings.TrimSpace(string(out)), "skopeo version ")
	} else {
		v["skopeo"] = "unavailable: " + err.Error()
	}
	if env.dockerHost == "" {
		v["docker"] = "not run (BERTH_SKIP_DOCKER=1)"
	} else if dv, err := dockerVersion(); err == nil {
		v["docker"] = dv
	} else {
		v["docker"] = "unavailable: " + err.Error()
	}
	return v
}

// goModVersion is the version of module in berth's go.mod (test binaries
// carry no module versions of their own).
func goModVersion(module string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Version}}", module)
	cmd.Dir = repoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

// moduleVersion is the version of the module that holds bin's main
// package, as `go version -m` shows it.
func moduleVersion(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown: " + err.Error()
	}
	return bi.Main.Version
}

// dockerVersion is "CLI <version>, daemon <version>".
func dockerVersion() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "version", "--format", "CLI {{.Client.Version}}, daemon {{.Server.Version}}")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.dockerHost)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker version: %w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}
