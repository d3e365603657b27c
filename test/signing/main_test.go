// Package signing proves content trust end to end: a berth binary with
// authentication on, the real cosign client signing, attesting and
// verifying through it, and Notation signatures built by the test from
// the Notary Project specification (JWS envelope, test CA chain), pushed
// as OCI 1.1 referrers. It owns no registry logic.
//
// cosign is the one tools/interop/go.mod pins, built into .tmp/tools by
// scripts/test.sh (or here, when missing).
//
// Environment:
//
//	BERTH_BIN  use this berth binary instead of building ./cmd/berth
package signing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testutil/berthproc"
)

var env struct {
	registry string // host:port
	password string // admin's
	admin    *berthproc.Admin
	cosign   string // the cosign binary
	work     string
	berthLog string
}

func TestMain(m *testing.M) {
	berthproc.Main("signing", func(work string) (int, error) { return run(m, work) })
}

func run(m *testing.M, work string) (code int, err error) {
	defer func() {
		// Read before Main removes work, where the log is.
		if err != nil && env.berthLog != "" {
			err = fmt.Errorf("%w\n--- berth log:\n%s", err, berthproc.Tail(env.berthLog, 40))
		}
	}()
	env.work = work
	env.password = "Signing-Admin-" + randomHex(8)
	if env.cosign, err = cosignBinary(); err != nil {
		return 0, err
	}
	bin, err := berthproc.Binary(work, true)
	if err != nil {
		return 0, err
	}
	env.berthLog = filepath.Join(work, "berth.log")
	srv, err := berthproc.Serve(bin, berthproc.ServeOptions{
		Password: env.password, DataDir: filepath.Join(work, "data"), LogPath: env.berthLog})
	if err != nil {
		return 0, fmt.Errorf("berth did not become healthy: %v", err)
	}
	defer srv.Stop()
	env.registry = srv.Addr
	env.admin = srv.Admin()
	code = m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- berth log (last lines):\n%s\n", berthproc.Tail(env.berthLog, 30))
	}
	return code, nil
}

// cosignBinary is .tmp/tools/cosign, built from tools/interop's pin when
// it is missing.
func cosignBinary() (string, error) {
	root := berthproc.RepoRoot()
	out := filepath.Join(root, ".tmp", "tools")
	bin := filepath.Join(out, "cosign")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out+string(filepath.Separator), "github.com/sigstore/cosign/v3/cmd/cosign")
	cmd.Dir = filepath.Join(root, "tools", "interop")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build cosign in tools/interop: %w\n%s", err, b)
	}
	return bin, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
