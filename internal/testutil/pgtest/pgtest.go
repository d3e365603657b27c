// Package pgtest gives tests a fresh, empty PostgreSQL database on a real
// server. It uses the server named by BERTH_TEST_POSTGRES (a superuser DSN)
// when set, and otherwise starts one private throwaway cluster per test
// binary from the PostgreSQL binaries installed on the machine. It never
// skips: a test that asks for PostgreSQL fails when there is none, because
// PostgreSQL tests must run in every `make test`.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvDSN names the environment variable holding the DSN of an existing
// server on which tests may create and drop databases.
const EnvDSN = "BERTH_TEST_POSTGRES"

// server is the PostgreSQL server the test binary uses.
type server struct {
	base    *url.URL // admin DSN; each test database swaps the path
	admin   *sql.DB
	cluster *cluster // nil when the server is external
}

// The server is shared by every test of the binary, started on first use
// and stopped by Main. This is test-harness state, not application state.
var (
	mu     sync.Mutex
	shared *server
)

// DSN returns the DSN of a new, empty database that is dropped when the
// test ends. The test fails at once if no server is available.
func DSN(t testing.TB) string {
	t.Helper()
	s, err := get()
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL is required and unavailable: %v\n"+
			"(set %s to a superuser DSN, or install the PostgreSQL server binaries under /usr/lib/postgresql)", err, EnvDSN)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "berth_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u := *s.base
	u.Path = "/" + name
	return u.String()
}

// get returns the shared server, starting it on first use. A failure is
// not remembered, so each test reports it in its own words.
func get() (*server, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared, nil
	}
	s := &server{}
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		c, err := startCluster()
		if err != nil {
			return nil, err
		}
		s.cluster = c
		dsn = c.dsn()
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		s.stop()
		return nil, fmt.Errorf("%s must be a postgres:// URL, got %q", EnvDSN, dsn)
	}
	s.base = u
	s.admin, err = sql.Open("pgx", dsn)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("open %s: %w", redact(u), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin.PingContext(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("connect to %s: %w", redact(u), err)
	}
	shared = s
	return s, nil
}

func (s *server) stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cluster != nil {
		return s.cluster.stop()
	}
	return nil
}

// redact hides the password of u for messages.
func redact(u *url.URL) string { return u.Redacted() }

// Main runs the tests and then stops the private cluster, if one was
// started, and removes its files. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

// Stop stops the shared server and removes its files, for a TestMain
// that uses several such helpers and so cannot hand m to one Main.
func Stop() error {
	mu.Lock()
	s := shared
	shared = nil
	mu.Unlock()
	if s == nil {
		return nil
	}
	if err := s.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stop PostgreSQL: %v\n", err)
		return err
	}
	return nil
}
